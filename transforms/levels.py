"""Sound levels of audio samples in dBFS (decibels relative to full scale).

  rms_dbfs(samples)    20 log10(root mean square), a full-scale sine reads -3.01
  peak_dbfs(samples)   20 log10(max |x|), a full-scale sample reads 0.0
  of_windows(...)      both, for each model window of a stretch of samples
  frame_levels(samples, frame)   RMS dBFS of each whole frame of `frame` samples
  FrameLevels(frame)   the same for samples that arrive in pieces

Samples are float [n] in [-1, 1] (int16 / 32768).  Silence (or no samples)
would be -inf dB; it reads as `floor` instead (configs.monitoring.LEVEL_FLOOR_DBFS,
below the quietest non-zero 16-bit sample, -90.3 dBFS), so that every level is
a finite number in JSON.
"""

import numpy as np

from soundscope.configs import monitoring as M


def _decibels(amplitude, floor):
  if not amplitude > 0.0:
    return float(floor)
  return max(float(floor), float(20.0 * np.log10(amplitude)))


def dbfs(amplitude, floor=M.LEVEL_FLOOR_DBFS):
  """An amplitude (fraction of full scale, >= 0) -> 20 log10(amplitude), dBFS (>= floor)."""
  return _decibels(float(amplitude), floor)


def rms_dbfs(samples, floor=M.LEVEL_FLOOR_DBFS):
  """float [n] samples in [-1, 1] -> their RMS level, dBFS (>= floor)."""
  samples = np.asarray(samples, np.float64).reshape(-1)
  if samples.size == 0:
    return float(floor)
  return _decibels(float(np.sqrt(square_sum(samples) / samples.size)), floor)


def square_sum(samples):
  """float64 [n] samples -> sum of x^2 in float64: one pass, no temporary array and no
  BLAS call (a multi-threaded BLAS dot costs ~30x more for a window on a loaded CPU)."""
  return float(np.einsum("i,i->", samples, samples))


def peak_dbfs(samples, floor=M.LEVEL_FLOOR_DBFS):
  """float [n] samples in [-1, 1] -> their peak level, dBFS (>= floor)."""
  return _decibels(peak(samples), floor)


def peak(samples):
  """float [n] samples -> max |x| (0.0 for no samples), exact in their own precision."""
  samples = np.asarray(samples).reshape(-1)
  if samples.size == 0:
    return 0.0
  return float(max(samples.max(), -samples.min()))


def of_windows(samples, starts, ends, rate, first=0):
  """RMS and peak dBFS of each window [start, end) of a stretch of samples.

  Args:
    samples: float [n] samples in [-1, 1], the stretch of a stream that begins
      at sample index `first` of it.
    starts, ends: float [w] window bounds, seconds since the stream's sample 0
      (rounded to the nearest sample; the part of a window before the stretch
      or past its end is not there: a window is measured on what it holds).
    rate: samples per second.
    first: the stream's sample index of samples[0].

  Returns:
    (rms, peak): float64 [w] dBFS each (>= the floor).
  """
  lo = np.rint(np.asarray(starts, np.float64) * rate).astype(np.int64) - int(first)
  hi = np.rint(np.asarray(ends, np.float64) * rate).astype(np.int64) - int(first)
  pieces = [samples[max(0, a):max(0, b)] for a, b in zip(lo, hi)]
  return (np.array([rms_dbfs(piece) for piece in pieces], np.float64),
          np.array([peak_dbfs(piece) for piece in pieces], np.float64))


def frame_levels(samples, frame):
  """RMS level of each whole frame of a stretch of samples (a shorter rest is left out).

  Args:
    samples: float [n] samples in [-1, 1].
    frame: samples per frame (configs.events.LEVEL_FRAME_SECONDS x the rate).

  Returns:
    float64 [n // frame] dBFS (>= the floor): 10 log10 of each frame's mean square.
  """
  samples = np.asarray(samples, np.float64).reshape(-1)
  count = samples.size // frame
  frames = samples[:count * frame].reshape(count, frame)
  mean_square = np.einsum("ij,ij->i", frames, frames) / frame
  with np.errstate(divide="ignore"):
    return np.maximum(10.0 * np.log10(mean_square), M.LEVEL_FLOOR_DBFS)


class FrameLevels:
  """frame_levels of one stream whose samples arrive in pieces: every frame is
  measured on the same samples as frame_levels of the whole stream gives it.

  Usage:
    track = FrameLevels(frame)
    for piece in pieces:
      new = track.add(piece)      # float64 [k] dBFS of the frames the piece completed
  """

  def __init__(self, frame):
    self.frame = int(frame)
    self._rest = np.zeros(0, np.float64)    # Samples of the frame not yet complete.
    self.frames = 0                         # Frames completed so far.

  def add(self, samples):
    """float [n] samples -> float64 [k] dBFS of the k frames they complete."""
    joined = np.concatenate([self._rest, np.asarray(samples, np.float64).reshape(-1)])
    done = joined.size // self.frame * self.frame
    self._rest = joined[done:]
    levels = frame_levels(joined[:done], self.frame)
    self.frames += levels.size
    return levels
