"""Captured audio -> analysis windows of min..max seconds.

As in the article, audio is captured without pause; a window is handed to the
classifier as soon as it holds `min_seconds` AND the classifier is free.  While
the classifier is busy the window keeps growing, up to `max_seconds`; past that
the oldest audio is dropped and counted as an overrun (the machine fell behind).

What the models hear is made from the windows by runtime/listening.py: one
continuous 16 kHz stream through the shared transforms (transforms.audio.to_mono
and StreamResampler), never a second implementation.
"""

import bisect
import collections
import dataclasses
import datetime

import numpy as np

from soundscope.configs import monitoring as M
from soundscope.configs import runtime as S


@dataclasses.dataclass
class Window:
  """One analysis window as captured.

  Attributes:
    samples: int16 [n, channels] at the device's rate.
    rate: device sample rate, Hz.
    first_frame: index of samples[0] in the capture (frames since the stream started).
    start_utc, end_utc: datetime (UTC) of the window's first and last sample,
      from the stream's start time plus the sample count (a gap-free clock).
    ended_at: time.monotonic() when the last block arrived (latency is measured from it).
    dropped_frames: frames dropped just before this window because the
      classifier was behind (0 when it kept up).
    restarted: the source restarted its stream just before this window (a
      network source reconnected): its audio does not follow the previous window's.
  """
  samples: np.ndarray
  rate: int
  first_frame: int
  start_utc: datetime.datetime
  end_utc: datetime.datetime
  ended_at: float
  dropped_frames: int = 0
  restarted: bool = False

  @property
  def duration_seconds(self):
    return self.samples.shape[0] / self.rate


class WindowBuffer:
  """Accumulates blocks and cuts windows of min..max seconds.

  Not thread-safe: one capture thread owns it.

  Args:
    rate: device sample rate, Hz.
    channels: channels per frame.
    min_seconds, max_seconds: window bounds, seconds.
    stream_start_utc: datetime of the stream's first frame.
  """

  def __init__(self, rate, channels, min_seconds, max_seconds, stream_start_utc):
    if not 0 < min_seconds <= max_seconds:
      raise ValueError(f"need 0 < min-time <= max-time, got {min_seconds} and {max_seconds}")
    self.rate = int(rate)
    self.channels = int(channels)
    self.min_frames = int(round(min_seconds * rate))
    self.max_frames = int(round(max_seconds * rate))
    self.stream_start_utc = stream_start_utc
    self._blocks = []
    self._frames = 0
    self._first_frame = 0
    self._last_arrival = None
    self._dropped_since_window = 0
    self._restarted = False
    self.dropped_frames = 0    # Total frames lost: overruns and the source's gaps.
    self.overruns = 0          # Times the buffer overflowed.

  @property
  def buffered_frames(self):
    return self._frames

  def add(self, block, arrived_at):
    """Appends int16 [m, channels] frames; drops the oldest beyond max_seconds."""
    self._blocks.append(block)
    self._frames += block.shape[0]
    self._last_arrival = arrived_at
    excess = self._frames - self.max_frames
    if excess > 0:
      self._drop_oldest(excess)

  def skip(self, count):
    """Notes `count` frames lost before they reached the buffer (the source dropped them).

    A window holds contiguous audio only, so the frames buffered before the gap
    are dropped with them; the clock moves past both, so later windows keep
    their true times.
    """
    if count <= 0:
      return
    self._lose(self._frames + count)

  def _lose(self, lost):
    """Drops the buffered frames, `lost` frames in all with those never buffered."""
    self._blocks, self._frames = [], 0
    self._first_frame += lost
    self._dropped_since_window += lost
    self.dropped_frames += lost     # The source counts the event itself (device overflows).

  def restart(self):
    """Notes that the source's stream restarted (a reconnection): the frames buffered
    before are dropped (a window holds one stream's contiguous audio) and the next
    window says so (Window.restarted)."""
    self._restarted = True
    if self._frames:
      self._lose(self._frames)

  def _drop_oldest(self, count):
    merged = np.concatenate(self._blocks)
    self._blocks = [merged[count:]]
    self._frames -= count
    self._first_frame += count
    self._dropped_since_window += count
    self.dropped_frames += count
    self.overruns += 1

  def ready(self):
    """True when a window of at least min_seconds is buffered."""
    return self._frames >= self.min_frames

  def take(self):
    """Everything buffered as one Window (None if empty); the buffer restarts empty."""
    if not self._frames:
      return None
    samples = np.concatenate(self._blocks)
    window = Window(samples=samples, rate=self.rate, first_frame=self._first_frame,
                    start_utc=self._utc(self._first_frame),
                    end_utc=self._utc(self._first_frame + self._frames),
                    ended_at=self._last_arrival, dropped_frames=self._dropped_since_window,
                    restarted=self._restarted)
    self._first_frame += self._frames
    self._blocks, self._frames, self._dropped_since_window = [], 0, 0
    self._restarted = False
    return window

  def _utc(self, frame):
    return self.stream_start_utc + datetime.timedelta(seconds=frame / self.rate)


