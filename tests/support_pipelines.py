"""Helpers for the pipeline tests: a generated corpus and a tiny real classifier.

TinyClassifier really computes its scores from its input (no canned answers):
windows of 0.975 s every 0.96 s over 16 kHz audio, three features per window
(RMS level, zero-crossing rate, peak level) through a fixed logistic layer;
embedding_scores pools the dequantized AudioSet embedding frames through
another fixed logistic layer.  Tests check the pipeline's rows against a
direct call of the same classifier.
"""

import os

import numpy as np
import soundfile

from soundscope.models import classifier
from soundscope.transforms import postprocess

WINDOW_SAMPLES = 15600
HOP_SAMPLES = 15360
LABELS = ("Quiet", "Loud", "Noisy", "Tonal")


class TinyClassifier(classifier.Classifier):
  """Four labels from simple signal statistics; 128-d embeddings through a fixed layer."""
  name = "tiny"
  version = "1.0"
  labels = LABELS
  default_aggregation = "mean"
  framing = classifier.Framing(HOP_SAMPLES, WINDOW_SAMPLES)  # Long audio is scored in pieces.

  def __init__(self):
    self._weights = np.array([[-8.0, 0.0, -4.0], [8.0, 0.0, 4.0], [0.0, 12.0, 0.0],
                              [0.0, -12.0, 2.0]], np.float64)
    self._bias = np.array([2.0, -2.0, -3.0, 1.0])
    rng = np.random.default_rng(1234)
    self._embedding_weights = rng.standard_normal((128, len(LABELS))) * 0.2

  def _features(self, window):
    rms = np.sqrt(np.mean(window ** 2))
    zero_crossings = np.mean(np.abs(np.diff(np.signbit(window).astype(np.int8))))
    return np.array([rms, zero_crossings, np.max(np.abs(window))])

  def window_scores(self, waveform_16k):
    wave = np.asarray(waveform_16k, np.float64)
    if len(wave) < WINDOW_SAMPLES:
      wave = np.pad(wave, (0, WINDOW_SAMPLES - len(wave)))
    starts = np.arange(0, len(wave) - WINDOW_SAMPLES + 1, HOP_SAMPLES)
    features = np.stack([self._features(wave[s:s + WINDOW_SAMPLES]) for s in starts])
    scores = 1.0 / (1.0 + np.exp(-(features @ self._weights.T + self._bias)))
    return classifier.WindowScores(starts / 16000.0, (starts + WINDOW_SAMPLES) / 16000.0,
                                   scores.astype(np.float32))

  def embedding_scores(self, quantized_frames):
    frames = postprocess.dequantize(np.asarray(quantized_frames, np.uint8))
    logits = frames.mean(axis=0) @ self._embedding_weights
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def child_env(**extra):
  """os.environ for a child process that imports the tests' custom models (this folder
  first on PYTHONPATH), plus `extra`."""
  here = os.path.dirname(os.path.abspath(__file__))
  env = dict(os.environ, **extra)
  env["PYTHONPATH"] = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
  return env


def make_tiny_classifier():
  """The --model-factory entry point: `support_pipelines:make_tiny_classifier`."""
  return TinyClassifier()


def make_tiny_classifier_after_tensorflow():
  """The same model, loaded as real ones are: after importing TensorFlow, whose import
  writes native lines to fd 2 on some CPUs (on every CPU with TF_ENABLE_ONEDNN_OPTS=1)."""
  import tensorflow  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
  return TinyClassifier()


def tone(seconds, rate, channels=1, frequency=440.0, noise=0.05, seed=0):
  """A tone with some noise: float32 [n] or [n, channels] in [-1, 1]."""
  rng = np.random.default_rng(seed)
  t = np.arange(int(round(seconds * rate))) / rate
  mono = 0.4 * np.sin(2 * np.pi * frequency * t) + noise * rng.standard_normal(len(t))
  if channels == 1:
    return mono.astype(np.float32)
  return np.stack([mono * (0.5 + 0.5 * c / channels) for c in range(channels)],
                  axis=1).astype(np.float32)


