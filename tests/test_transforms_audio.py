"""Decoding, mixing, resampling, block streaming, short clips and bad input."""

import struct

import numpy as np
import pytest
import soundfile

from soundscope.configs import params as P
from soundscope.transforms import audio
from soundscope.transforms import errors
from soundscope.transforms import resample as polyphase
from soundscope.transforms import vggish_input


def _tone(seconds, rate, channels=1, seed=0):
  """A chirp plus noise, float32 [n, channels] in [-0.8, 0.8]."""
  rng = np.random.default_rng(seed)
  t = np.arange(int(seconds * rate)) / rate
  base = 0.5 * np.sin(2 * np.pi * (200 + 300 * t) * t)
  columns = [base + 0.1 * rng.standard_normal(len(t)) * (c + 1) for c in range(channels)]
  return np.clip(np.stack(columns, axis=1), -0.8, 0.8).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype,ext,tolerance", [
    ("WAV", "PCM_16", "wav", 1 / 32768),
    ("FLAC", "PCM_16", "flac", 1 / 32768),
    ("OGG", "VORBIS", "ogg", 0.05),
    ("MP3", "MPEG_LAYER_III", "mp3", 0.2),
])
def test_decodes_each_container_to_float32(tmp_path, fmt, subtype, ext, tolerance):
  samples = _tone(1.5, 22050, channels=2)
  path = tmp_path / f"clip.{ext}"
  soundfile.write(path, samples, 22050, format=fmt, subtype=subtype)
  decoded, rate = audio.read(path)
  assert rate == 22050 and decoded.dtype == np.float32 and decoded.shape[1] == 2
  assert np.abs(decoded).max() <= 1.0
  if fmt in ("WAV", "FLAC"):  # Lossless: exactly the 16-bit values.
    assert decoded.shape == samples.shape
    np.testing.assert_allclose(decoded, samples, atol=tolerance)
  else:  # Lossy codecs add delay and change samples; the level must survive.
    assert abs(np.sqrt(np.mean(decoded ** 2)) - np.sqrt(np.mean(samples ** 2))) < tolerance


def test_pcm16_reads_as_int16_over_32768(tmp_path):
  ints = np.array([-32768, -1, 0, 1, 32767], np.int16)
  soundfile.write(tmp_path / "x.wav", ints, 16000, subtype="PCM_16")
  decoded, _ = audio.read(tmp_path / "x.wav")
  np.testing.assert_array_equal(decoded[:, 0], ints / 32768.0)


def test_mono_is_the_channel_mean():
  stereo = np.array([[1.0, 0.0], [0.5, -0.5], [-1.0, -0.25]], np.float32)
  np.testing.assert_allclose(audio.to_mono(stereo), [0.5, 0.0, -0.625])
  # One channel: exactly the reference's mean over it, bit for bit.
  one = np.random.default_rng(0).uniform(-1, 1, (4096, 1)).astype(np.float32)
  mono = audio.to_mono(one)
  assert mono.dtype == np.float64
  np.testing.assert_array_equal(mono, one.mean(axis=1, dtype=np.float64))


def test_default_resampler_is_the_references_kaiser_best():
  import resampy
  x = _tone(0.5, 44100)[:, 0].astype(np.float64)
  np.testing.assert_allclose(audio.resample(x, 44100), resampy.resample(x, 44100, 16000),
                             rtol=0, atol=1e-10)
  fast = audio.resample(x, 44100, filter_name=P.FAST_RESAMPLE_FILTER)
  np.testing.assert_allclose(fast, resampy.resample(x, 44100, 16000, filter="kaiser_fast"),
                             rtol=0, atol=1e-10)
  assert np.abs(fast - audio.resample(x, 44100)).max() > 1e-6  # Really another filter.


@pytest.mark.parametrize("rate,channels", [(44100, 2), (8000, 1), (48000, 1), (16000, 2),
                                           (22050, 1)])
def test_stream_equals_whole_file_at_every_block_edge(tmp_path, rate, channels):
  path = tmp_path / "long.flac"
  soundfile.write(path, _tone(23.3, rate, channels), rate, subtype="PCM_16")
  params = P.VggishParams(read_block_seconds=2.5)
  whole = audio.load_mono(path)
  blocks = list(audio.stream_mono(path, params))
  assert max(len(b) for b in blocks) <= int(2.5 * 16000) + 1
  streamed = np.concatenate(blocks)
  assert streamed.shape == whole.shape
  # Bit for bit: each block's matrix products are the whole file's (resample.aligned_start).
  np.testing.assert_array_equal(streamed, whole)
  examples = vggish_input.file_to_examples(path, params)
  np.testing.assert_array_equal(examples, vggish_input.waveform_to_examples(whole, 16000))


def _naive_length(n, rate_in, rate_out):
  """The streaming loader's old output length: the same quotient in another float order."""
  return int(n * (rate_out / rate_in))


