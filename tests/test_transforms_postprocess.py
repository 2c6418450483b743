"""Quantization and YouTube-8M's dequantization."""

import numpy as np
import pytest

from soundscope.transforms import postprocess


def test_quantize_clips_and_truncates():
  values = np.array([[-5.0, -2.0, -1.99, 0.0, 1.0, 2.0, 7.0]])
  # (v + 2) * 255 / 4, truncated: -2 -> 0, -1.99 -> 0.6375 -> 0, 0 -> 127.5 -> 127, 1 -> 191.25 -> 191.
  np.testing.assert_array_equal(postprocess.quantize(values), [[0, 0, 0, 127, 191, 255, 255]])


def test_dequantize_is_youtube8m_formula():
  q = np.arange(256, dtype=np.uint8)
  expected = q.astype(np.float64) * 4.0 / 255.0 + 4.0 / 512.0 - 2.0
  np.testing.assert_allclose(postprocess.dequantize(q), expected, atol=1e-6)
  assert postprocess.dequantize(q).dtype == np.float32


def test_dequantize_then_quantize_round_trips_every_byte():
  q = np.arange(256, dtype=np.uint8)
  np.testing.assert_array_equal(postprocess.quantize(postprocess.dequantize(q)), q)


def test_postprocessor_rejects_wrong_shapes(pca_params_path):
  processor = postprocess.Postprocessor(pca_params_path)
  with pytest.raises(ValueError, match="128"):
    processor.postprocess(np.zeros((3, 64)))
