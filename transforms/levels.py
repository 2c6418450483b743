"""Sound levels of audio samples in dBFS (decibels relative to full scale).

  rms_dbfs(samples)    20 log10(root mean square), a full-scale sine reads -3.01
  peak_dbfs(samples)   20 log10(max |x|), a full-scale sample reads 0.0
  of_windows(...)      both, for each model window of a stretch of samples

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