def test_short_file_streams_to_the_whole_file_samples(tmp_path):
  # 117 samples at 15.6 kHz -> 16 kHz: 117 * 16000 / 15600 is exactly 120 (resampy's
  # length), but 117 * (16000 / 15600) rounds to 119.99999999999999.
  import resampy
  assert _naive_length(117, 15600, 16000) == 119
  path = tmp_path / "short.wav"
  soundfile.write(path, _tone(117 / 15600, 15600), 15600, subtype="PCM_16")
  params = P.VggishParams(read_block_seconds=P.MIN_READ_BLOCK_SECONDS)
  whole = audio.load_mono(path, params)
  streamed = np.concatenate(list(audio.stream_mono(path, params)))
  assert whole.shape == streamed.shape == (120,)
  np.testing.assert_array_equal(streamed, whole)
  decoded = audio.to_mono(audio.read(path)[0])
  assert decoded.shape == (117,)
  np.testing.assert_allclose(whole, resampy.resample(decoded, 15600, 16000), rtol=0, atol=1e-10)


def _sweep_pairs():
  """(length, rate) pairs to 16 kHz: per rate, three short lengths where the two
  float orders disagree, one over two read blocks (low rates, to stay fast),
  and two random lengths."""
  rng = np.random.default_rng(11)
  pairs = []
  for rate in (15600, 7800, 12250, 24500, 25750, 6100, 44100, 22050, 8000):
    block = int(P.MIN_READ_BLOCK_SECONDS * rate)
    lengths = np.arange(3, 3 * block)
    disagree = lengths[(lengths * (16000 / rate)).astype(np.int64) !=
                       (lengths * 16000.0 / rate).astype(np.int64)]
    long_ones = disagree[disagree > 2 * block][:1] if rate < 16000 else []
    chosen = list(disagree[:3]) + list(long_ones) + list(rng.integers(3, 4000, 2))
    pairs += [(int(n), rate) for n in chosen]
  return pairs


def test_streamed_and_whole_lengths_equal_resampys_over_a_sweep(tmp_path):
  import resampy
  pairs = _sweep_pairs()
  assert sum(_naive_length(n, r, 16000) != polyphase.output_length(n, r, 16000)
             for n, r in pairs) >= 20
  params = P.VggishParams(read_block_seconds=P.MIN_READ_BLOCK_SECONDS)
  rng = np.random.default_rng(12)
  for length, rate in pairs:
    path = tmp_path / f"x_{rate}_{length}.wav"
    soundfile.write(path, rng.uniform(-0.5, 0.5, length).astype(np.float32), rate,
                    subtype="FLOAT")
    expected = resampy.resample(audio.to_mono(audio.read(path)[0]), rate, 16000).shape[0]
    assert polyphase.output_length(length, rate, 16000) == expected, (length, rate)
    assert audio.load_mono(path, params).shape[0] == expected, (length, rate)
    assert sum(len(b) for b in audio.stream_mono(path, params)) == expected, (length, rate)


def test_segment_range_cuts_the_file(tmp_path):
  samples = _tone(10.0, 16000)
  soundfile.write(tmp_path / "x.wav", samples, 16000, subtype="FLOAT")
  cut = audio.load_mono(tmp_path / "x.wav", start_seconds=2.0, end_seconds=5.5)
  np.testing.assert_allclose(cut, samples[32000:88000, 0], atol=1e-7)
  streamed = np.concatenate(list(audio.stream_mono(
      tmp_path / "x.wav", P.VggishParams(read_block_seconds=2.0), 2.0, 5.5)))
  np.testing.assert_allclose(streamed, cut, atol=1e-9)


def test_example_count_and_configurable_hop(tmp_path):
  soundfile.write(tmp_path / "x.wav", _tone(5.0, 16000), 16000, subtype="PCM_16")
  # 80000 samples: 1 + (80000 - 15600) // 15360 = 5 examples at 0.96 s;
  # 1 + 64400 // 7680 = 9 at 0.48 s.
  assert vggish_input.file_to_examples(tmp_path / "x.wav").shape == (5, 96, 64)
  half = P.VggishParams(example_hop_seconds=0.48)
  examples = vggish_input.file_to_examples(tmp_path / "x.wav", half)
  assert examples.shape == (9, 96, 64)
  np.testing.assert_array_equal(examples[2], vggish_input.file_to_examples(tmp_path / "x.wav")[1])


@pytest.mark.parametrize("hop", [0.25, 0.96, 1.5, 3.0, 7.3])
def test_streamed_examples_equal_whole_clip_examples_at_any_hop(tmp_path, hop):
  # Hops longer than an example (0.975 s of samples) skip audio that may span
  # several decoded blocks; shorter ones overlap across block edges.
  soundfile.write(tmp_path / "x.wav", _tone(45.0, 16000), 16000, subtype="PCM_16")
  params = P.VggishParams(example_hop_seconds=hop, read_block_seconds=2.0)
  whole = vggish_input.waveform_to_examples(audio.load_mono(tmp_path / "x.wav"), 16000, params)
  assert len(whole) == 1 + (45 * 16000 - 15600) // (round(hop * 100) * 160)
  np.testing.assert_array_equal(vggish_input.file_to_examples(tmp_path / "x.wav", params), whole)


