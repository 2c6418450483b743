"""What `soundscope capture` and `soundscope serve` share: the live session and its clean stop."""

import logging
import signal
import threading

from soundscope.configs import history as H
from soundscope.configs import params as P
from soundscope.runtime import capture as capture_lib
from soundscope.runtime import sources
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import retention
from soundscope.configs import runtime as S

log = logging.getLogger(__name__)


class LiveSession:
  """Capture + loop + sinks, stopped cleanly by Ctrl-C or SIGTERM.

  Args:
    args: parsed options (soundscope/cli/live.py: configs.runtime.CaptureOptions' and
      configs.params.ReportOptions' fields, and resample_filter).
    classifier: soundscope.models.classifier.Classifier.
    sinks: runtime.sinks.SinkSet.
    source: optional source object (default: PyAudioSource from the options).
    history: runtime.history.History to prune, or None.
    history_options: configs.history.HistoryOptions, the retention of the history
      and of the saved windows (--save-path); None: the defaults.
  """

  def __init__(self, args, classifier, sinks, source=None, history=None, history_options=None):
    self.args = args
    # The --input source and the live events soundscope/cli/live.prepare made.
    self.source = source or getattr(args, "source", None) or sources.PyAudioSource(
        device=args.device, rate=args.rate, channels=args.channels,
        duration_seconds=args.duration)
    self.capture = capture_lib.Capture(self.source, args.min_time, args.max_time)
    self.loop = loop_lib.Loop(self.capture, classifier, sinks, args.top_k, args.threshold,
                              args.save_path, P.VggishParams(resample_filter=args.resample_filter),
                              args.aggregation,
                              source=getattr(self.source, "name", None) or (
                                  f"device {args.device}" if args.device else "microphone"),
                              label_set=getattr(args, "label_set", None),
                              live_events=getattr(args, "live_events", None))
    self.sinks = sinks
    self.retention = retention.Retention(history_options or H.HistoryOptions(), args.save_path,
                                         history)
    self.stopped = threading.Event()      # The loop has ended (source ended, or a signal).
    self.signalled = threading.Event()    # Ctrl-C or SIGTERM arrived.

  def status(self):
    """Capture counters for the page."""
    stats = self.capture.stats
    device = self.source.device
    label_set = getattr(self.args, "label_set", None)
    return {"source": self.loop.source, "model": self.loop.classifier.name,
            "label_set": label_set.name if label_set is not None else None,
            "windows": stats.windows,
            "captured_seconds": round(stats.captured_seconds, 3), "overruns": stats.overruns,
            "dropped_seconds": round(stats.dropped_seconds, 3),
            "device_overflows": stats.device_overflows,
            "clock_corrections": stats.clock_corrections,
            "stream_restarts": self.loop.listener.restarts,
            "input": self._input_status(),
            "device": device.name if device else None, "rate": self.source.rate,
            "last_classification_seconds": self.loop.last_seconds,
            "failed_windows": self.loop.failures,
            "sink_failures": {name: dict(failure)
                              for name, failure in self.sinks.failures.items()},
            "sinks": self.sinks.status(), "failing_sinks": self.sinks.failing(),
            "save": self._save_status(),
            "retention": self.retention.status(),
            "running": not self.stopped.is_set()}

  def _input_status(self):
    """A network source's state, reconnections and last error (runtime/ffmpeg.StreamSource
    .status()), or None for a source that has no such state."""
    status = getattr(self.source, "status", None)
    return dict(status()) if callable(status) else None

  def _save_status(self):
    """The saved windows' folder and the last failure to save one (a full disk), if any."""
    if not self.args.save_path:
      return None
    return {"path": self.args.save_path, "failures": getattr(self.loop, "save_failures", 0),
            "last_error": getattr(self.loop, "save_error", None)}

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
      runtime.devices.CaptureError (including NoInputDeviceError) when the device fails.
    """
    self.loop.warm_up(self.args.rate or S.WARM_UP_RATE_HZ)
    self.retention.start()    # Saved windows and history, pruned every RETENTION_INTERVAL_SECONDS.
    self.capture.start()
    try:
      return self.loop.run()
    finally:
      self.stopped.set()
      self.capture.stop()
      self.retention.stop()

  def summary(self):
    stats = self.capture.stats
    text = (f"{self.loop.processed} windows classified, {stats.captured_seconds:.1f} s captured, "
            f"{stats.overruns} overruns ({stats.dropped_seconds:.1f} s dropped), "
            f"{stats.device_overflows} device overflows")
    if self.loop.failures:
      text += f", {self.loop.failures} windows failed"
    if self.loop.listener.restarts:
      text += f", {self.loop.listener.restarts} stream restarts"
    return text
