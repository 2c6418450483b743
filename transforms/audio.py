"""Audio in: decode, mix to mono, resample to 16 kHz, in bounded memory.

Decoding uses soundfile (libsndfile: wav, flac, ogg/vorbis, and mp3 with
libsndfile >= 1.1).  Samples come out as float32 in [-1, 1]; for 16-bit PCM
that is exactly int16 / 32768, as the VGGish reference reads wav files.
Channels are averaged to mono and the result is resampled with resampy's
filters, by default the reference's 'kaiser_best' (computed by
transforms/resample.py, equal to resampy.resample up to float rounding).

Long files are never held whole: `stream_mono` decodes blocks of
`params.read_block_seconds` with a margin on each side that covers the
resampling filter, and cuts each resampled block on a sample grid that
both rates share, each block starting where the whole file's matrix
products start (resample.aligned_start).  The concatenated blocks are
therefore the samples that resampling the whole file at once gives, bit for
bit (up to float64 rounding for the few rates with rounding outliers, e.g.
15.6 kHz), so examples computed from a stream match whole-file processing
everywhere, block edges included.
"""

import collections
import math
import os

import numpy as np
import soundfile

from soundscope.configs import params as P
from soundscope.transforms import errors
from soundscope.transforms import resample as polyphase

# Zero crossings of the resampling filter that a block's margin covers on each
# side.  resampy's tables span 50 (kaiser_best) and 24 (kaiser_fast); 64 leaves
# headroom.  When downsampling, each crossing stretches to rate_in / rate_out
# input samples.
_RESAMPLER_ZERO_CROSSINGS = 64
# Sample rates above this are refused as corrupt headers rather than audio.
MAX_SAMPLE_RATE_HZ = 768000

AudioInfo = collections.namedtuple(
    "AudioInfo",
    ["path", "sample_rate", "channels", "frames", "duration_seconds", "format", "subtype"])


