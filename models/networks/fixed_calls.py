"""Model calls of one fixed batch shape, so that a row's result does not depend on the
rows it is batched with.

A matrix product's rounding depends on its shape: the same row batched with a
different number of others came out apart (VGGish embeddings by up to 1.4e-5, a
head's scores by 1 ulp).  With every call of
one shape (the last batch padded), a row gave the same bits at every position and
beside any other rows (models/networks/vggish.py, models/networks/heads.py), so
batch and live give the same results whatever their batching.
"""

import numpy as np


def run(call, size, arrays, fills):
  """call(*chunks) on consecutive chunks of exactly `size` rows, outputs cut to the real rows.

  Args:
    call: callable(*arrays of [size, ...]) -> array [size, ...].
    size: rows in every call.
    arrays: arrays of the same number of rows n >= 1, chunked together.
    fills: per array, the value of its padding rows in the last call.

  Returns:
    the calls' outputs concatenated: [n, ...].
  """
  outputs = []
  for first in range(0, len(arrays[0]), size):
    chunks = [array[first:first + size] for array in arrays]
    real = len(chunks[0])
    if real < size:
      chunks = [np.concatenate([chunk, np.full((size - real,) + chunk.shape[1:], fill,
                                               chunk.dtype)])
                for chunk, fill in zip(chunks, fills)]
    outputs.append(np.asarray(call(*chunks))[:real])
  return np.concatenate(outputs)
