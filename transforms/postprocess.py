"""Embedding post-processing in the AudioSet release format, and its inverse.

Postprocessor follows vggish_postprocess.Postprocessor of the reference:
PCA whitening with the released parameters, clipping to [-2, 2], scaling to
[0, 255] and truncation to uint8.  `dequantize` is what YouTube-8M's readers
apply before training: q * 4/255 + 4/512 - 2 (the centre of each step).
"""

import os

import numpy as np

from soundscope.configs import params as P
from soundscope.transforms import errors


def load_pca_params(path):
  """Reads the PCA parameters.

  Args:
    path: .npz file with `pca_eigen_vectors` [128, 128] and `pca_means` [128].

  Returns:
    (eigen_vectors float64 [128, 128], means float64 [128, 1]).
  """
  if not os.path.isfile(path):
    raise errors.AudioFileNotFoundError(path, "PCA parameters file not found")
  with np.load(path) as params:
    eigen_vectors = params[P.PCA_EIGEN_VECTORS_NAME]
    means = params[P.PCA_MEANS_NAME].reshape(-1, 1)
  expected = (P.EMBEDDING_SIZE, P.EMBEDDING_SIZE)
  if eigen_vectors.shape != expected or means.shape != (P.EMBEDDING_SIZE, 1):
    raise ValueError(f"{path}: PCA parameters have shapes {eigen_vectors.shape} and "
                     f"{means.shape}, expected {expected} and ({P.EMBEDDING_SIZE}, 1)")
  return eigen_vectors, means


def quantize(whitened):
  """Clips float embeddings to [-2, 2] and maps them to uint8 bytes (truncating)."""
  clipped = np.clip(whitened, P.QUANTIZE_MIN_VAL, P.QUANTIZE_MAX_VAL)
  scaled = (clipped - P.QUANTIZE_MIN_VAL) * (255.0 / (P.QUANTIZE_MAX_VAL - P.QUANTIZE_MIN_VAL))
  return scaled.astype(np.uint8)


def dequantize(quantized):
  """Maps uint8 bytes back to floats as YouTube-8M's readers do.

  Args:
    quantized: uint8 (or integer-valued) array.

  Returns:
    float32 array of the same shape: q * 4/255 + 4/512 - 2.
  """
  value_range = P.QUANTIZE_MAX_VAL - P.QUANTIZE_MIN_VAL
  bias = (value_range / 512.0) + P.QUANTIZE_MIN_VAL
  return (np.asarray(quantized, np.float32) * np.float32(value_range / 255.0)
          + np.float32(bias)).astype(np.float32)


class Postprocessor:
  """PCA whitening and quantization with the released parameters."""

  def __init__(self, pca_params_path):
    self._eigen_vectors, self._means = load_pca_params(pca_params_path)

  def whiten(self, embeddings):
    """float [n, 128] raw VGGish embeddings -> float64 [n, 128] PCA-whitened."""
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or embeddings.shape[1] != P.EMBEDDING_SIZE:
      raise ValueError(f"expected embeddings of shape [n, {P.EMBEDDING_SIZE}], "
                       f"got {embeddings.shape}")
    return np.dot(self._eigen_vectors, (embeddings.T - self._means)).T

  def postprocess(self, embeddings):
    """float [n, 128] raw embeddings -> uint8 [n, 128] release-format bytes."""
    return quantize(self.whiten(embeddings))
