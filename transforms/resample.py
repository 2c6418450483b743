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
edges, and the outputs whose integer state differs from their phase's
because of float rounding of t * increment (none for the common rates to
16 kHz, about one in ten for some, e.g. 15.6 kHz) are recomputed one by one
exactly as resampy does; which outputs those are is found once per plan.  Results equal resampy's up to float64 rounding (below 1e-10
for signals in [-1, 1]; tests/test_transforms_resample.py checks many rates).

The product runs as a stack of fixed-shape products of ROWS_PER_PRODUCT rows,
counted from the signal's first sample.  A BLAS product's rounding depends on
its shape and on where a row sits in it (edge kernels, the split between
threads: the same row gave results 1e-15 apart for M = 300 and M = 2000 on
OpenBLAS), but a row computed at the same place of a product of the same
shape is computed by the same operations.  So a piece of a stream that starts
at `aligned_start` (a multiple of that many rows' input) computes every
output with exactly the products the whole signal would: stream_mono's
blocks, the live StreamResampler and one call on the whole signal give
bitwise equal outputs, wherever the pieces were cut.  (Not for the rates with
rounding outliers below, whose states follow the piece's own output index.)

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
# Rows of each matrix product (all products have this shape; see the module docstring).
# 128 rows at 44.1 kHz are 1.28 s of output: a 5 s clip costs 2.97 ms of one core
# (2.85 ms as one product of 500 rows; 3.36 ms with 32-row products), and a piece of a
# stream recomputes at most that much before its start (aligned_start).
ROWS_PER_PRODUCT = 128
# Products stacked into one matmul call (bounds the strided copy: 8 x 128 rows of
# 714 float64 at 44.1 kHz, 5.8 MB).
PRODUCTS_PER_CALL = 8
# Outputs whose rounding is checked per vector operation when a plan scans for outliers.
OUTLIER_SCAN_CHUNK = 1 << 16
# Outputs (from the first) whose outliers a plan keeps: 262 s at 16 kHz, at most
# 32 MB of int64 indices per plan.
OUTLIER_CACHE_OUTPUTS = 1 << 22


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
    # (int64 [k] outlier output indices below `scanned`, scanned).
    self._outliers = (np.zeros(0, np.int64), 0)

  def outliers(self, num_outputs):
    """int64 [k]: the outputs below num_outputs whose state is not their phase's.

    Which outputs those are depends on the plan alone (t * increment rounds
    the same way whatever the signal), so the first OUTLIER_CACHE_OUTPUTS are
    found once and kept (none at all for 8, 11.025, 22.05, 32, 44.1, 48 or
    96 kHz to 16 kHz; about one in ten for rates like 15.6 kHz); outputs
    beyond are scanned at each call, in chunks of OUTLIER_SCAN_CHUNK.
    """
    cached, scanned = self._outliers
    covered = min(num_outputs, OUTLIER_CACHE_OUTPUTS)
    if scanned < covered:
      cached = np.concatenate([cached, self._scan(scanned, covered)])
      scanned = covered
      self._outliers = (cached, scanned)   # One assignment: threads see old or new.
    below = cached[:int(np.searchsorted(cached, num_outputs))]
    if num_outputs <= scanned:
      return below
    return np.concatenate([below, self._scan(scanned, num_outputs)])

  def _scan(self, start, stop):
    """int64 [k]: output indices in [start, stop) whose rounded state is not their phase's."""
    hits = [np.zeros(0, np.int64)]
    for first in range(start, stop, OUTLIER_SCAN_CHUNK):
      t = np.arange(first, min(stop, first + OUTLIER_SCAN_CHUNK))
      n, left_offset, _, right_offset, _, _, _ = self.state(t)
      phase = t % self.outputs_per_row
      hits.append(t[(n - self.inputs_per_row * (t // self.outputs_per_row) != self.phase_n[phase])
                    | (left_offset != self.phase_left[phase])
                    | (right_offset != self.phase_right[phase])])
    return np.concatenate(hits)

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
  """Samples out of resampling num_samples from rate_in to rate_out Hz, as resampy counts.

  resampy 0.4.3's expression, in its float order: int(n * float(rate_out) /
  float(rate_in)) (n * (rate_out / rate_in) rounds differently: 117 samples at
  15.6 kHz give 119, not 120, at 16 kHz).  The one definition: resample() and
  transforms/audio.py's streaming loader both use it.
  """
  return int(num_samples * float(rate_out) / float(rate_in))


def resample(x, rate_in, rate_out, filter_name="kaiser_best"):
  """Resamples a 1-D signal exactly as resampy.resample(x, rate_in, rate_out, filter=filter_name).

  Args:
    x: float [n] signal.
    rate_in, rate_out: integer sample rates in Hz.
    filter_name: a resampy filter name ('kaiser_best', 'kaiser_fast').

  Returns:
    float64 [output_length(n, rate_in, rate_out)].
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
  q, p, wing, r = plan.outputs_per_row, plan.inputs_per_row, plan.wing, ROWS_PER_PRODUCT
  products = -(-n_out // (q * r))
  padded = np.zeros(wing + p * r * products + plan.span + 1)
  padded[wing:wing + x.shape[0]] = x
  size = padded.itemsize
  stacked = np.lib.stride_tricks.as_strided(padded[1:], shape=(products, r, plan.span),
                                            strides=(p * r * size, p * size, size))
  y = np.empty((products, r, q))
  for first in range(0, products, PRODUCTS_PER_CALL):
    group = slice(first, first + PRODUCTS_PER_CALL)
    np.matmul(np.ascontiguousarray(stacked[group]), plan.taps, out=y[group])
  y = y.reshape(-1)[:n_out]
  _redo_rounding_outliers(x, y, plan)
  return y


def aligned_start(index, rate_in, rate_out, filter_name):
  """The largest input index <= index where resample()'s products start.

  A piece of a longer signal that starts there, and reaches the filter's span
  past the outputs kept from it, gives those outputs bitwise equal to
  resample() of the whole signal (module docstring).

  Args:
    index: input sample index (>= 0).
    rate_in, rate_out: integer sample rates in Hz.
    filter_name: a resampy filter name.

  Returns:
    int, a multiple of ROWS_PER_PRODUCT rows' input samples (index itself for
    the rates resample() leaves to resampy, or equal rates).
  """
  if int(rate_in) == int(rate_out):
    return int(index)
  plan = _plan(int(rate_in), int(rate_out), filter_name)
  if not plan.efficient:
    return int(index)
  unit = plan.inputs_per_row * ROWS_PER_PRODUCT
  return int(index) // unit * unit


def _redo_rounding_outliers(x, y, plan):
  """Recomputes, as resampy does, outputs whose state is not their phase's (float rounding)."""
  outliers = plan.outliers(y.shape[0])
  if not outliers.size:
    return
  # The state is elementwise: computed for the outliers alone it is the same numbers.
  n, left_offset, left_eta, right_offset, right_eta, left_taps, right_taps = plan.state(outliers)
  window, delta, step = plan.window, plan.delta, plan.step
  for j, u in enumerate(outliers):
    i = np.arange(min(n[j] + 1, left_taps[j]))
    at = left_offset[j] + i * step
    value = np.dot(window[at] + left_eta[j] * delta[at], x[n[j] - i])
    k = np.arange(min(x.shape[0] - n[j] - 1, right_taps[j]))
    at = right_offset[j] + k * step
    y[u] = value + np.dot(window[at] + right_eta[j] * delta[at], x[n[j] + 1 + k])