# (relative path, seconds, rate, channels, soundfile format/subtype or None)
GOOD_FILES = (
    ("wav/mono_16k.wav", 2.0, 16000, 1, "PCM_16"),
    ("wav/stereo_48k.wav", 1.5, 48000, 2, "PCM_16"),
    ("flac/mono_8k.flac", 3.0, 8000, 1, "PCM_16"),
    ("flac/stereo_22k.flac", 0.5, 22050, 2, "PCM_24"),
    ("ogg/mono_32k.ogg", 1.2, 32000, 1, "VORBIS"),
    ("long/mono_11k_30s.wav", 30.0, 11025, 1, "PCM_16"),
)


def write_good_corpus(root):
  """Writes GOOD_FILES under root; returns {relative path: (seconds, rate, channels)}."""
  written = {}
  for index, (relative, seconds, rate, channels, subtype) in enumerate(GOOD_FILES):
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(path, tone(seconds, rate, channels, 200.0 + 150 * index, seed=index), rate,
                    subtype=subtype)
    written[relative] = (seconds, rate, channels)
  return written


# (relative path, expected error_type)
BAD_FILES = (
    ("bad/zero_bytes.wav", "empty_file"),
    ("bad/text.wav", "unreadable_audio"),
    ("bad/truncated_header.wav", "unreadable_audio"),
    ("bad/x.wav", "not_a_file"),
    ("bad/silence.wav", "silent_audio"),
)


def write_bad_files(root):
  """Writes BAD_FILES under root (plus 0.2 s of audio, which 'pad' accepts)."""
  bad = os.path.join(root, "bad")
  os.makedirs(bad, exist_ok=True)
  open(os.path.join(bad, "zero_bytes.wav"), "wb").close()
  with open(os.path.join(bad, "text.wav"), "w") as handle:
    handle.write("this is not a wav file, only text with a .wav name\n" * 20)
  soundfile.write(os.path.join(bad, "full.wav"), tone(1.0, 16000), 16000)
  with open(os.path.join(bad, "full.wav"), "rb") as handle:
    header = handle.read(30)
  os.remove(os.path.join(bad, "full.wav"))
  with open(os.path.join(bad, "truncated_header.wav"), "wb") as handle:
    handle.write(header)
  os.makedirs(os.path.join(bad, "x.wav"), exist_ok=True)
  soundfile.write(os.path.join(bad, "silence.wav"), np.zeros(16000, np.float32), 16000)
  soundfile.write(os.path.join(bad, "short_0.2s.wav"), tone(0.2, 16000, seed=9), 16000)
  return dict(BAD_FILES)


class FailingClassifier(TinyClassifier):
  """Fails on clips longer than 10 s, as a broken model would (inference errors)."""
  name = "failing"
  framing = None  # Always given whole clips, so a 30 s file fails whatever --score-block says.

  def window_scores(self, waveform_16k):
    if len(waveform_16k) > 10 * 16000:
      raise ValueError("clip longer than 10 s")
    return super().window_scores(waveform_16k)


def make_failing_classifier():
  return FailingClassifier()


class BoundedClassifier(TinyClassifier):
  """Refuses clips over MAX_SECONDS, as a model with a fixed input limit would.

  Scoring a long file with it succeeds only if the file reaches the model in
  pieces (Classifier.stream_window_scores).
  """
  MAX_SECONDS = 8.0

  def window_scores(self, waveform_16k):
    if len(waveform_16k) > self.MAX_SECONDS * 16000:
      raise ValueError(f"clip of {len(waveform_16k) / 16000:.1f} s, over {self.MAX_SECONDS} s")
    return super().window_scores(waveform_16k)


def make_bounded_classifier():
  return BoundedClassifier()


class AudioOnlyClassifier(TinyClassifier):
  """Scores audio but has no head on AudioSet embeddings, as YAMNet: every record fails."""
  name = "audio_only"
  embedding_scores = classifier.Classifier.embedding_scores
  embedding_batch_scores = classifier.Classifier.embedding_batch_scores


def make_audio_only_classifier():
  return AudioOnlyClassifier()
