"""Sound levels of audio samples in dBFS (decibels relative to full scale).

  rms_dbfs(samples)    20 log10(root mean square), a full-scale sine reads -3.01
  peak_dbfs(samples)   20 log10(max |x|), a full-scale sample reads 0.0

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
  return _decibels(float(np.sqrt(np.mean(np.square(samples)))), floor)


def peak_dbfs(samples, floor=M.LEVEL_FLOOR_DBFS):
  """float [n] samples in [-1, 1] -> their peak level, dBFS (>= floor)."""
  samples = np.asarray(samples, np.float64).reshape(-1)
  if samples.size == 0:
    return float(floor)
  return _decibels(float(np.max(np.abs(samples))), floor)
