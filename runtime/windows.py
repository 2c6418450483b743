"""Captured audio -> analysis windows of min..max seconds -> 16 kHz mono.

As in the article, audio is captured without pause; a window is handed to the
classifier as soon as it holds `min_seconds` AND the classifier is free.  While
the classifier is busy the window keeps growing, up to `max_seconds`; past that
the oldest audio is dropped and counted as an overrun (the machine fell behind).

The conversion to what the models hear goes through the shared transforms
(transforms.audio.to_mono and resample), never a second implementation, and is
quantized back to 16-bit: the window saved with --save-path is then exactly the
audio that was classified, so `soundscope classify` on it gives the same scores.
"""

import dataclasses
import datetime

import numpy as np

from soundscope.configs import params as P
from soundscope.configs import runtime as S
from soundscope.transforms import audio


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
  """
  samples: np.ndarray
  rate: int
  first_frame: int
  start_utc: datetime.datetime
  end_utc: datetime.datetime
  ended_at: float
  dropped_frames: int = 0

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
    lost = self._frames + count
    self._blocks, self._frames = [], 0
    self._first_frame += lost
    self._dropped_since_window += lost
    self.dropped_frames += lost     # The source counts the event itself (device overflows).

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
                    ended_at=self._last_arrival, dropped_frames=self._dropped_since_window)
    self._first_frame += self._frames
    self._blocks, self._frames, self._dropped_since_window = [], 0, 0
    return window

  def _utc(self, frame):
    return self.stream_start_utc + datetime.timedelta(seconds=frame / self.rate)


def quantize_int16(waveform):
  """float [n] in [-1, 1] -> int16 [n] (x * 32768, rounded, clipped)."""
  return np.clip(np.rint(np.asarray(waveform) * S.INT16_SCALE), -32768, 32767).astype(np.int16)


def window_to_16k(window, params=P.VggishParams()):
  """The 16-bit, 16 kHz mono audio a window becomes, as the models hear it.

  int16 frames / 32768 -> transforms.audio.to_mono -> transforms.audio.resample
  (params.resample_filter) -> quantized to int16.

  Args:
    window: Window (int16 [n, channels] at window.rate).
    params: VggishParams (sample_rate_hz, resample_filter).

  Returns:
    int16 [m] at params.sample_rate_hz, m = int(n * 16000 / rate).
  """
  mono = audio.to_mono(window.samples.astype(np.float64) / S.INT16_SCALE)
  return quantize_int16(audio.resample(mono, window.rate, params.sample_rate_hz,
                                       params.resample_filter))


def int16_to_float(samples):
  """int16 [n] -> float64 [n] in [-1, 1), the reference's wav scaling."""
  return np.asarray(samples, np.float64) / S.INT16_SCALE
