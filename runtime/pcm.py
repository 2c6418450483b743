"""Raw PCM for the sources (runtime/sources.py, runtime/ffmpeg.py): bytes -> 16-bit blocks.

  SourceError      an --input that cannot be used (one line)
  limit_frames     --duration in frames
  decode_pcm       little-endian s16/s32/f32 bytes -> int16 samples
  PipeReader       a binary stream read on its own thread into int16 blocks
  put_last         puts a source's end mark, dropping the oldest block when full
"""

import queue
import threading
import time

import numpy as np

from soundscope.configs import runtime as S
from soundscope.runtime.devices import CaptureError


class SourceError(CaptureError):
  """An --input that cannot be used (unknown scheme, missing file, bad stdin); one line."""

  def __init__(self, message, usage=False):
    super().__init__(message)
    self.usage = usage      # A wrong argument (exit 2) rather than a failure (exit 1).


def limit_frames(duration_seconds, rate):
  return None if duration_seconds is None else int(round(duration_seconds * rate))


def decode_pcm(data, dtype):
  """Little-endian PCM bytes -> int16 [n] samples (s16 as is, s32 >> 16, f32 x 32768 rounded)."""
  samples = np.frombuffer(data, dtype)
  if samples.dtype == np.int16:
    return samples.astype(np.int16)
  if samples.dtype == np.int32:
    return (samples >> 16).astype(np.int16)
  return np.clip(np.rint(samples.astype(np.float64) * S.INT16_SCALE), -32768,
                 32767).astype(np.int16)


class PipeReader:
  """Reads a binary stream on a thread of its own into int16 [m, channels] blocks.

  Args:
    stream: a binary file object (stdin's buffer, ffmpeg's stdout).
    channels, dtype: frames of `channels` samples of numpy dtype (see decode_pcm).
    block_bytes: bytes per read.
    first_frame: index of the first frame it delivers.
    prefix: bytes already read from the stream (e.g. while sniffing a header).
  """

  def __init__(self, stream, channels, dtype, block_bytes, first_frame=0, prefix=b""):
    self.stream, self.channels, self.dtype = stream, channels, np.dtype(dtype)
    self.frame_bytes = self.dtype.itemsize * channels
    self.block_bytes = max(self.frame_bytes, block_bytes // self.frame_bytes * self.frame_bytes)
    self.queue = queue.Queue(maxsize=S.MAX_QUEUED_BLOCKS)
    self.frames = first_frame
    self.ended = threading.Event()
    self.last_data = time.monotonic()
    self._rest = prefix
    self._thread = threading.Thread(target=self._run, name="soundscope-pipe", daemon=True)
    self._thread.start()

  def _run(self):
    try:
      while True:
        read = getattr(self.stream, "read1", self.stream.read)   # What is there, up to a block.
        data = read(self.block_bytes)
        if not data:
          break
        self._deliver(data)
    except (OSError, ValueError):   # The stream was closed under us: the end.
      pass
    finally:
      self.ended.set()
      self.queue.put(None)

  def _deliver(self, data):
    data = self._rest + data
    usable = len(data) // self.frame_bytes * self.frame_bytes
    self._rest = data[usable:]
    if not usable:
      return
    block = decode_pcm(data[:usable], self.dtype).reshape(-1, self.channels)
    self.last_data = time.monotonic()
    first, self.frames = self.frames, self.frames + len(block)
    self.queue.put((block, self.last_data, first))   # Blocks when nobody reads: back-pressure.


def put_last(blocks, item):
  """Puts `item` (a source's end mark) into a full or not queue.Queue without waiting:
  the oldest blocks make room.  Returns how many blocks were dropped for it."""
  dropped = 0
  while True:
    try:
      blocks.put_nowait(item)
      return dropped
    except queue.Full:
      try:
        blocks.get_nowait()
        dropped += 1
      except queue.Empty:
        pass
