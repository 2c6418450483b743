"""Capture that never pauses: a source's blocks cut into windows on a thread of its own.

The source (runtime/sources.py: a PortAudio device; devices in
runtime/devices.py) puts each block into a queue.  `Capture` runs one more thread that
drains that queue into a WindowBuffer (runtime/windows.py) and hands a window to
the classifier whenever the classifier asks for one: classifying never blocks
the capture, so no audio is lost between windows.  If the machine falls behind,
the losses are counted, never hidden: PortAudio's input overflows, blocks our
thread could not take, and audio dropped because a window passed max-time.

A source that is not live (`source.live` false: a file read as fast as it
decodes) waits for the classifier instead: nothing is dropped, and its windows
are min-time long.  A source that says `wall_clock` (every live input of
runtime/sources.py) has its window times follow the wall clock: when a
window's UTC end strays more than configs.monitoring.MAX_CLOCK_DRIFT_SECONDS
from the wall-clock time its audio arrived (a source faster or slower than
real time, a reconnected stream), the clock is reset to the wall clock, said
once per state change on the console and counted (`clock_corrections`).
When a source reconnects (its `reconnections` count grows), the audio buffered
from the old connection is dropped and the next window is marked `restarted`:
the loop starts a new 16 kHz stream there (runtime/listening.py).
"""

import dataclasses
import datetime
import logging
import queue
import threading
import time

from soundscope.configs import monitoring as M
from soundscope.configs import runtime as S
from soundscope.runtime import windows
from soundscope.runtime.devices import CaptureError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class CaptureStats:
  """Counters shown on the page and at exit."""
  windows: int = 0
  captured_seconds: float = 0.0
  overruns: int = 0            # Times a window passed max-time while the classifier was busy.
  dropped_seconds: float = 0.0
  device_overflows: int = 0    # PortAudio overflows + blocks our thread missed.
  clock_corrections: int = 0   # Times a live window's clock was reset to the wall clock.


