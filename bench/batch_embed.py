"""Embedding many files with VGGish: the plain (non-Beam) batched loop.

Decoding, resampling and the log-mel front end run in a small thread pool
(libsndfile, numpy's BLAS and FFT release the GIL), so the front end's cost
overlaps with the network, which runs in the calling thread on batches of
`embedder.batch_size` examples gathered across files.  Files longer than
STREAM_ABOVE_SECONDS are embedded block by block instead (their blocks are
still prepared one step ahead in a thread), so memory stays bounded whatever a
file's length.  Results come back in input order, one per file: a
FileEmbedding or a FileError.  The numbers are exactly those of the per-file
reference path.
"""

import collections
import concurrent.futures
import logging

import numpy as np

from soundscope.configs import params as P
from soundscope.transforms import audio
from soundscope.transforms import errors
from soundscope.transforms import vggish_input
from soundscope.util import prefetch

log = logging.getLogger(__name__)

# Files longer than this are streamed block by block: 5 minutes of examples
# take 7.4 MB, which is where holding a whole file stops being negligible.
STREAM_ABOVE_SECONDS = 300.0

FileEmbedding = collections.namedtuple("FileEmbedding", ["path", "info", "raw", "quantized"])
FileEmbedding.__doc__ = """One embedded file.

  path: the input path (str).
  info: transforms.audio.AudioInfo of the file.
  raw: float32 [frames, 128] VGGish embeddings (fc2 pre-activation).
  quantized: uint8 [frames, 128] PCA-whitened, quantized (release format), or
    None without a postprocessor.
"""
FileError = collections.namedtuple("FileError", ["path", "error"])

# What a decode worker hands back: examples of a short file, or a note that the
# file is long and must be streamed.
_Prepared = collections.namedtuple("_Prepared", ["path", "examples", "info", "error"])


def _drain(generator):
  """Runs a generator to its end: (list of yielded items, its return value)."""
  items = []
  while True:
    try:
      items.append(next(generator))
    except StopIteration as stop:
      return items, stop.value


def _file_examples(path, params):
  """vggish_input.iter_file_examples, with any failure an AudioInputError naming the file.

  Decoding meets whatever a file holds; an exception no check foresaw is still
  that one file's problem, so it is reported (with its traceback in the log)
  and the other files go on.
  """
  try:
    return (yield from vggish_input.iter_file_examples(path, params))
  except errors.AudioInputError:
    raise
  except Exception as exc:
    log.warning("%s: unexpected failure while decoding", path, exc_info=True)
    raise errors.UnreadableAudioError(
        path, f"could not be decoded ({type(exc).__name__}: {exc})") from exc


def _prepare(path, params):
  """Decodes a short file to examples; only probes a long one."""
  try:
    info = audio.probe(path)
    if info.duration_seconds > STREAM_ABOVE_SECONDS:
      return _Prepared(path, None, info, None)
    parts, info = _drain(_file_examples(path, params))
    return _Prepared(path, np.concatenate(parts), info, None)
  except errors.AudioInputError as exc:
    return _Prepared(path, None, None, exc)


def _embed_streaming(prepared, embedder, postprocessor, params):
  """Embeds a long file block by block: memory bounded by the block length."""
  try:
    raws = [embedder.embed(examples)
            for examples in prefetch.prefetched(_file_examples(prepared.path, params), 2)]
  except errors.AudioInputError as exc:
    return FileError(str(prepared.path), exc)
  raw = np.concatenate(raws)
  quantized = postprocessor.postprocess(raw) if postprocessor else None
  return FileEmbedding(str(prepared.path), prepared.info, raw, quantized)


FLUSH_CALLS = 8   # VGGish calls' worth of examples that a pass waits for, at most.


def embed_files(paths, embedder, postprocessor=None, params=P.VggishParams(),
                decode_workers=2, prefetch=8):
  """Embeds files in input order, overlapping decoding with inference.

  Args:
    paths: iterable of audio file paths.
    embedder: soundscope.models.networks.vggish_litert.VggishEmbedder (its batch_size is used).
    postprocessor: transforms.postprocess.Postprocessor or None.
    params: VggishParams for the front end.
    decode_workers: threads that decode, resample and compute log-mel.
    prefetch: files decoded ahead of the network.

  Yields:
    FileEmbedding or FileError, one per path, in order.
  """
  paths = iter(paths)
  pending = collections.deque()  # Futures of _Prepared, in input order.
  batch = []                     # _Prepared short files waiting for the network.

  def flush():
    """Embeds the waiting short files in one pass; returns their results in order."""
    results = []
    good = [item for item in batch if item.error is None]
    raw = embedder.embed(np.concatenate([item.examples for item in good])) if good else None
    offset = 0
    for item in batch:
      if item.error is not None:
        results.append(FileError(str(item.path), item.error))
        continue
      embedding = raw[offset:offset + len(item.examples)]
      offset += len(item.examples)
      quantized = postprocessor.postprocess(embedding) if postprocessor else None
      results.append(FileEmbedding(str(item.path), item.info, embedding, quantized))
    batch.clear()
    return results

  with concurrent.futures.ThreadPoolExecutor(decode_workers) as pool:
    while True:
      while len(pending) < prefetch and (path := next(paths, None)) is not None:
        pending.append(pool.submit(_prepare, str(path), params))
      if not pending:
        break
      prepared = pending.popleft().result()
      if prepared.error is None and prepared.examples is None:  # A long file.
        yield from flush()
        yield _embed_streaming(prepared, embedder, postprocessor, params)
        continue
      batch.append(prepared)
      # Every VGGish call has batch_size examples (the last one padded): a pass is made
      # when the waiting examples fill whole calls, or fill FLUSH_CALLS of them.
      waiting = sum(len(item.examples) for item in batch if item.error is None)
      if (waiting and waiting % embedder.batch_size == 0) or (
          waiting >= FLUSH_CALLS * embedder.batch_size):
        yield from flush()
    yield from flush()
