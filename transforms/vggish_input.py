"""Waveforms to VGGish input examples: [n, 96, 64] log-mel patches of 0.96 s.

Follows vggish_input.waveform_to_examples of the reference: mono by averaging
channels, resample to 16 kHz, log-mel with a 25 ms periodic Hann window and a
10 ms hop, 64 HTK-mel bands from 125 to 7500 Hz, log(mel + 0.01), then frames
of 96 log-mel frames every `example_hop_seconds` (0.96 s by default).

One example spans 15600 samples at 16 kHz (0.975 s: 95 hops of 160 samples
plus one 400-sample window).  Example k starts at sample k * hop_samples.

Short clips.  A clip shorter than 15600 samples (after resampling) gives no
example in the reference.  We never drop it silently: with the 'pad' policy
(default) its waveform is zero-padded at the end to 15600 samples, giving
exactly one example (its tail is log(0.01) = -4.605 in every band); with the
'error' policy it raises ClipTooShortError.  Longer clips are never padded:
their trailing samples that do not fill a whole example are dropped, as in the
reference.
"""

import numpy as np

from soundscope.configs import params as P
from soundscope.transforms import audio
from soundscope.transforms import errors
from soundscope.transforms import mel_features

STFT_HOP_SAMPLES = int(round(P.SAMPLE_RATE_HZ * P.STFT_HOP_SECONDS))        # 160
STFT_WINDOW_SAMPLES = int(round(P.SAMPLE_RATE_HZ * P.STFT_WINDOW_SECONDS))  # 400
# Samples covered by one example: 95 hops plus one window = 15600 at 16 kHz.
EXAMPLE_SPAN_SAMPLES = (P.NUM_FRAMES - 1) * STFT_HOP_SAMPLES + STFT_WINDOW_SAMPLES


def example_hop_frames(params):
  """Log-mel frames between consecutive examples (96 for 0.96 s)."""
  return int(round(params.example_hop_seconds / P.STFT_HOP_SECONDS))


def example_hop_samples(params):
  """Samples at 16 kHz between consecutive example starts (15360 for 0.96 s)."""
  return example_hop_frames(params) * STFT_HOP_SAMPLES


def log_mel(waveform_16k):
  """Log-mel spectrogram of a 16 kHz mono waveform.

  Args:
    waveform_16k: float [n] samples at 16 kHz in [-1, 1].

  Returns:
    float64 [1 + (n - 400) // 160, 64] log-mel frames (10 ms apart).
  """
  return mel_features.log_mel_spectrogram(
      np.asarray(waveform_16k, dtype=np.float64),
      audio_sample_rate=P.SAMPLE_RATE_HZ,
      log_offset=P.LOG_OFFSET,
      window_length_secs=P.STFT_WINDOW_SECONDS,
      hop_length_secs=P.STFT_HOP_SECONDS,
      num_mel_bins=P.NUM_MEL_BINS,
      lower_edge_hertz=P.MEL_MIN_HZ,
      upper_edge_hertz=P.MEL_MAX_HZ)


def mono16k_to_examples(waveform_16k, params=P.VggishParams()):
  """Frames a 16 kHz mono waveform into examples (no padding).

  Args:
    waveform_16k: float [n] at 16 kHz.
    params: VggishParams (example_hop_seconds).

  Returns:
    float32 [k, 96, 64], k = 1 + (n - 15600) // hop_samples, or [0, 96, 64].
  """
  if len(waveform_16k) < EXAMPLE_SPAN_SAMPLES:
    return np.zeros((0, P.NUM_FRAMES, P.NUM_BANDS), np.float32)
  frames = log_mel(waveform_16k)
  examples = mel_features.frame(frames, window_length=P.NUM_FRAMES,
                                hop_length=example_hop_frames(params))
  return examples.astype(np.float32)


def pad_short_clip(waveform_16k, path, params):
  """Applies the short-clip policy to a whole 16 kHz clip.

  Returns:
    The waveform itself if it spans one example, else (policy 'pad') the
    waveform zero-padded at the end to EXAMPLE_SPAN_SAMPLES.

  Raises:
    ClipTooShortError: policy 'error' and the clip is under one example.
  """
  n = len(waveform_16k)
  if n >= EXAMPLE_SPAN_SAMPLES:
    return waveform_16k
  if params.short_clip_policy == P.SHORT_CLIP_ERROR or n == 0:
    raise errors.ClipTooShortError(
        path, f"lasts {n / P.SAMPLE_RATE_HZ:.3f} s, shorter than one example "
              f"({EXAMPLE_SPAN_SAMPLES / P.SAMPLE_RATE_HZ:.3f} s)")
  return np.pad(np.asarray(waveform_16k, dtype=np.float64), (0, EXAMPLE_SPAN_SAMPLES - n))


def pad_short_stream(blocks_16k, path, params):
  """Applies the short-clip policy to a clip that arrives in 16 kHz blocks.

  The blocks pass through unchanged once together they span one example
  (EXAMPLE_SPAN_SAMPLES); a clip that ends before that comes out as one block
  through pad_short_clip, exactly what pad_short_clip of the whole clip gives.

  Args:
    blocks_16k: iterable of float [m] consecutive pieces of one 16 kHz clip.
    path: name used in error messages.
    params: VggishParams (short_clip_policy).

  Yields:
    float [m] blocks.

  Raises:
    ClipTooShortError: policy 'error' and the clip is under one example, or no samples.
  """
  head, held = [], 0
  for block in blocks_16k:
    if held >= EXAMPLE_SPAN_SAMPLES:
      yield block
      continue
    head.append(block)
    held += len(block)
    if held >= EXAMPLE_SPAN_SAMPLES:
      yield from head
      head = []
  if held < EXAMPLE_SPAN_SAMPLES:
    yield pad_short_clip(np.concatenate(head) if head else np.zeros(0), path, params)