class AudioClock:
  """Seconds of audio -> UTC, through spans of audio whose UTC bounds are known.

  Each span (a capture window, or a window's 16 kHz piece) maps its audio
  linearly onto its own UTC span: at the sample count's pace (1 s of audio is
  1 s) when the two lengths agree within configs.monitoring.CLOCK_SCALE_TOLERANCE_SECONDS,
  else scaled onto the UTC span (a window of a source faster than real time,
  squeezed by the wall clock: runtime/capture.py), and never outside it.  A
  time between two spans (audio lost) is after the first's end at the sample
  count's pace, never past the second's start; a time after the last span
  goes on from its end at that pace.  Spans are added in time order, with
  non-overlapping UTC spans in order (Capture's windows are), so the mapping
  never runs backwards: a later time of audio is never an earlier UTC.

  Args:
    memory: spans remembered (the oldest are forgotten; earlier times map
      through the oldest kept).
  """

  def __init__(self, memory=M.WINDOW_MEMORY):
    self._starts = collections.deque(maxlen=memory)     # Span starts, seconds of audio.
    self._spans = collections.deque(maxlen=memory)      # (start s, end s, start UTC, end UTC).

  def add(self, start_seconds, end_seconds, start_utc, end_utc):
    """Notes a span: [start_seconds, end_seconds] of audio is [start_utc, end_utc] (datetimes
    or None: times unknown)."""
    if start_utc is None or end_utc is None:
      return
    if self._starts and start_seconds < self._starts[-1]:   # Times went back: forget the old.
      self._starts.clear()
      self._spans.clear()
    self._starts.append(start_seconds)
    self._spans.append((start_seconds, end_seconds, start_utc, max(start_utc, end_utc)))

  def utc(self, seconds):
    """Seconds of audio -> datetime (UTC), or None when no span is known."""
    if not self._spans:
      return None
    index = max(0, bisect.bisect_right(self._starts, seconds) - 1)
    start_s, end_s, start_utc, end_utc = self._spans[index]
    if seconds <= start_s:   # The span's start, or before the first kept span: at pace.
      return start_utc + datetime.timedelta(seconds=seconds - start_s)
    if seconds > end_s:      # Audio lost after this span, or after the last one.
      moment = end_utc + datetime.timedelta(seconds=seconds - end_s)
      if index + 1 < len(self._spans):
        moment = min(moment, self._spans[index + 1][2])
      return moment
    offset = seconds - start_s
    audio, clock = end_s - start_s, (end_utc - start_utc).total_seconds()
    if abs(clock - audio) > M.CLOCK_SCALE_TOLERANCE_SECONDS:
      offset *= clock / audio
    return min(start_utc + datetime.timedelta(seconds=offset), end_utc)


def quantize_int16(waveform):
  """float [n] in [-1, 1] -> int16 [n] (x * 32768, rounded, clipped)."""
  return np.clip(np.rint(np.asarray(waveform) * S.INT16_SCALE), -32768, 32767).astype(np.int16)


def int16_to_float(samples):
  """int16 [n] -> float64 [n] in [-1, 1), the reference's wav scaling."""
  return np.asarray(samples, np.float64) / S.INT16_SCALE