def probe(path):
  """Checks that `path` is a readable audio file and describes it.

  Args:
    path: a file path.

  Returns:
    AudioInfo: sample_rate in Hz, channels, frames (samples per channel),
    duration_seconds, and libsndfile's format and subtype names.

  Raises:
    AudioFileNotFoundError, NotAFileError, EmptyFileError,
    UnreadableAudioError, UnsupportedFormatError, InvalidSampleRateError.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise errors.AudioFileNotFoundError(path, "no such file")
  if not os.path.isfile(path):
    kind = "a directory" if os.path.isdir(path) else "not a regular file"
    raise errors.NotAFileError(path, f"is {kind}, not an audio file")
  if os.path.getsize(path) == 0:
    raise errors.EmptyFileError(path, "is empty (0 bytes)")
  try:
    info = soundfile.info(path)
  except soundfile.LibsndfileError as exc:
    raise _diagnose_wav_header(path) or _libsndfile_error(path, exc) from None
  except (RuntimeError, ValueError, OSError) as exc:
    raise errors.UnreadableAudioError(path, f"cannot be decoded: {exc}") from None
  if info.format in ("WAV", "WAVEX"):
    # libsndfile quietly decodes what is there; a cut-off copy must not pass for audio.
    problem = _diagnose_wav_header(path)
    if isinstance(problem, errors.TruncatedAudioError):
      raise problem
  if not 0 < info.samplerate <= MAX_SAMPLE_RATE_HZ:
    raise errors.InvalidSampleRateError(
        path, f"has an invalid sample rate of {info.samplerate} Hz")
  if info.channels < 1:
    raise errors.UnreadableAudioError(path, f"has {info.channels} channels")
  return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames),
                   info.frames / info.samplerate, info.format, info.subtype)


def _libsndfile_error(path, exc):
  """Maps a libsndfile error to one of our error types."""
  message = str(getattr(exc, "error_string", "") or exc)
  lowered = message.lower()
  if "unsupported" in lowered or "not supported" in lowered or "encoding" in lowered:
    return errors.UnsupportedFormatError(path, f"uses an unsupported format or codec ({message})")
  if "sample rate" in lowered or "samplerate" in lowered:
    return errors.InvalidSampleRateError(path, f"has an invalid sample rate ({message})")
  return errors.UnreadableAudioError(
      path, f"is not readable audio (truncated, corrupt or not audio: {message})")


# WAVE format tags libsndfile decodes (PCM, ADPCM, float, A-law, mu-law, IMA ADPCM,
# GSM 6.10, MPEG layer 3, extensible); any other tag is a codec it cannot read.
_LIBSNDFILE_WAVE_TAGS = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0055, 0xFFFE}


def _diagnose_wav_header(path):
  """Names the problem of a RIFF/WAVE file that libsndfile refused, if the header tells.

  libsndfile reports a zero sample rate as "SF_INFO struct incomplete" and an
  unknown codec as a malformed chunk; reading the 'fmt ' chunk gives the user
  the real reason.  Returns an AudioInputError, or None when the header does
  not explain the failure; raises UnreadableAudioError when the file cannot be opened.
  """
  import struct
  try:
    with open(path, "rb") as f:
      header = f.read(4096)
  except OSError as exc:   # E.g. no read permission: that is the problem to report.
    raise errors.UnreadableAudioError(path, f"cannot be read: {exc.strerror or exc}") from None
  if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
    return None
  file_size = os.path.getsize(path)
  declared_size = struct.unpack("<I", header[4:8])[0] + 8
  # Streaming writers put 0 or 0xFFFFFFFF in the size field: no claim to check.
  size_is_claimed = 8 < declared_size < 0xFFFFFFF0
  if header[:4] == b"RIFF" and size_is_claimed and declared_size > file_size:
    return errors.TruncatedAudioError(
        path, f"is truncated: its RIFF header declares {declared_size} bytes but the file "
              f"has {file_size}")
  position = 12
  while position + 8 <= len(header):
    chunk_id = header[position:position + 4]
    chunk_size = struct.unpack("<I", header[position + 4:position + 8])[0]
    if chunk_id == b"fmt " and position + 16 <= len(header):
      tag, _, rate = struct.unpack("<HHI", header[position + 8:position + 16])
      if rate == 0:
        return errors.InvalidSampleRateError(path, "has a sample rate of 0 Hz in its header")
      if tag not in _LIBSNDFILE_WAVE_TAGS:
        return errors.UnsupportedFormatError(
            path, f"uses WAVE codec 0x{tag:04x}, which libsndfile cannot decode")
      return None
    position += 8 + chunk_size + (chunk_size & 1)
  return None


def _check_and_clip(path, samples):
  """Rejects NaN/inf and clips to [-1, 1] in place.

  Lossy decoders (Vorbis, MP3) overshoot full scale slightly; reading them as
  16-bit PCM, as the reference reads wav files, would clip the same way.
  """
  if not np.all(np.isfinite(samples)):
    raise errors.NonFiniteAudioError(path, "contains NaN or infinite samples")
  np.clip(samples, -1.0, 1.0, out=samples)


def _frame_range(info, start_seconds, end_seconds):
  """Converts a [start, end) range in seconds to a frame range of the file."""
  start = 0 if start_seconds is None else int(round(start_seconds * info.sample_rate))
  end = info.frames if end_seconds is None else int(round(end_seconds * info.sample_rate))
  start, end = max(0, start), min(info.frames, end)
  if start_seconds is not None and start >= info.frames:
    raise errors.ClipTooShortError(
        info.path, f"segment starts at {start_seconds:.3f} s but the file lasts "
                   f"{info.duration_seconds:.3f} s")
  return start, max(start, end)


def read(path, start_seconds=None, end_seconds=None):
  """Decodes a whole file (or a [start, end) range of it) into memory.

  Args:
    path: audio file.
    start_seconds, end_seconds: optional range to cut, in seconds.

  Returns:
    (samples, sample_rate): float32 [frames, channels] in [-1, 1], rate in Hz.
  """
  info = probe(path)
  start, end = _frame_range(info, start_seconds, end_seconds)
  try:
    samples, rate = soundfile.read(info.path, start=start, stop=end, dtype="float32",
                                   always_2d=True)
  except soundfile.LibsndfileError as exc:
    raise _libsndfile_error(info.path, exc) from None
  except (RuntimeError, ValueError) as exc:
    raise errors.UnreadableAudioError(info.path, f"decoding failed: {exc}") from None
  _check_and_clip(info.path, samples)
  return samples, rate


def to_mono(samples):
  """Averages channels.

  Args:
    samples: [n] or [n, channels] array.

  Returns:
    float64 [n] array (float64 as in the reference, which works on int16 / 32768.0).
  """
  samples = np.asarray(samples)
  if samples.ndim == 1:
    return samples.astype(np.float64)
  if samples.shape[1] == 1:   # The mean of one value is that value: skip the reduction.
    return samples[:, 0].astype(np.float64)
  return samples.mean(axis=1, dtype=np.float64)


def resample(waveform, rate_in, rate_out=P.SAMPLE_RATE_HZ, filter_name=P.RESAMPLE_FILTER):
  """Resamples a mono waveform with resampy's filters.

  The arithmetic is transforms/resample.py's polyphase form of
  resampy.resample, equal to it up to float64 rounding (< 1e-10) and several
  times faster, with no numba compilation; rates where that form would be
  slower go to resampy itself.

  Args:
    waveform: float [n] array.
    rate_in, rate_out: sample rates in Hz.
    filter_name: resampy filter ('kaiser_best', the reference's, or 'kaiser_fast').

  Returns:
    float64 [transforms.resample.output_length(n, rate_in, rate_out)] array (resampy's
    length); the input itself if the rates match.
  """
  if rate_in == rate_out:
    return np.asarray(waveform, dtype=np.float64)
  return polyphase.resample(waveform, rate_in, rate_out, filter_name)


def load_mono(path, params=P.VggishParams(), start_seconds=None, end_seconds=None):
  """Reads a file whole as mono float64 at params.sample_rate_hz (for short files)."""
  samples, rate = read(path, start_seconds, end_seconds)
  return resample(to_mono(samples), rate, params.sample_rate_hz, params.resample_filter)


def _grid(rate_in, rate_out):
  """Smallest (input, output) sample counts that map exactly onto each other."""
  g = math.gcd(rate_in, rate_out)
  return rate_in // g, rate_out // g


def _margin(rate_in, rate_out):
  """Input samples of context each side of a resampled block (a whole number of grid
  units) that cover the filter, so the block's outputs are the whole signal's."""
  if rate_in == rate_out:
    return 0
  unit_in, _ = _grid(rate_in, rate_out)
  stretch = max(1.0, rate_in / rate_out)
  return unit_in * math.ceil((_RESAMPLER_ZERO_CROSSINGS * stretch + 16) / unit_in)


def stream_mono(path, params=P.VggishParams(), start_seconds=None, end_seconds=None):
  """Decodes, mixes and resamples a file block by block.

  Memory stays bounded by the block length whatever the file's duration.
  The blocks, concatenated, equal `load_mono` of the same range (see the
  module docstring for why block edges need no special care).

  Args:
    path: audio file.
    params: VggishParams (sample_rate_hz, resample_filter, read_block_seconds).
    start_seconds, end_seconds: optional range of the file, in seconds.

  Yields:
    float64 [m] arrays of mono audio at params.sample_rate_hz, in order.

  Returns (as the generator's value): the AudioInfo of the file.
  """
  info = probe(path)
  start, end = _frame_range(info, start_seconds, end_seconds)
  rate_in, rate_out = info.sample_rate, params.sample_rate_hz
  unit_in, unit_out = _grid(rate_in, rate_out)
  block_units = max(1, int(params.read_block_seconds * rate_in) // unit_in)
  block_in = block_units * unit_in
  margin_in = _margin(rate_in, rate_out)
  total_in = end - start
  total_out = polyphase.output_length(total_in, rate_in, rate_out)  # resampy's, as load_mono.
  try:
    with soundfile.SoundFile(info.path) as source:
      done_out = 0
      for block_start in range(0, total_in, block_in):
        read_from = polyphase.aligned_start(max(0, block_start - margin_in), rate_in, rate_out,
                                            params.resample_filter)
        read_to = min(total_in, block_start + block_in + margin_in)
        source.seek(start + read_from)
        samples = source.read(read_to - read_from, dtype="float32", always_2d=True)
        if samples.shape[0] != read_to - read_from:
          raise errors.TruncatedAudioError(
              info.path, f"is truncated: expected {info.frames} frames, decoding stopped "
                         f"near frame {start + read_from + samples.shape[0]}")
        _check_and_clip(info.path, samples)
        resampled = resample(to_mono(samples), rate_in, rate_out, params.resample_filter)
        offset_out = (block_start - read_from) // unit_in * unit_out
        want = min(block_in // unit_in * unit_out, total_out - done_out)
        block = resampled[offset_out:offset_out + want]
        done_out += block.shape[0]
        yield block
  except soundfile.LibsndfileError as exc:
    raise _libsndfile_error(info.path, exc) from None
  except (RuntimeError, ValueError) as exc:
    raise errors.UnreadableAudioError(info.path, f"decoding failed: {exc}") from None
  return info


class StreamResampler:
  """Resamples one mono stream that arrives in pieces of any length, keeping its state.

  The live runtime's counterpart of stream_mono: each call resamples all the
  input whose right margin (_margin: the filter's reach, rounded up to the
  grid both rates share) has arrived, with the margin of context on each side
  (zeros before the stream's first sample, as resampling the whole stream at
  once), and cuts the result on that grid.  Each piece starts where the
  whole signal's matrix products start (resample.aligned_start), so the
  concatenated outputs equal resample() of the whole stream, and stream_mono
  of the same samples, bit for bit, however the input was cut (rates with
  rounding outliers, e.g. 15.6 kHz, only up to float64 rounding).  The output
  lags the input by less than the margin plus one grid unit (44.1 kHz:
  441 + 441 input samples, 20 ms); `finish` resamples the rest, as the
  stream's end.

  Args:
    rate_in: the stream's sample rate, Hz.
    rate_out: the output rate, Hz.
    filter_name: resampy filter ('kaiser_best' or 'kaiser_fast').
  """

  def __init__(self, rate_in, rate_out=P.SAMPLE_RATE_HZ, filter_name=P.RESAMPLE_FILTER):
    self.rate_in, self.rate_out = int(rate_in), int(rate_out)
    self.filter_name = filter_name
    self._unit_in, self._unit_out = _grid(self.rate_in, self.rate_out)
    self._margin_in = _margin(self.rate_in, self.rate_out)
    self._held = np.zeros(0, np.float64)   # Input samples from index _held_from on.
    self._held_from = 0
    self.samples_in = 0       # Input samples received.
    self.samples_out = 0      # Output samples returned.
    self._done_in = 0         # Input samples whose outputs were returned (grid multiple).

  def add(self, samples):
    """float [n] mono input -> float64 [m] output samples now final (m may be 0)."""
    samples = np.array(samples, np.float64)
    self.samples_in += len(samples)
    if self.rate_in == self.rate_out:
      self.samples_out += len(samples)
      return samples
    self._held = np.concatenate([self._held, samples])
    ready = (self.samples_in - self._margin_in) // self._unit_in * self._unit_in
    if ready <= self._done_in:
      return np.zeros(0, np.float64)
    want = (ready - self._done_in) // self._unit_in * self._unit_out
    return self._take(ready + self._margin_in, want, ready)

  def finish(self):
    """float64 [m]: the outputs still held back, the stream having ended here."""
    total_out = polyphase.output_length(self.samples_in, self.rate_in, self.rate_out)
    if self.rate_in == self.rate_out or total_out <= self.samples_out:
      return np.zeros(0, np.float64)
    return self._take(self.samples_in, total_out - self.samples_out, self.samples_in)

  def _take(self, read_to, want, done_in):
    """`want` outputs from _done_in on, resampling input [_done_in - margin, read_to);
    then the input before done_in - margin is let go."""
    read_from = self._piece_start(self._done_in)
    piece = self._held[read_from - self._held_from:read_to - self._held_from]
    resampled = resample(piece, self.rate_in, self.rate_out, self.filter_name)
    offset_out = (self._done_in - read_from) // self._unit_in * self._unit_out
    out = resampled[offset_out:offset_out + want]
    self.samples_out += len(out)
    self._done_in = done_in
    keep_from = self._piece_start(done_in)   # The next piece's start.
    self._held = self._held[keep_from - self._held_from:]
    self._held_from = keep_from
    return out

  def _piece_start(self, done_in):
    """Where the piece for outputs from input `done_in` on starts: its margin of
    context before, moved back to where the whole stream's products start."""
    return polyphase.aligned_start(max(0, done_in - self._margin_in), self.rate_in,
                                   self.rate_out, self.filter_name)
