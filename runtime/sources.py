"""Sources of 16-bit blocks for runtime/capture.py: --input's four kinds.

  PyAudioSource   a PortAudio input device (--input device, the default; --device)
  FileSource      an audio file soundfile reads, as fast as it decodes or at real
                  time (--realtime)
  StdinSource     WAV or raw PCM (--input-rate/--input-channels/--input-format) on stdin
  runtime/ffmpeg.StreamSource   a network stream (rtsp://, http(s)://, icecast://)
                  decoded by ffmpeg, reconnected with backoff

  open_source(spec, ...)   --input -> one of them; SourceError (one line) for an
                           unknown scheme or a missing file

Every source has open(), read(timeout) -> (int16 [m, channels] block,
time.monotonic() of its arrival, index of its first frame) or None at the end
(queue.Empty after timeout seconds without audio), close(), rate, channels,
overflows, device (a DeviceInfo or None), name (shown in messages and reported
as each window's source), and the capture flags `live` (audio that cannot wait)
and `wall_clock` (window times kept on the wall clock).

PortAudio calls `PyAudioSource._on_block` on its own thread for every block;
the block goes straight into a queue, so the callback never waits.
"""

import logging
import os
import queue
import struct
import sys
import time

import numpy as np
import soundfile

from soundscope.configs import monitoring as M
from soundscope.configs import runtime as S
from soundscope.runtime import credentials
from soundscope.runtime import pcm
from soundscope.runtime.pcm import SourceError  # noqa: F401  (re-exported)
from soundscope.runtime.devices import (CaptureError, list_devices, load_pyaudio,
                                        quiet_portaudio, select_device)

log = logging.getLogger(__name__)

_END = object()


class PyAudioSource:
  """16-bit blocks from a PortAudio input device.

  Args:
    device: None, an index or a name (see select_device).
    rate: sample rate in Hz; None for the device's default.
    channels: channels to capture (1 lets the host mix down).
    block_seconds: length of one PortAudio block, seconds.
    duration_seconds: stop after this much audio (None: until close()).
  """
  live = True          # Audio that cannot wait (runtime/capture.py).
  wall_clock = True    # Window times kept on the wall clock.

  def __init__(self, device=None, rate=None, channels=1, block_seconds=S.BLOCK_SECONDS,
               duration_seconds=None):
    self.device_spec = device
    self.name = f"device {device}" if device else "microphone"
    self.requested_rate = rate
    self.channels = int(channels)
    self.block_seconds = block_seconds
    self.duration_seconds = duration_seconds
    self.rate = None
    self.device = None
    self.input_overflows = 0    # PortAudio reported paInputOverflow.
    self.queue_overflows = 0    # Our thread did not take blocks fast enough.
    self._pa = None
    self._pyaudio = None
    self._stream = None
    self._queue = queue.Queue(maxsize=S.MAX_QUEUED_BLOCKS)
    self._frames = 0
    self._limit = None
    self._finished = False

  def open(self):
    """Opens the device and starts the stream.

    Raises:
      NoInputDeviceError, CaptureError.
    """
    pyaudio = self._pyaudio = load_pyaudio()
    with quiet_portaudio():
      self._pa = pyaudio.PyAudio()
    try:
      devices = list_devices(self._pa)
      try:
        default_index = self._pa.get_default_input_device_info()["index"]
      except (IOError, OSError):
        default_index = None
      self.device = select_device(devices, self.device_spec, default_index)
      self.rate = int(self.requested_rate or self.device.default_rate)
      if self.duration_seconds is not None:
        self._limit = int(round(self.duration_seconds * self.rate))
      block_frames = max(1, int(round(self.block_seconds * self.rate)))
      with quiet_portaudio():
        self._stream = self._pa.open(
            format=pyaudio.paInt16, channels=self.channels, rate=self.rate, input=True,
            input_device_index=self.device.index, frames_per_buffer=block_frames,
            stream_callback=self._on_block)
    except (IOError, OSError, ValueError) as exc:
      self._terminate()
      raise CaptureError(f"cannot open input device {self.device and self.device.name!r} "
                         f"at {self.rate} Hz, {self.channels} channel(s): {exc}") from exc
    except Exception:
      self._terminate()
      raise
    log.info("capturing from [%d] %s at %d Hz", self.device.index, self.device.name, self.rate)
    return self

  def _on_block(self, data, frame_count, time_info, status):
    """PortAudio's callback: queue the block, nothing else (it runs on PortAudio's thread)."""
    pyaudio = self._pyaudio
    if self._finished:
      return None, pyaudio.paComplete
    if status & pyaudio.paInputOverflow:
      self.input_overflows += 1
    block = np.frombuffer(data, dtype="<i2").reshape(-1, self.channels)
    done = False
    if self._limit is not None and self._frames + block.shape[0] >= self._limit:
      block = block[:self._limit - self._frames]
      done = True
    first_frame = self._frames
    self._frames += block.shape[0]
    try:
      self._queue.put_nowait((block, time.monotonic(), first_frame))
    except queue.Full:
      self.queue_overflows += 1
    if done:
      self._finished = True
      self._put_end()
      return None, pyaudio.paComplete
    return None, pyaudio.paContinue

  def _put_end(self):
    self.queue_overflows += pcm.put_last(self._queue, _END)

  @property
  def overflows(self):
    return self.input_overflows + self.queue_overflows

  def read(self, timeout):
    """Next (int16 [m, channels] block, monotonic arrival time, index of its first
    frame in the stream), None at the end, or raises queue.Empty after `timeout`
    seconds without audio.  A block lost on a full queue leaves a gap in the index."""
    try:
      item = self._queue.get(timeout=timeout)
    except queue.Empty:
      if self._stream is not None and not self._finished and not self._stream.is_active():
        raise CaptureError(f"input device {self.device.name!r} stopped delivering audio "
                           f"(unplugged?)") from None
      raise
    return None if item is _END else item

  def close(self):
    """Stops the stream and releases PortAudio; read() then returns None."""
    self._finished = True
    if self._stream is not None:
      try:
        self._stream.stop_stream()
        self._stream.close()
      except (IOError, OSError) as exc:
        log.warning("closing the input stream: %s", exc)
      self._stream = None
    self._terminate()
    self._put_end()

  def _terminate(self):
    if self._pa is not None:
      with quiet_portaudio():
        self._pa.terminate()
      self._pa = None