class Capture:
  """Runs a source on its own thread and cuts windows of min..max seconds.

  The consumer calls next_window() when it is free; the capture thread hands it
  the buffered audio as soon as at least min_seconds is there.  At the start the
  consumer counts as free, so the first window is exactly min_seconds.

  Args:
    source: object with open(), read(timeout), close(), rate, channels, overflows;
      read returns (block, arrival time, first frame index), None at the end;
      optional `live` (default true: audio that cannot wait; false: the capture
      waits for the classifier) and `wall_clock` (default false: times from the
      sample count only; true: kept within the drift bound of the wall clock).
    min_seconds, max_seconds: window bounds, seconds.
  """

  def __init__(self, source, min_seconds=S.MIN_WINDOW_SECONDS,
               max_seconds=S.MAX_WINDOW_SECONDS):
    if not 0 < min_seconds <= max_seconds:
      raise ValueError(f"need 0 < min-time <= max-time, got {min_seconds} and {max_seconds}")
    self.source = source
    self.min_seconds = min_seconds
    self.max_seconds = max_seconds
    self.stats = CaptureStats()
    self.error = None
    self._cond = threading.Condition()
    self._wanted = True
    self._ready = []
    self._ended = False
    self._stopping = threading.Event()
    self._buffer = None
    self._next_frame = 0     # Index of the frame the next block should start at.
    self._thread = None
    self._live = getattr(source, "live", True)
    self._wall_clock = getattr(source, "wall_clock", False)
    self._drifting = False
    self._last_end_utc = None
    self._reconnections = 0  # The source's reconnections so far (runtime/ffmpeg.StreamSource).

  def start(self):
    """Opens the source (errors raise here, in the caller's thread) and starts capturing."""
    self.source.open()
    self._thread = threading.Thread(target=self._run, name="soundscope-capture", daemon=True)
    self._thread.start()
    return self

  def _run(self):
    try:
      while not self._stopping.is_set():
        try:
          item = self.source.read(timeout=0.5)
        except queue.Empty:
          continue
        if item is None:
          self._finish_source()
          return
        self._add(*item)
    except Exception as exc:  # Reported to the consumer, which stops with this error.
      log.exception("capture failed")
      self.error = exc
    finally:
      with self._cond:
        self._ended = True
        self._cond.notify_all()

  def _add(self, block, arrived_at, first_frame):
    if self._buffer is None:
      start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
          seconds=(first_frame + block.shape[0]) / self.source.rate)
      self._buffer = windows.WindowBuffer(self.source.rate, block.shape[1], self.min_seconds,
                                          self.max_seconds, start)
    with self._cond:
      # Blocks the source lost before we read them: the clock moves past them.
      self._buffer.skip(first_frame - self._next_frame)
      reconnections = getattr(self.source, "reconnections", 0)
      if reconnections != self._reconnections:   # A new stream: its audio starts afresh.
        self._reconnections = reconnections
        self._buffer.restart()
      self._next_frame = first_frame + block.shape[0]
      self._buffer.add(block, arrived_at)
      self.stats.captured_seconds += block.shape[0] / self.source.rate
      self.stats.overruns = self._buffer.overruns
      self.stats.dropped_seconds = self._buffer.dropped_frames / self.source.rate
      self.stats.device_overflows = self.source.overflows
      if self._wanted and self._buffer.ready():
        self._hand_over(self._buffer.take())
      while not self._live and self._buffer.ready() and not self._stopping.is_set():
        self._cond.wait(0.5)      # A file waits for the classifier: nothing is dropped.
        if self._wanted and self._buffer.ready():
          self._hand_over(self._buffer.take())

  def _hand_over(self, window):
    if self._wall_clock and window.ended_at is not None:
      window = self._on_wall_clock(window)
    self._last_end_utc = window.end_utc
    self._wanted = False
    self._ready.append(window)
    self.stats.windows += 1
    self._cond.notify_all()

  def _on_wall_clock(self, window):
    """The window, its times moved to the wall clock when they stray beyond the bound."""
    arrived_utc = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        seconds=time.monotonic() - window.ended_at)
    drift = (window.end_utc - arrived_utc).total_seconds()
    if abs(drift) <= M.MAX_CLOCK_DRIFT_SECONDS:
      if self._drifting:
        log.warning("%s: window times follow the audio again (within %.1f s of the wall "
                    "clock)", self._name(), M.MAX_CLOCK_DRIFT_SECONDS)
        self._drifting = False
      return window
    if not self._drifting:
      log.warning("%s: window times were %.1f s %s the wall clock; reset to it (said once "
                  "until they agree again)", self._name(), abs(drift),
                  "ahead of" if drift > 0 else "behind")
      self._drifting = True
    self.stats.clock_corrections += 1
    # On the wall clock, never before the previous window's end (times stay in order;
    # a source faster than real time gets windows shorter on the clock than in audio).
    end = arrived_utc
    start = end - (window.end_utc - window.start_utc)
    if self._last_end_utc is not None and start < self._last_end_utc:
      start = self._last_end_utc
      end = max(start, end)
    self._buffer.stream_start_utc += end - window.end_utc
    return dataclasses.replace(window, start_utc=start, end_utc=end)

  def _name(self):
    return getattr(self.source, "name", None) or "input"

  def _finish_source(self):
    """The source ended (a bounded capture): the remainder is one last window."""
    with self._cond:
      buffer = self._buffer
      if self._stopping.is_set():
        return  # Stopped by the user: a partial window is not worth the wait.
      if buffer is not None and buffer.buffered_frames >= S.MIN_FINAL_WINDOW_SECONDS * buffer.rate:
        self._hand_over(buffer.take())

  def next_window(self, timeout=None):
    """Blocks until a window is ready.

    Returns:
      Window, or None once the capture has ended and every window was taken.

    Raises:
      CaptureError: the capture thread failed.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with self._cond:
      if self._buffer is not None and not self._ready and self._buffer.ready():
        self._hand_over(self._buffer.take())
      while not self._ready:
        self._wanted = True   # Free: the capture thread hands over as soon as min-time is there.
        if self._ended:
          if self.error is not None:
            raise CaptureError(f"capture stopped: {self.error}") from self.error
          return None
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
          raise TimeoutError("no window yet")
        self._cond.wait(wait)
      self._wanted = False    # Busy with this window until the next call.
      return self._ready.pop(0)

  def stop(self):
    """Stops capturing; next_window() then returns what is ready, then None."""
    self._stopping.set()
    self.source.close()
    if self._thread is not None:
      self._thread.join(timeout=5)
    with self._cond:
      self._ended = True
      self._cond.notify_all()
