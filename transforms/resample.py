"""resampy's band-limited resampling, computed as a polyphase matrix product.

resampy.resample (the VGGish reference's resampler) computes output sample t
from the input around n_t = int(t * increment), increment = rate_in / rate_out,
with taps read from its filter table at offsets that depend only on the
fractional part of t * increment.  For rational rates (rate_in / rate_out =
P / Q in lowest terms) that fractional part repeats every Q outputs while n_t
advances by P inputs, so there are only Q distinct tap vectors.  Laid out as
the columns of a [span, Q] matrix, every group of Q outputs is one strided row
of the input times that matrix: a single BLAS product instead of resampy's
per-sample loop (and no numba compilation, which costs ~1.5 s per process).

The taps use resampy's own filter table (resampy.filters.get_filter) and its
index arithmetic (linear interpolation inside the table, the same offsets),
the input is zero-padded where resampy truncates the filter at the signal's
edges, and the rare outputs whose integer state differs from their phase's
because of float rounding of t * increment are recomputed one by one exactly
as resampy does.  Results equal resampy's up to float64 rounding (below 1e-10
for signals in [-1, 1]; tests/test_transforms_resample.py checks many rates).

When P is large (rates with a small common divisor with 16 kHz) the matrix
grows with P and this form would do more work than resampy's loop; `resample`
then calls resampy itself.
"""

import functools
import importlib.util
import math
import os

import numpy as np

# Group phases so that each matrix row yields at least this many outputs.
MIN_OUTPUTS_PER_ROW = 64
# Use the matrix form only while a row spans at most this many times the
# filter's own support (beyond that resampy's loop does less arithmetic).
MAX_SPAN_OVER_SUPPORT = 8


@functools.lru_cache(maxsize=4)
def _filter(name):
  """(half_window float64 [m], table entries per zero crossing) of a resampy filter.

  Read from the .npz files that resampy ships (what resampy.filters.get_filter
  loads) without importing resampy: its package imports numba, ~0.5-1.7 s of
  start-up that only the fallback path needs.
  """
  spec = importlib.util.find_spec("resampy")
  if spec is None or not spec.submodule_search_locations:
    raise ImportError("resampy is not installed")
  path = os.path.join(spec.submodule_search_locations[0], "data", f"{name}.npz")
  if not os.path.exists(path):
    raise ValueError(f"unknown resampy filter {name!r}")
  with np.load(path) as data:
    return data["half_window"], int(data["precision"])


