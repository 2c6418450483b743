"""Constants and options of continuous monitoring (issue 21), each with its unit.

Sources (runtime/sources.py, runtime/ffmpeg.py), live events and rules
(runtime/live_events.py, runtime/rules.py), levels (transforms/levels.py) and
the MQTT and JSON-lines sinks (runtime/mqtt.py, runtime/sinks.py) read them;
`capture` and `serve` expose MonitoringOptions as flags (soundscope/cli/live.py).
"""

import dataclasses

from soundscope.configs.fields import flag

# Levels (transforms/levels.py).
LEVEL_FLOOR_DBFS = -120.0     # Silence reads this instead of -inf, dBFS (1 LSB of 16 bits: -90.3).

# Sources.
INPUT_DEVICE = "device"                 # --input's default: the PortAudio device of --device.
INPUT_STDIN = "-"                       # --input -: WAV or raw PCM on standard input.
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "icecast", "udp", "tcp", "srt")
ICECAST_SCHEME = "icecast"              # icecast://host/mount is read as http://host/mount.
RAW_FORMATS = {"s16le": "<i2", "s32le": "<i4", "f32le": "<f4"}   # --input-format -> numpy dtype.
NETWORK_RATE_HZ = 16000                 # ffmpeg decodes network streams straight to the models' rate.
FFMPEG = "/usr/bin/ffmpeg"              # Debian's ffmpeg; $SOUNDSCOPE_FFMPEG overrides.
FFMPEG_PROBE_BYTES = 32768              # ffmpeg's -probesize: its default (5 MB) delays a stream's
                                        # first audio by seconds; 32 kB finds WAV, MP3, AAC, Opus.
STREAM_OPEN_SECONDS = 15.0              # The first audio of a network stream must come within this.
STREAM_STALL_SECONDS = 5.0              # No audio for this long: the stream is stalled, reconnect.
RECONNECT_INITIAL_SECONDS = 0.5         # Reconnection backoff: first wait, seconds ...
RECONNECT_MAX_SECONDS = 30.0            # ... doubling up to this.
STREAM_READ_BYTES = 3200                # One read from ffmpeg's pipe: 0.1 s of 16 kHz mono 16-bit.
STREAM_QUEUE_BLOCKS = 600               # Blocks waiting for the capture thread (~60 s of reads).

# Clock.
MAX_CLOCK_DRIFT_SECONDS = 2.0           # A live window's UTC end may stray this far from the wall
                                        # clock; beyond it the clock is reset to the wall clock.
CLOCK_SCALE_TOLERANCE_SECONDS = 0.001   # A window whose UTC span differs from its audio's length
                                        # by more (squeezed onto the wall clock) has its audio's
                                        # times scaled onto its UTC span (runtime/windows.AudioClock).

# Live events.
WINDOW_MEMORY = 2000                    # Capture windows remembered for event times and saved audio.

# DeviceHive (the windows' notification name is configs.runtime.DEFAULT_NOTIFICATION_NAME).
DEVICEHIVE_EVENT_NOTIFICATION = "audio_event"

# MQTT.
MQTT_DEFAULT_PORT = 1883
MQTT_QOS = 1                            # At least once; the outbox and paho's queue keep the order.
MQTT_KEEPALIVE_SECONDS = 15
MQTT_RECONNECT_MIN_SECONDS = 0.5
MQTT_RECONNECT_MAX_SECONDS = 10.0
MQTT_OUTBOX_FILE = "mqtt-outbox-{key}.sqlite3"   # One per destination; key: 12 hex digits of
                                        # the SHA-256 of runtime/mqtt.destination().
MQTT_OUTBOX_MAX_MESSAGES = 10000        # Undelivered messages kept; past it the oldest are dropped.
MQTT_DISCOVERY_PREFIX = "homeassistant"
MQTT_DEFAULT_PREFIX = "soundscope"
MQTT_PAYLOAD_ON, MQTT_PAYLOAD_OFF = "ON", "OFF"
MQTT_ONLINE, MQTT_OFFLINE = "online", "offline"
MQTT_USERNAME_ENV = "SOUNDSCOPE_MQTT_USERNAME"
MQTT_PASSWORD_ENV = "SOUNDSCOPE_MQTT_PASSWORD"
MQTT_FIRST_CONNECT_SECONDS = 3.0       # At the start, the broker's first answer is awaited this long.
MQTT_ACK_WAIT_SECONDS = 0.5             # The courier checks a publication's acknowledgement this often.


