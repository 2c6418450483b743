"""The polyphase resampler gives resampy's samples (the reference's resampler)."""

import functools

import numpy as np
import pytest
import resampy

from conftest import blas_thread_counts
from soundscope.transforms import resample

RATES = [8000, 11025, 12000, 12345, 22050, 24000, 32000, 44100, 48000, 88200, 96000]


@pytest.mark.parametrize("rate_in", RATES)
@pytest.mark.parametrize("filter_name", ["kaiser_best", "kaiser_fast"])
def test_equals_resampy_to_16k(rate_in, filter_name):
  x = np.random.default_rng(rate_in).uniform(-1, 1, int(rate_in * 1.37) + 3)
  expected = resampy.resample(x, rate_in, 16000, filter=filter_name)
  ours = resample.resample(x, rate_in, 16000, filter_name)
  assert ours.shape == expected.shape
  np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("rate_out", [8000, 22050, 44100])
def test_equals_resampy_between_other_rates(rate_out):
  x = np.random.default_rng(1).uniform(-1, 1, 30011)
  np.testing.assert_allclose(resample.resample(x, 16000, rate_out),
                             resampy.resample(x, 16000, rate_out), rtol=0, atol=1e-10)


@pytest.mark.parametrize("length", [3, 17, 161, 441, 442, 1000])
def test_short_signals_and_edges(length):
  x = np.random.default_rng(length).uniform(-1, 1, length)
  np.testing.assert_allclose(resample.resample(x, 44100, 16000),
                             resampy.resample(x, 44100, 16000), rtol=0, atol=1e-10)


def test_too_short_to_resample():
  with pytest.raises(ValueError, match="too few"):
    resample.resample(np.ones(2), 44100, 16000)


def test_awkward_ratio_falls_back_to_resampy_loop():
  plan = resample._plan(16001, 16000, "kaiser_best")
  assert not plan.efficient and plan.taps is None
  x = np.random.default_rng(2).uniform(-1, 1, 16001)
  np.testing.assert_array_equal(resample.resample(x, 16001, 16000),
                                resampy.resample(x, 16001, 16000))


def test_blas_thread_count_changes_rounding_only_and_the_limit_is_restored():
  from soundscope.transforms import blas, vggish_input
  x = np.random.default_rng(5).uniform(-1, 1, 5 * 44100)   # One live window at 44.1 kHz.
  x16 = np.random.default_rng(6).uniform(-1, 1, 5 * 16000)
  before = set(blas_thread_counts())
  outputs = {}
  for threads in (2, 1):
    with blas.limit_threads(threads):
      assert set(blas_thread_counts()) == {threads}
      outputs[threads] = (resample.resample(x, 44100, 16000),
                          vggish_input.waveform_to_examples(x16, 16000))
    assert set(blas_thread_counts()) == before
  np.testing.assert_allclose(outputs[1][0], outputs[2][0], rtol=0, atol=1e-13)
  np.testing.assert_array_equal(np.round(outputs[1][0] * 32768), np.round(outputs[2][0] * 32768))
  np.testing.assert_array_equal(outputs[1][1], outputs[2][1])
  with blas.limit_threads(0):          # 0: left as it is.
    assert set(blas_thread_counts()) == before


def _outliers_by_full_scan(plan, num_outputs):
  """The outputs whose rounded state is not their phase's, from every output's state."""
  t = np.arange(num_outputs)
  n, left_offset, _, right_offset, _, _, _ = plan.state(t)
  phase = t % plan.outputs_per_row
  return np.flatnonzero((n - plan.inputs_per_row * (t // plan.outputs_per_row) != plan.phase_n[phase])
                        | (left_offset != plan.phase_left[phase])
                        | (right_offset != plan.phase_right[phase]))


@pytest.mark.parametrize("rate_in", [15600, 12250, 44100])
def test_kept_rounding_outliers_are_a_full_scans_within_and_beyond_the_cache(monkeypatch, rate_in):
  # 15.6 and 12.25 kHz have many outputs whose t * increment rounds off their
  # phase's state; 44.1 kHz has none.  A small cache forces the scan past it.
  monkeypatch.setattr(resample, "OUTLIER_CACHE_OUTPUTS", 3000)
  plan = resample._Plan(rate_in, 16000, "kaiser_best")
  for num_outputs in (700, 5000, 2000, 9000, 3000):
    np.testing.assert_array_equal(plan.outliers(num_outputs),
                                  _outliers_by_full_scan(plan, num_outputs))
  assert plan._outliers[1] == 3000
  assert (rate_in == 44100) == (_outliers_by_full_scan(plan, 9000).size == 0)


@pytest.mark.parametrize("rate_in", [15600, 12250])
def test_rates_with_many_rounding_outliers_equal_resampy(monkeypatch, rate_in):
  monkeypatch.setattr(resample, "OUTLIER_CACHE_OUTPUTS", 10000)
  monkeypatch.setattr(resample, "_plan", functools.lru_cache(maxsize=16)(resample._Plan))
  rng = np.random.default_rng(rate_in)
  for length in (117, 2 * rate_in + 7, rate_in + 3):   # Within, beyond, within the cache.
    x = rng.uniform(-1, 1, length)
    np.testing.assert_allclose(resample.resample(x, rate_in, 16000),
                               resampy.resample(x, rate_in, 16000), rtol=0, atol=1e-10)