class _Plan:
  """Everything about (rate_in, rate_out, filter) that does not depend on the signal."""

  def __init__(self, rate_in, rate_out, name):
    half_window, self.num_table = _filter(name)
    ratio = float(rate_out) / float(rate_in)
    self.window = ratio * half_window if ratio < 1 else half_window
    self.delta = np.diff(self.window, append=self.window[-1])
    self.scale = min(1.0, ratio)
    self.step = int(self.scale * self.num_table)
    self.increment = 1.0 / ratio
    g = math.gcd(int(rate_in), int(rate_out))
    group = -(-MIN_OUTPUTS_PER_ROW // (int(rate_out) // g))
    self.outputs_per_row = (int(rate_out) // g) * group   # Q * group
    self.inputs_per_row = (int(rate_in) // g) * group     # P * group
    self.wing = self.window.shape[0] // self.step + 1     # Taps on each side, at most.
    phases = np.arange(self.outputs_per_row)
    state = self.state(phases)
    self.phase_n, self.phase_left, self.phase_right = state[0], state[1], state[3]
    self.span = int(self.phase_n.max()) + 2 * self.wing
    # The [span, Q] tap matrix is built only where it pays (it grows with P * Q).
    self.taps = self._phase_taps(phases, state) if self.efficient else None

  @property
  def efficient(self):
    return self.span <= MAX_SPAN_OVER_SUPPORT * 2 * self.wing

  def state(self, t):
    """resampy's per-output input index, table offsets, interpolation factors, tap counts."""
    time_register = t * self.increment
    n = time_register.astype(np.int64)
    frac = self.scale * (time_register - n)
    left = frac * self.num_table
    left_offset = left.astype(np.int64)
    right = (self.scale - frac) * self.num_table
    right_offset = right.astype(np.int64)
    nwin = self.window.shape[0]
    return (n, left_offset, left - left_offset, right_offset, right - right_offset,
            (nwin - left_offset) // self.step, (nwin - right_offset) // self.step)

  def _phase_taps(self, phases, state):
    n, left_offset, left_eta, right_offset, right_eta, left_taps, right_taps = state
    taps = np.zeros((self.span, phases.size))
    for phase in phases:
      i = np.arange(left_taps[phase])
      at = left_offset[phase] + i * self.step
      taps[n[phase] + self.wing - 1 - i, phase] = self.window[at] + left_eta[phase] * self.delta[at]
      k = np.arange(right_taps[phase])
      at = right_offset[phase] + k * self.step
      taps[n[phase] + self.wing + k, phase] = self.window[at] + right_eta[phase] * self.delta[at]
    return taps


@functools.lru_cache(maxsize=16)
def _plan(rate_in, rate_out, name):
  return _Plan(rate_in, rate_out, name)


def output_length(num_samples, rate_in, rate_out):
  """resampy's output length: int(n * rate_out / rate_in)."""
  return int(num_samples * float(rate_out) / float(rate_in))


def resample(x, rate_in, rate_out, filter_name="kaiser_best"):
  """Resamples a 1-D signal exactly as resampy.resample(x, rate_in, rate_out, filter=filter_name).

  Args:
    x: float [n] signal.
    rate_in, rate_out: integer sample rates in Hz.
    filter_name: a resampy filter name ('kaiser_best', 'kaiser_fast').

  Returns:
    float64 [int(n * rate_out / rate_in)].
  """
  x = np.asarray(x, np.float64)
  n_out = output_length(x.shape[0], rate_in, rate_out)
  if n_out < 1:
    raise ValueError(f"{x.shape[0]} samples are too few to resample from {rate_in} to "
                     f"{rate_out} Hz")
  plan = _plan(int(rate_in), int(rate_out), filter_name)
  if not plan.efficient:
    import resampy
    return resampy.resample(x, rate_in, rate_out, filter=filter_name)
  q, p, wing = plan.outputs_per_row, plan.inputs_per_row, plan.wing
  rows = -(-n_out // q)
  padded = np.zeros(wing + p * rows + plan.span + 1)
  padded[wing:wing + x.shape[0]] = x
  strided = np.lib.stride_tricks.as_strided(padded[1:], shape=(rows, plan.span),
                                            strides=(p * padded.itemsize, padded.itemsize))
  y = (np.ascontiguousarray(strided) @ plan.taps).reshape(-1)[:n_out]
  _redo_rounding_outliers(x, y, plan)
  return y


def _redo_rounding_outliers(x, y, plan):
  """Recomputes, as resampy does, outputs whose state is not their phase's (float rounding)."""
  t = np.arange(y.shape[0])
  n, left_offset, left_eta, right_offset, right_eta, left_taps, right_taps = plan.state(t)
  phase = t % plan.outputs_per_row
  outliers = np.nonzero((n - plan.inputs_per_row * (t // plan.outputs_per_row) != plan.phase_n[phase])
                        | (left_offset != plan.phase_left[phase])
                        | (right_offset != plan.phase_right[phase]))[0]
  window, delta, step = plan.window, plan.delta, plan.step
  for u in outliers:
    i = np.arange(min(n[u] + 1, left_taps[u]))
    at = left_offset[u] + i * step
    value = np.dot(window[at] + left_eta[u] * delta[at], x[n[u] - i])
    k = np.arange(min(x.shape[0] - n[u] - 1, right_taps[u]))
    at = right_offset[u] + k * step
    y[u] = value + np.dot(window[at] + right_eta[u] * delta[at], x[n[u] + 1 + k])