@dataclasses.dataclass(frozen=True)
class MonitoringOptions:
  """What `capture` and `serve` read and where their events go (their shared flags).

  Attributes:
    input: 'device' (PortAudio, --device), a file path, '-' (stdin) or a
      network stream URL (rtsp://, http(s)://, icecast://...).
    realtime: pace a file at real time (default: as fast as it decodes).
    input_rate, input_channels, input_format: raw PCM on stdin (Hz, channels,
      s16le|s32le|f32le); a WAV on stdin needs none of them.
    events: print each event's start and end on the console.
    notify_windows: every window to DeviceHive, MQTT and --jsonl too (default:
      events only).
    rules: a rules YAML file (per-label threshold, cooldown, sinks; docs/monitoring.md).
    gate_dbfs: windows quieter (RMS) than this count as silent for events, dBFS.
    cooldown: after an event of a label, one starting sooner than this is not
      announced, seconds.
    mqtt: mqtt://host[:port][/prefix] broker to publish to.
    mqtt_password_file: a file whose first line is the MQTT password.
    mqtt_node: the node id in MQTT topics and Home Assistant discovery.
    jsonl: append events (and windows with notify_windows) to this file as JSON lines.
  """
  input: str = dataclasses.field(default=INPUT_DEVICE, metadata=flag(
      "--input", "audio source: 'device' (PortAudio, see --device), a file, '-' for WAV or "
      "raw PCM on stdin, or a stream URL (rtsp://, http(s)://, icecast://) read by ffmpeg",
      metavar="SOURCE"))
  realtime: bool = dataclasses.field(default=False, metadata=flag(
      "--realtime", "read an --input file at real time (default: as fast as possible)"))
  input_rate: int = dataclasses.field(default=None, metadata=flag(
      "--input-rate", "raw PCM on stdin: its sample rate", unit="Hz", metavar="HZ"))
  input_channels: int = dataclasses.field(default=1, metadata=flag(
      "--input-channels", "raw PCM on stdin: its channels", metavar="N"))
  input_format: str = dataclasses.field(default="s16le", metadata=flag(
      "--input-format", "raw PCM on stdin: its sample format", choices=tuple(RAW_FORMATS)))
  events: bool = dataclasses.field(default=False, metadata=flag(
      "--events", "print each sound event's start and end on the console"))
  notify_windows: bool = dataclasses.field(default=False, metadata=flag(
      "--notify-windows", "send every window to DeviceHive, MQTT and --jsonl too (default: "
      "sound events only)"))
  rules: str = dataclasses.field(default=None, metadata=flag(
      "--rules", "per-label event rules: threshold, cooldown, sinks (docs/monitoring.md)",
      metavar="FILE"))
  gate_dbfs: float = dataclasses.field(default=None, metadata=flag(
      "--gate-dbfs", "model windows quieter (RMS) than this never start or extend an event",
      unit="dBFS", metavar="DB"))
  cooldown: float = dataclasses.field(default=0.0, metadata=flag(
      "--cooldown", "an event starting this soon after the previous one of its label is "
      "not announced", unit="s", metavar="SECONDS"))
  mqtt: str = dataclasses.field(default=None, metadata=flag(
      "--mqtt", "publish events to this MQTT broker, mqtt://host[:port][/prefix] (user and "
      f"password from ${MQTT_USERNAME_ENV} and ${MQTT_PASSWORD_ENV})", metavar="URL"))
  mqtt_password_file: str = dataclasses.field(default=None, metadata=flag(
      "--mqtt-password-file", f"the MQTT password: this file's first line (default "
      f"${MQTT_PASSWORD_ENV})", metavar="FILE"))
  mqtt_node: str = dataclasses.field(default="soundscope", metadata=flag(
      "--mqtt-node", "node id in MQTT topics and Home Assistant discovery", metavar="ID"))
  jsonl: str = dataclasses.field(default=None, metadata=flag(
      "--jsonl", "append events (and windows with --notify-windows) to FILE as JSON lines",
      metavar="FILE"))

  def __post_init__(self):
    if self.input_rate is not None and not self.input_rate > 0:
      raise ValueError(f"input_rate must be positive, not {self.input_rate}")
    if not self.input_channels >= 1:
      raise ValueError(f"input_channels must be at least 1, not {self.input_channels}")
    if self.input_format not in RAW_FORMATS:
      raise ValueError(f"input_format must be one of {', '.join(RAW_FORMATS)}")
    if not self.cooldown >= 0:
      raise ValueError(f"cooldown must be at least 0 s, not {self.cooldown}")
    if self.gate_dbfs is not None and not LEVEL_FLOOR_DBFS <= self.gate_dbfs <= 0:
      raise ValueError(f"gate_dbfs must be in [{LEVEL_FLOOR_DBFS:g}, 0] dBFS, not "
                       f"{self.gate_dbfs}")
    if not self.mqtt_node or not all(c.isalnum() or c in "_-" for c in self.mqtt_node):
      raise ValueError(f"mqtt_node must be letters, digits, '_' or '-', not {self.mqtt_node!r}")