def test_short_clip_is_padded_to_one_example(tmp_path):
  soundfile.write(tmp_path / "short.wav", _tone(0.3, 16000), 16000, subtype="PCM_16")
  examples = vggish_input.file_to_examples(tmp_path / "short.wav")
  assert examples.shape == (1, 96, 64)
  # Frames wholly inside the zero padding are log(0 + 0.01).
  np.testing.assert_allclose(examples[0, -50:], np.log(0.01), atol=1e-6)
  assert examples[0, 0].max() > np.log(0.01) + 1


def test_short_clip_error_policy(tmp_path):
  soundfile.write(tmp_path / "short.wav", _tone(0.3, 16000), 16000, subtype="PCM_16")
  strict = P.VggishParams(short_clip_policy=P.SHORT_CLIP_ERROR)
  with pytest.raises(errors.ClipTooShortError, match="short.wav.*shorter than one example"):
    vggish_input.file_to_examples(tmp_path / "short.wav", strict)


def test_long_clip_tail_is_not_padded(tmp_path):
  soundfile.write(tmp_path / "x.wav", _tone(2.5, 16000), 16000, subtype="PCM_16")
  assert len(vggish_input.file_to_examples(tmp_path / "x.wav")) == 2


def _wav_bytes(tmp_path):
  soundfile.write(tmp_path / "ok.wav", _tone(1.2, 16000), 16000, subtype="PCM_16")
  return (tmp_path / "ok.wav").read_bytes()


def _make_bad(tmp_path, case):
  path = tmp_path / f"{case}.wav"
  if case == "missing":
    return path
  if case == "directory":
    path.mkdir()
  elif case == "zero_bytes":
    path.write_bytes(b"")
  elif case == "text":
    path.write_text("this is a text file, not audio\n" * 20)
  elif case == "truncated_header":
    path.write_bytes(_wav_bytes(tmp_path)[:30])
  elif case == "truncated_data":
    data = _wav_bytes(tmp_path)
    path.write_bytes(data[:len(data) // 2])
  elif case == "unsupported_codec":
    data = bytearray(_wav_bytes(tmp_path))
    data[20:22] = struct.pack("<H", 0x2000)  # WAVE_FORMAT_DOLBY_AC3.
    path.write_bytes(bytes(data))
  elif case == "sample_rate_zero":
    data = bytearray(_wav_bytes(tmp_path))
    data[24:32] = struct.pack("<II", 0, 0)
    path.write_bytes(bytes(data))
  elif case == "all_zero":
    soundfile.write(path, np.zeros(24000, np.int16), 16000, subtype="PCM_16")
  elif case in ("nan", "inf"):
    samples = _tone(1.2, 16000)
    samples[500] = np.nan if case == "nan" else np.inf
    soundfile.write(path, samples, 16000, subtype="FLOAT")
  return path


BAD_INPUTS = {
    "missing": (errors.AudioFileNotFoundError, "no such file"),
    "directory": (errors.NotAFileError, "is a directory"),
    "zero_bytes": (errors.EmptyFileError, "empty"),
    "text": (errors.UnreadableAudioError, "not readable audio"),
    "truncated_header": (errors.TruncatedAudioError, "truncated"),
    "truncated_data": (errors.TruncatedAudioError, "truncated"),
    "unsupported_codec": (errors.UnsupportedFormatError, "codec 0x2000"),
    "sample_rate_zero": (errors.InvalidSampleRateError, "sample rate of 0"),
    "all_zero": (errors.SilentAudioError, "silence"),
    "nan": (errors.NonFiniteAudioError, "NaN or infinite"),
    "inf": (errors.NonFiniteAudioError, "NaN or infinite"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_its_own_error_naming_the_file(tmp_path, case):
  error_type, message = BAD_INPUTS[case]
  path = _make_bad(tmp_path, case)
  with pytest.raises(error_type) as raised:
    vggish_input.file_to_examples(path)
  assert type(raised.value) is error_type  # The specific type, not just a base class.
  assert str(path) in str(raised.value) and message in str(raised.value)
  assert raised.value.path == str(path)
  assert errors.error_kind(raised.value) == error_type.kind


def test_a_file_that_cannot_be_opened_is_an_audio_input_error(tmp_path, monkeypatch):
  # Tests run as root, where chmod 000 does not stop reading: the refusal is simulated.
  soundfile.write(tmp_path / "locked.wav", _tone(1.2, 16000), 16000, subtype="PCM_16")

  def refuse(path, *args, **kwargs):
    raise PermissionError(13, "Permission denied", str(path))
  monkeypatch.setattr(audio, "open", refuse, raising=False)
  with pytest.raises(errors.UnreadableAudioError, match="locked.wav.*Permission denied"):
    audio.probe(tmp_path / "locked.wav")


def test_silence_is_accepted_when_asked(tmp_path):
  path = _make_bad(tmp_path, "all_zero")
  examples = vggish_input.file_to_examples(path, reject_silence=False)
  np.testing.assert_allclose(examples, np.log(0.01), atol=1e-6)


def test_errors_survive_pickling():
  import pickle
  error = errors.TruncatedAudioError("a.wav", "is truncated")
  copy = pickle.loads(pickle.dumps(error))
  assert type(copy) is errors.TruncatedAudioError and str(copy) == str(error)
