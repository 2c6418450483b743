"""Constants of the live runtime, with their units.

Commands expose the ones a user may want to change as options; the rest are
here so that no number hides in the code.
"""

import dataclasses
import os

from soundscope.configs.fields import flag

# Windows (the article classifies every 5-7 s).
MIN_WINDOW_SECONDS = 5.0        # A window is handed to the classifier once it holds this much.
MAX_WINDOW_SECONDS = 7.0        # Past this, while the classifier is busy, the oldest audio is dropped (overrun).
MIN_FINAL_WINDOW_SECONDS = 1.0  # At the end of a bounded capture, a shorter remainder is still classified.
BLOCK_SECONDS = 0.1             # PortAudio delivers audio in blocks of this length (frames_per_buffer).
CAPTURE_CHANNELS = 1            # Channels captured by default (mixed to mono anyway).
SAMPLE_WIDTH_BYTES = 2          # 16-bit signed PCM, as the article captured and saved.
INT16_SCALE = 32768.0           # int16 / 32768 -> float in [-1, 1), as the VGGish reference reads wav files.
WARM_UP_RATE_HZ = 44100         # Rate warmed up when the device's own rate is not known yet.
MAX_QUEUED_BLOCKS = 600         # Blocks buffered between PortAudio's thread and ours (60 s at BLOCK_SECONDS).

MAX_FAILURES_IN_A_ROW = 3       # Windows that fail to save or classify before the loop gives up.
BLAS_THREADS = 1                # While monitoring: a window's matrix products are small.

# Output.
RECORD_FILE_PATTERN = "record_{stamp}.wav"     # stamp: UTC, e.g. 20261126T170501.123Z.
RECORD_TAKEN_PATTERN = "record_{stamp}_{number}.wav"   # When that name is taken: number 2, 3, ...
RECORD_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"

# Web page.
DEFAULT_HOST = "127.0.0.1"      # Loopback: the page and its form are not exposed unless asked.
# Host headers a loopback-bound page answers (others: 400), so that a web site
# cannot reach it through DNS rebinding (its own name resolving to 127.0.0.1).
LOOPBACK_HOST_NAMES = ("127.0.0.1", "localhost", "[::1]")
DEFAULT_PORT = 8000
MIN_PORT, MAX_PORT = 1, 65535   # TCP ports a server URL may name; --port also takes 0 (any free).
EVENTS_PAGE_COUNT = 10          # /events shows the last ten predictions, as the seed did.
EVENT_HISTORY = 100             # Predictions kept in memory for /api/events.
SSE_KEEPALIVE_SECONDS = 15.0    # Comment lines keep proxies from closing an idle event stream.
SSE_STATUS_SECONDS = 1.0        # How often the page is checked for a new DeviceHive status.
SUBSCRIBER_QUEUE = 100          # Events buffered per connected page; a stuck page loses the oldest.

# DeviceHive.
DEFAULT_NOTIFICATION_NAME = "audio_analysis"
DEFAULT_DEVICE_NAME = "soundscope"
REST_SCHEMES = ("http", "https")            # Server URLs of DeviceHive's REST API ...
WEBSOCKET_SCHEMES = ("ws", "wss")           # ... and of its WebSocket API.
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
HTTP_TIMEOUT_SECONDS = 10.0
TOKEN_REFRESH_MARGIN_SECONDS = 30.0   # Refresh an access token this long before it expires.
BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 60.0
BACKOFF_FACTOR = 2.0
OUTBOX_MAX_NOTIFICATIONS = 10000      # ~14 h of 5 s windows; past it the oldest are dropped and counted.
DRAIN_TIMEOUT_SECONDS = 5.0           # On stop, how long to keep delivering before leaving the rest on disk.

# Files.
CONFIG_FILE = "devicehive.json"       # Written with mode 0600: it holds the refresh token or password.
OUTBOX_FILE = "outbox.sqlite3"


STATE_DIR_ENV = "SOUNDSCOPE_STATE_DIR"


def default_state_dir():
  """Where the configuration and the outbox live: $SOUNDSCOPE_STATE_DIR or ~/.config/soundscope."""
  return os.environ.get(STATE_DIR_ENV) or os.path.join(
      os.path.expanduser("~"), ".config", "soundscope")


@dataclasses.dataclass(frozen=True)
class CaptureOptions:
  """How `soundscope capture` and `serve` capture audio (their shared flags).

  Attributes:
    min_time: classify once a window holds this much audio, seconds.
    max_time: the longest window, seconds: past it, while the classifier is
      busy, the oldest audio is dropped and counted (an overrun).
    save_path: folder for every window as a 16-bit 16 kHz wav, or None.
    device: input device index or name; None: the system's default input.
    list_devices: list the audio devices and exit.
    rate: capture rate, Hz; None: the device's own.
    channels: channels captured, mixed to mono.
    duration: stop after this much audio, seconds; None: until Ctrl-C or SIGTERM.
  """
  min_time: float = dataclasses.field(default=MIN_WINDOW_SECONDS, metadata=flag(
      "--min-time", "classify once a window holds this much audio", unit="s",
      metavar="SECONDS"))
  max_time: float = dataclasses.field(default=MAX_WINDOW_SECONDS, metadata=flag(
      "--max-time", "longest window: past it, while the classifier is busy, the oldest "
      "audio is dropped and counted", unit="s", metavar="SECONDS"))
  save_path: str = dataclasses.field(default=None, metadata=flag(
      "--save-path", "save every window as a 16-bit 16 kHz wav record_<UTC>.wav here, "
      "before classifying it", metavar="DIR"))
  device: str = dataclasses.field(default=None, metadata=flag(
      "--device", "input device index or name (default: the system's default input)",
      metavar="N|NAME"))
  list_devices: bool = dataclasses.field(default=False, metadata=flag(
      "--list-devices", "list the audio devices and exit"))
  rate: int = dataclasses.field(default=None, metadata=flag(
      "--rate", "capture rate (default: the device's own); resampled to 16 kHz", unit="Hz",
      metavar="HZ"))
  channels: int = dataclasses.field(default=CAPTURE_CHANNELS, metadata=flag(
      "--channels", "channels to capture, mixed to mono", metavar="N"))
  duration: float = dataclasses.field(default=None, metadata=flag(
      "--duration", "stop after this much audio (default: run until Ctrl-C or SIGTERM)",
      unit="s", metavar="SECONDS"))

  def __post_init__(self):
    for name in ("min_time", "max_time", "duration"):
      value = getattr(self, name)
      if value is not None and not value > 0:
        raise ValueError(f"{name} must be positive, not {value}")
    if self.min_time > self.max_time:
      raise ValueError(f"min_time ({self.min_time}) is greater than max_time ({self.max_time})")
    if self.channels < 1:
      raise ValueError(f"channels must be at least 1, not {self.channels}")
    if self.rate is not None and self.rate <= 0:
      raise ValueError(f"rate must be positive, not {self.rate}")
