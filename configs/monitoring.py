"""Constants of continuous monitoring (issue 21): levels, live events, sources, sinks.

Each with its unit.  The live loop (runtime/loop.py), the sources
(runtime/sources.py, runtime/ffmpeg.py) and the sinks (runtime/sinks.py,
runtime/mqtt.py) read them; commands expose some as options.
"""

# Levels (transforms/levels.py).
LEVEL_FLOOR_DBFS = -120.0     # Silence reads this instead of -inf, dBFS (1 LSB of 16 bits: -90.3).
