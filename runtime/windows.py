"""Captured audio -> analysis windows of min..max seconds.

As in the article, audio is captured without pause; a window is handed to the
classifier as soon as it holds `min_seconds` AND the classifier is free.  While
the classifier is busy the window keeps growing, up to `max_seconds`; past that
the oldest audio is dropped and counted as an overrun (the machine fell behind).

What the models hear is made from the windows by runtime/listening.py: one
continuous 16 kHz stream through the shared transforms (transforms.audio.to_mono
and StreamResampler), never a second implementation.
"""

import dataclasses
import datetime

import numpy as np

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


def quantize_int16(waveform):
  """float [n] in [-1, 1] -> int16 [n] (x * 32768, rounded, clipped)."""
  return np.clip(np.rint(np.asarray(waveform) * S.INT16_SCALE), -32768, 32767).astype(np.int16)


def int16_to_float(samples):
  """int16 [n] -> float64 [n] in [-1, 1), the reference's wav scaling."""
  return np.asarray(samples, np.float64) / S.INT16_SCALE
