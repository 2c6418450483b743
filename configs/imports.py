"""How soundscope's processes import TensorFlow (models/tensorflow_import.py) and Beam
(pipelines/beam_import.py).

`import tensorflow` (2.21) imports all of Keras 3, and Keras imports these
optional integrations whenever they are installed: scikit-learn for its estimator
wrappers, matplotlib for its image-gallery plots.  soundscope uses neither, so
TensorFlow's first import in a soundscope process runs with them marked absent:
4.7 s for the import with both installed against 3.3-3.6 s without (median of
six fresh processes each, 2-core AMD EPYC, TensorFlow 2.21, Keras 3.15).
"""

# Top-level modules that cannot be imported while TensorFlow is first imported.
ABSENT_DURING_TENSORFLOW_IMPORT = ("sklearn", "matplotlib")

# Top-level modules that cannot be imported while Beam is first imported.  Beam imports
# pandas whenever it is installed (to register converters for its DataFrame API), and
# pyarrow at its first conversion of Python objects; soundscope's pipelines use neither.
# `import apache_beam` took 0.86-0.95 s with pandas 3.1 installed against 0.52-0.58 s
# without (three fresh processes each, 2-core AMD EPYC, Beam 2.77).
ABSENT_DURING_BEAM_IMPORT = ("pandas",)

# Packages whose first import runs with Python's cyclic garbage collector paused
# (soundscope/util/collector.py): the collector went over their import-time objects
# again and again while they were made.  `import apache_beam, pyarrow.parquet`:
# 0.98-1.13 s with it, 0.86-0.95 s without; `import tensorflow` 4.6-4.9 s against
# 3.9-4.0 s (fresh processes, 2-core AMD EPYC).
COLLECTOR_PAUSED_DURING_IMPORT = ("apache_beam", "tensorflow", "distributed", "pyarrow")