class FileSource:
  """Blocks of an audio file (any format soundfile reads), at its own rate and channels.

  Args:
    path: the file.
    realtime: deliver at real time (a live source: window times on the wall
      clock); else as fast as it decodes, the capture waiting for the classifier.
    block_seconds: block length, seconds.
    duration_seconds: stop after this much audio (None: the whole file).
  """
  device = None
  overflows = 0

  def __init__(self, path, realtime=False, block_seconds=S.BLOCK_SECONDS,
               duration_seconds=None):
    self.path = path
    self.name = path
    self.live = self.wall_clock = bool(realtime)
    self.block_seconds = block_seconds
    self.duration_seconds = duration_seconds
    self.rate = self.channels = None
    self._file = None
    self._frames = 0
    self._limit = None
    self._started = None

  def open(self):
    try:
      self._file = soundfile.SoundFile(self.path)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
      raise pcm.SourceError(f"--input {self.path}: cannot read it as audio ({exc})") from None
    self.rate, self.channels = self._file.samplerate, self._file.channels
    self._limit = pcm.limit_frames(self.duration_seconds, self.rate)
    self._block = max(1, int(round(self.block_seconds * self.rate)))
    return self

  def read(self, timeout):
    if self._file is None:
      return None
    count = self._block if self._limit is None else min(self._block, self._limit - self._frames)
    block = self._file.read(max(0, count), dtype="int16", always_2d=True) if count > 0 else None
    if block is None or not len(block):
      self.close()
      return None
    first = self._frames
    self._frames += len(block)
    if self.live:   # Paced: a block is there once its last frame would have been heard.
      if self._started is None:
        self._started = time.monotonic() - len(block) / self.rate
      wait = self._started + self._frames / self.rate - time.monotonic()
      if wait > 0:
        time.sleep(wait)
    return block, time.monotonic(), first

  def close(self):
    if self._file is not None:
      self._file.close()
      self._file = None


def _wav_header(read):
  """Parses a WAV header from read(n) -> (rate, channels, numpy dtype); SourceError if not WAV."""
  riff = read(12)
  if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
    raise pcm.SourceError("stdin holds no WAV header (RIFF/WAVE); for raw PCM give --input-rate "
                      "(and --input-channels, --input-format)", usage=True)
  fmt = None
  while True:
    head = read(8)
    if len(head) < 8:
      raise pcm.SourceError("stdin: the WAV stream ended before its data chunk")
    kind, size = head[:4], struct.unpack("<I", head[4:])[0]
    if kind == b"data":
      break
    body = read(size + (size & 1))
    if kind == b"fmt ":
      fmt = body
  if fmt is None or len(fmt) < 16:
    raise pcm.SourceError("stdin: the WAV stream has no format chunk before its data")
  code, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
  if code == 0xFFFE and len(fmt) >= 26:          # WAVE_FORMAT_EXTENSIBLE: the sub-format.
    code = struct.unpack("<H", fmt[24:26])[0]
  dtype = {(1, 16): "<i2", (1, 32): "<i4", (3, 32): "<f4"}.get((code, bits))
  if dtype is None:
    raise pcm.SourceError(f"stdin: WAV format {code} with {bits}-bit samples is not supported "
                      f"(16- or 32-bit PCM, 32-bit float)")
  return rate, channels, dtype