def check_not_silent(waveform, path):
  """Raises SilentAudioError if every sample is exactly zero."""
  if not np.any(waveform):
    raise errors.SilentAudioError(path, "is digital silence (every sample is 0)")


def waveform_to_examples(data, sample_rate, params=P.VggishParams(), path="<waveform>",
                         reject_silence=False):
  """Converts a whole waveform in memory to examples, as the reference does.

  Args:
    data: float [n] mono or [n, channels] waveform in [-1, 1].
    sample_rate: its rate in Hz.
    params: VggishParams.
    path: name used in error messages.
    reject_silence: raise SilentAudioError for all-zero input.

  Returns:
    float32 [k, 96, 64] examples (k >= 1 under the 'pad' policy).
  """
  if not sample_rate or sample_rate <= 0:
    raise errors.InvalidSampleRateError(path, f"has an invalid sample rate of {sample_rate} Hz")
  mono = audio.to_mono(data)
  if not np.all(np.isfinite(mono)):
    raise errors.NonFiniteAudioError(path, "contains NaN or infinite samples")
  if reject_silence:
    check_not_silent(mono, path)
  mono = audio.resample(mono, sample_rate, params.sample_rate_hz, params.resample_filter)
  return mono16k_to_examples(pad_short_clip(mono, path, params), params)


class ExampleFramer:
  """Turns a stream of 16 kHz blocks into examples identical to whole-clip framing.

  Keeps at most one example span plus one block of samples: push() returns
  every example that the samples seen so far complete, and drops the samples
  that no later example needs.  Because each batch of examples is computed from
  a buffer that starts on an example boundary (a multiple of 160 samples),
  its STFT frames are exactly those of the whole clip.
  """

  def __init__(self, params=P.VggishParams()):
    self._params = params
    self._hop = example_hop_samples(params)
    self._buffer = np.zeros(0, np.float64)
    # With a hop longer than an example, the next example starts past the
    # buffered samples: this many samples still to come are skipped.
    self._skip = 0
    self.samples_seen = 0
    self.examples_emitted = 0

  def push(self, block_16k):
    """Adds samples; returns float32 [k, 96, 64] newly complete examples."""
    self.samples_seen += len(block_16k)
    block = np.asarray(block_16k, np.float64)
    skipped = min(self._skip, len(block))
    self._skip -= skipped
    self._buffer = np.concatenate([self._buffer, block[skipped:]])
    available = len(self._buffer)
    if available < EXAMPLE_SPAN_SAMPLES:
      return np.zeros((0, P.NUM_FRAMES, P.NUM_BANDS), np.float32)
    count = 1 + (available - EXAMPLE_SPAN_SAMPLES) // self._hop
    used = (count - 1) * self._hop + EXAMPLE_SPAN_SAMPLES
    examples = mono16k_to_examples(self._buffer[:used], self._params)
    next_start = count * self._hop
    self._skip = max(0, next_start - available)
    self._buffer = self._buffer[next_start:]
    self.examples_emitted += count
    return examples


def iter_file_examples(path, params=P.VggishParams(), start_seconds=None, end_seconds=None,
                       reject_silence=True):
  """Streams a file's examples block by block, in bounded memory.

  The concatenation of the yielded arrays equals
  waveform_to_examples(whole decoded range) under the same params.

  Args:
    path: audio file.
    params: VggishParams.
    start_seconds, end_seconds: optional range to cut, in seconds.
    reject_silence: raise SilentAudioError when every sample is zero.

  Yields:
    float32 [k, 96, 64] arrays (k may be 0 for some blocks).

  Returns (as the generator's value): the file's AudioInfo.

  Raises:
    AudioInputError subclasses, naming the file.
  """
  framer = ExampleFramer(params)
  stream = audio.stream_mono(path, params, start_seconds, end_seconds)
  heard_sound = False
  head = []  # The first samples, kept only until one example is complete (short-clip policy).
  while True:
    try:
      block = next(stream)
    except StopIteration as stop:
      info = stop.value
      break
    heard_sound = heard_sound or bool(np.any(block))
    if framer.examples_emitted == 0:
      head.append(block)
    examples = framer.push(block)
    if len(examples):
      head = []
      yield examples
  if framer.samples_seen == 0:
    raise errors.ClipTooShortError(path, "holds no audio samples (0 frames)")
  if reject_silence and not heard_sound:
    raise errors.SilentAudioError(path, "is digital silence (every sample is 0)")
  if framer.examples_emitted == 0:
    clip = np.concatenate(head) if head else np.zeros(0)
    yield mono16k_to_examples(pad_short_clip(clip, path, params), params)
  return info


def file_to_examples(path, params=P.VggishParams(), start_seconds=None, end_seconds=None,
                     reject_silence=True):
  """All examples of a file (or a range of it) as one float32 [k, 96, 64] array."""
  parts = list(iter_file_examples(path, params, start_seconds, end_seconds, reject_silence))
  return np.concatenate(parts) if parts else np.zeros((0, P.NUM_FRAMES, P.NUM_BANDS), np.float32)
