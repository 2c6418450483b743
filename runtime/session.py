"""What `soundscope capture` and `soundscope serve` share: options, setup, clean stop."""

import argparse
import logging
import signal
import sys
import threading

from soundscope.configs import params as P
from soundscope.models import classifier as classifier_lib
from soundscope.runtime import capture as capture_lib
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import settings as S

log = logging.getLogger(__name__)


def _seconds(text):
  value = float(text)
  if value <= 0:
    raise argparse.ArgumentTypeError(f"must be positive, not {text}")
  return value


def add_arguments(parser):
  """The capture and model options of both commands."""
  group = parser.add_argument_group("capture")
  group.add_argument("--min-time", type=_seconds, default=S.MIN_WINDOW_SECONDS, metavar="SECONDS",
                     help="classify once a window holds this much audio (default %(default)s)")
  group.add_argument("--max-time", type=_seconds, default=S.MAX_WINDOW_SECONDS, metavar="SECONDS",
                     help="longest window: past it, while the classifier is busy, the oldest "
                          "audio is dropped and counted (default %(default)s)")
  group.add_argument("--save-path", metavar="DIR",
                     help="save every window as a 16-bit 16 kHz wav record_<UTC>.wav here, "
                          "before classifying it")
  group.add_argument("--device", metavar="N|NAME",
                     help="input device index or name (default: the system's default input)")
  group.add_argument("--list-devices", action="store_true",
                     help="list the audio devices and exit")
  group.add_argument("--rate", type=int, metavar="HZ",
                     help="capture rate (default: the device's own); resampled to 16 kHz")
  group.add_argument("--channels", type=int, default=1,
                     help="channels to capture, mixed to mono (default %(default)s)")
  group.add_argument("--duration", type=_seconds, metavar="SECONDS",
                     help="stop after this much audio (default: run until Ctrl-C or SIGTERM)")
  model = parser.add_argument_group("model")
  classifier_lib.add_arguments(model)
  P.add_resample_filter_argument(model)   # The live windows' only front-end choice.
  return parser


def check_arguments(args):
  """Returns an error message for inconsistent options, or None."""
  if args.min_time > args.max_time:
    return f"--min-time ({args.min_time}) is greater than --max-time ({args.max_time})"
  if args.top_k < 1:
    return "--top-k must be at least 1"
  if args.channels < 1:
    return "--channels must be at least 1"
  return None


def error(command, message):
  print(f"soundscope {command}: error: {message}", file=sys.stderr)


def load_classifier(args):
  from soundscope.models.store import registry
  return registry.load_classifier(args.model, args.model_dir)


class LiveSession:
  """Capture + loop + sinks, stopped cleanly by Ctrl-C or SIGTERM.

  Args:
    args: parsed options (add_arguments).
    classifier: soundscope.models.classifier.Classifier.
    sinks: runtime.sinks.SinkSet.
    source: optional source object (default: PyAudioSource from the options).
  """

  def __init__(self, args, classifier, sinks, source=None):
    self.args = args
    self.source = source or capture_lib.PyAudioSource(
        device=args.device, rate=args.rate, channels=args.channels,
        duration_seconds=args.duration)
    self.capture = capture_lib.Capture(self.source, args.min_time, args.max_time)
    self.loop = loop_lib.Loop(self.capture, classifier, sinks, args.top_k, args.threshold,
                              args.save_path, P.VggishParams(resample_filter=args.resample_filter),
                              args.aggregation,
                              source=f"device {args.device}" if args.device else "microphone")
    self.sinks = sinks
    self.stopped = threading.Event()      # The loop has ended (source ended, or a signal).
    self.signalled = threading.Event()    # Ctrl-C or SIGTERM arrived.

  def status(self):
    """Capture counters for the page."""
    stats = self.capture.stats
    device = self.source.device
    return {"model": self.loop.classifier.name, "windows": stats.windows,
            "captured_seconds": round(stats.captured_seconds, 3), "overruns": stats.overruns,
            "dropped_seconds": round(stats.dropped_seconds, 3),
            "device_overflows": stats.device_overflows,
            "device": device.name if device else None, "rate": self.source.rate,
            "last_classification_seconds": self.loop.last_seconds,
            "failed_windows": self.loop.failures,
            "sink_failures": {name: dict(failure)
                              for name, failure in self.sinks.failures.items()},
            "running": not self.stopped.is_set()}

  def request_stop(self, *_):
    """Signal handler: finish the current window, then stop.  A second Ctrl-C interrupts."""
    self.signalled.set()
    self.loop.stop()
    if threading.current_thread() is threading.main_thread():
      signal.signal(signal.SIGINT, signal.default_int_handler)

  def stopped_by_signal(self):
    return self.signalled.is_set()

  def wait_for_signal(self):
    """Blocks until Ctrl-C or SIGTERM (serve keeps its page up after a bounded capture)."""
    while not self.signalled.wait(0.5):
      pass

  def install_signal_handlers(self):
    if threading.current_thread() is threading.main_thread():
      signal.signal(signal.SIGTERM, self.request_stop)
      signal.signal(signal.SIGINT, self.request_stop)

  def run(self):
    """Starts capturing and classifies until the end; returns windows classified.

    Raises:
      capture_lib.CaptureError (including NoInputDeviceError) when the device fails.
    """
    self.loop.warm_up(self.args.rate or S.WARM_UP_RATE_HZ)
    self.capture.start()
    try:
      return self.loop.run()
    finally:
      self.stopped.set()
      self.capture.stop()

  def summary(self):
    stats = self.capture.stats
    text = (f"{self.loop.processed} windows classified, {stats.captured_seconds:.1f} s captured, "
            f"{stats.overruns} overruns ({stats.dropped_seconds:.1f} s dropped), "
            f"{stats.device_overflows} device overflows")
    if self.loop.failures:
      text += f", {self.loop.failures} windows failed"
    return text


def prepare(args, command):
  """The start that capture and serve share: --list-devices, argument checks, the model.

  Returns:
    (classifier, None) to go on, or (None, exit status) when the command is done
    (devices listed: 0; bad arguments: 2; no usable model: 1), the reason printed.
  """
  if args.list_devices:
    try:
      print(capture_lib.describe_devices())
    except capture_lib.CaptureError as exc:
      error(command, exc)
      return None, 1
    return None, 0
  problem = check_arguments(args)
  if problem:
    error(command, problem)
    return None, 2
  try:
    return load_classifier(args), None
  except Exception as exc:  # ModelNotFoundError, ChecksumError, ...: say it in one line.
    error(command, exc)
    return None, 1