class StdinSource:
  """WAV or raw PCM read from standard input (--input -).

  A pipe is read at the writer's pace and waits for the classifier when the
  writer is faster (nothing dropped); window times stay on the wall clock.

  Args:
    rate, channels, sample_format: raw PCM's (None rate: a WAV header is expected).
    duration_seconds: stop after this much audio (None: until the stream ends).
    stream: the binary stream (default sys.stdin.buffer).
  """
  device = None
  overflows = 0
  name = "stdin"
  live = False
  wall_clock = True

  def __init__(self, rate=None, channels=1, sample_format="s16le", duration_seconds=None,
               stream=None):
    self.raw_rate, self.raw_channels = rate, channels
    self.sample_format = sample_format
    self.duration_seconds = duration_seconds
    self.stream = stream
    self.rate = self.channels = None
    self._reader = None
    self._limit = None

  def open(self):
    stream = self.stream or sys.stdin.buffer
    if self.raw_rate:
      self.rate, self.channels = int(self.raw_rate), int(self.raw_channels)
      dtype = M.RAW_FORMATS[self.sample_format]
    else:
      self.rate, self.channels, dtype = _wav_header(lambda n: _read_exactly(stream, n))
    self._limit = pcm.limit_frames(self.duration_seconds, self.rate)
    block = int(round(S.BLOCK_SECONDS * self.rate)) * np.dtype(dtype).itemsize * self.channels
    self._reader = pcm.PipeReader(stream, self.channels, dtype, block)
    return self

  def read(self, timeout):
    item = self._reader.queue.get(timeout=timeout)
    if item is None:
      self._reader.queue.put(None)     # The end stays the end.
      return None
    block, arrived, first = item
    if self._limit is not None:
      if first >= self._limit:
        return None
      block = block[:self._limit - first]
    return block, arrived, first

  def close(self):
    pass      # The reader thread ends with the stream (a daemon thread meanwhile).


def _read_exactly(stream, count):
  chunks, left = [], count
  while left > 0:
    data = stream.read(left)
    if not data:
      break
    chunks.append(data)
    left -= len(data)
  return b"".join(chunks)


def network_url(spec):
  """The URL ffmpeg opens for a network --input (icecast:// read as http://), or None
  when spec is not a URL; SourceError for a scheme soundscope does not read."""
  if "://" not in spec:
    return None
  try:
    parts = credentials.checked_url(spec)
  except ValueError as exc:   # A broken IPv6 address, a port that is not a TCP port.
    raise pcm.SourceError(f"--input {credentials.public_url(spec)}: {exc}", usage=True) from None
  scheme = parts.scheme.lower()
  if scheme not in M.NETWORK_SCHEMES:
    raise pcm.SourceError(f"--input {credentials.public_url(spec)}: unknown scheme "
                          f"{scheme!r}; streams are "
                          f"{', '.join(s + '://' for s in M.NETWORK_SCHEMES)}", usage=True)
  if scheme == M.ICECAST_SCHEME:
    return "http" + spec[len(scheme):]
  return spec


def open_source(spec, device=None, rate=None, channels=1, duration_seconds=None,
                realtime=False, input_rate=None, input_channels=1, input_format="s16le"):
  """The source --input names (not yet opened).

  Args:
    spec: 'device' (or None, ''), a file path, '-' or a stream URL.
    device, rate, channels: the PortAudio device's (--device, --rate, --channels);
      rate and channels also set what ffmpeg decodes a stream to.
    duration_seconds: stop after this much audio (--duration).
    realtime: a file at real time.
    input_rate, input_channels, input_format: raw PCM on stdin.

  Raises:
    SourceError: unknown scheme, missing file (usage errors).
  """
  if spec in (None, "", M.INPUT_DEVICE):
    return PyAudioSource(device=device, rate=rate, channels=channels,
                         duration_seconds=duration_seconds)
  if spec.startswith(M.INPUT_DEVICE + ":"):
    return PyAudioSource(device=spec.split(":", 1)[1], rate=rate, channels=channels,
                         duration_seconds=duration_seconds)
  if spec == M.INPUT_STDIN:
    return StdinSource(input_rate, input_channels, input_format, duration_seconds)
  url = network_url(spec)
  if url is not None:
    from soundscope.runtime import ffmpeg
    return ffmpeg.StreamSource(url, shown=spec, rate=rate or M.NETWORK_RATE_HZ,
                               channels=channels, duration_seconds=duration_seconds)
  if not os.path.exists(spec):
    raise pcm.SourceError(f"--input {spec}: no such file (an input is 'device', a file, '-' or a "
                      f"stream URL)", usage=True)
  if os.path.isdir(spec):
    raise pcm.SourceError(f"--input {spec}: is a folder, not an audio file", usage=True)
  return FileSource(spec, realtime=realtime, duration_seconds=duration_seconds)

