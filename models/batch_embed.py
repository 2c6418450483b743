"""Embedding many files with VGGish: the plain (non-Beam) batched loop.

Decoding, resampling and the log-mel front end run in a small thread pool
(libsndfile, resampy's numba kernels and numpy's FFT release the GIL), so the
resampler's cost overlaps with the network, which runs in the calling thread
on batches of `params.batch_size` examples gathered across files.  Results
come back in input order, one per file: a FileEmbedding or a FileError.
The numbers are exactly those of the per-file reference path.
"""

import collections
import concurrent.futures

import numpy as np

from configs import params as P
from transforms import errors
from transforms import vggish_input

FileEmbedding = collections.namedtuple("FileEmbedding", ["path", "info", "raw", "quantized"])
FileEmbedding.__doc__ = """One embedded file.

  path: the input path (str).
  info: transforms.audio.AudioInfo of the file.
  raw: float32 [frames, 128] VGGish embeddings (fc2 pre-activation).
  quantized: uint8 [frames, 128] PCA-whitened, quantized (release format), or
    None without a postprocessor.
"""
FileError = collections.namedtuple("FileError", ["path", "error"])


def _file_examples(path, params, start_seconds=None, end_seconds=None):
  """(examples float32 [k, 96, 64], AudioInfo) of a file, or its AudioInputError."""
  try:
    generator = vggish_input.iter_file_examples(path, params, start_seconds, end_seconds)
    parts = []
    while True:
      try:
        parts.append(next(generator))
      except StopIteration as stop:
        return np.concatenate(parts), stop.value
  except errors.AudioInputError as exc:
    return exc


def embed_files(paths, embedder, postprocessor=None, params=P.VggishParams(),
                decode_workers=2, prefetch=8):
  """Embeds files in input order, overlapping decoding with inference.

  Args:
    paths: iterable of audio file paths.
    embedder: models.vggish.VggishEmbedder (its batch_size is used).
    postprocessor: transforms.postprocess.Postprocessor or None.
    params: VggishParams for the front end.
    decode_workers: threads that decode, resample and compute log-mel.
    prefetch: files decoded ahead of the network.

  Yields:
    FileEmbedding or FileError, one per path, in order.
  """
  pending = collections.deque()  # (path, future) in input order.
  ready = collections.deque()    # (path, examples, info) waiting for the network.
  queued_examples = 0
  paths = iter(paths)
  with concurrent.futures.ThreadPoolExecutor(decode_workers) as pool:

    def refill():
      while len(pending) < prefetch:
        path = next(paths, None)
        if path is None:
          return
        pending.append((path, pool.submit(_file_examples, str(path), params)))

    refill()
    while pending or ready:
      # Gather decoded files until a full batch is waiting or nothing is left to decode.
      while pending and (queued_examples < embedder.batch_size or not ready):
        path, future = pending.popleft()
        result = future.result()
        refill()
        if isinstance(result, errors.AudioInputError):
          if not ready:
            yield FileError(str(path), result)
            continue
          ready.append((str(path), result, None))
          continue
        ready.append((str(path), result[0], result[1]))
        queued_examples += len(result[0])
      batch = [item for item in ready if item[2] is not None]
      embeddings = embedder.embed(np.concatenate([item[1] for item in batch])) if batch else None
      offset = 0
      while ready:
        path, examples, info = ready.popleft()
        if info is None:
          yield FileError(path, examples)
          continue
        raw = embeddings[offset:offset + len(examples)]
        offset += len(examples)
        quantized = postprocessor.postprocess(raw) if postprocessor else None
        yield FileEmbedding(path, info, raw, quantized)
      queued_examples = 0
