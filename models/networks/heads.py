"""A trained head on VGGish embeddings as a Classifier (the network side of a head).

The store's side (export, manifest, finding VGGish) is models/store/heads.py.
A head directory (`<store>/<name>/`) holds:
  head.keras   the trained Keras model (models/networks/frame_models layers)
  labels.csv   index,mid,display_name of its classes
  model.json   {"name", "version", "kind": "vggish_head", "requires": ["vggish"],
                "files": {file: {"sha256", "size"}}, "labels": "labels.csv",
                "feature_spec": {...}, "model_class", "training": {...},
                "metrics": {...}, "default_aggregation": "mean"}

`store.heads.load_head_classifier(head_dir, store)` returns a HeadClassifier:
  embedding_scores(uint8 [frames, 128])  dequantize -> head (no VGGish needed)
  window_scores(wave16k)                 VGGish examples -> VGGish (the store's
                                         vggish/ checkpoint) -> PCA + quantize ->
                                         dequantize -> head, per window of up to
                                         max_frames 0.96 s frames.
VGGish loads on the first window_scores call, so embedding-only use never needs
its checkpoint.
"""

import json
import logging
import pathlib

import numpy as np

from soundscope.configs import params as P
from soundscope.models import class_map
from soundscope.models import classifier as C
from soundscope.models import readers
from soundscope.models.networks import fixed_calls
from soundscope.transforms import postprocess

log = logging.getLogger(__name__)

KIND = "vggish_head"
MANIFEST_NAME = "model.json"
HEAD_FILE = "head.keras"
LABELS_FILE = "labels.csv"
DEFAULT_AGGREGATION = "mean"
# Windows in every head call, padded when fewer (256 windows of 10 x 128 float32 frames
# are 1.3 MiB of input; a call costs ~15 ms for 1 window, ~30 ms for 256 here).  One
# shape for every call, because a product's rounding depends on its shape: 1 window
# alone and among 16 differed by 1 ulp.  With one shape a window's scores did not
# depend on the windows scored with it (checked on TensorFlow's own kernels and on
# oneDNN's, AVX2 and AVX: tests/test_train_heads.py), so classify, predict on records
# and the live loop give a window the same scores for the same embeddings.  The call
# is a tf.function traced once for that shape: ~9 ms for 256 windows against ~32 ms
# eager (an AttentionPoolingModel of 16 units here; eager dispatches ~95 ops per call).
BATCH_WINDOWS = 256


def load_manifest(head_dir):
  """The parsed model.json of a head directory."""
  path = pathlib.Path(head_dir) / MANIFEST_NAME
  if not path.is_file():
    raise FileNotFoundError(f"{head_dir}: no {MANIFEST_NAME} (not a trained head directory)")
  with open(path) as stream:
    manifest = json.load(stream)
  if manifest.get("kind") != KIND:
    raise ValueError(f"{head_dir}: kind {manifest.get('kind')!r}, expected {KIND!r}")
  return manifest


class HeadLoadError(ValueError):
  """A head's Keras file cannot be loaded; the message names the file and why."""


def load_keras_head(head_dir):
  """The Keras model of a head directory (HeadLoadError when the file is not a loadable one)."""
  import keras
  from soundscope.models.networks import ensemble_layers  # noqa: F401  (registers every custom layer)
  path = pathlib.Path(head_dir) / HEAD_FILE
  try:
    return keras.models.load_model(path, compile=False)
  except Exception as exc:  # Keras raises many types for a damaged archive: one line for all.
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    raise HeadLoadError(f"{path}: not a loadable Keras model ({type(exc).__name__}: "
                        f"{first_line})") from None


class HeadClassifier(C.Classifier):
  """A trained head on VGGish embeddings as a soundscope.models.classifier.Classifier.

  Args:
    head_dir: the head's directory (model.json, head.keras, labels.csv).
    vggish_files: callable returning (checkpoint path, PCA params path), called
      on first use of window_scores; None makes window_scores raise.
    vggish_params: configs.params.VggishParams of the front end.
  """
  default_aggregation = DEFAULT_AGGREGATION
  thread_safe = False

  def __init__(self, head_dir, vggish_files=None, vggish_params=P.VggishParams()):
    self.head_dir = pathlib.Path(head_dir)
    self.manifest = load_manifest(self.head_dir)
    self.name = self.manifest.get("name", self.head_dir.name)
    self.version = str(self.manifest.get("version", "1"))
    self.default_aggregation = self.manifest.get("default_aggregation", DEFAULT_AGGREGATION)
    classes = class_map.read(self.head_dir / self.manifest.get("labels", LABELS_FILE))
    self.mids, self.labels = list(classes.mids), classes.display_names
    spec = self.manifest.get("feature_spec", {})
    self.feature_size = int(spec.get("feature_size", P.EMBEDDING_SIZE))
    self.max_frames = int(spec.get("max_frames", P.MAX_FRAMES))
    self.model = load_keras_head(self.head_dir)
    self._forward = None   # The compiled head call (_head_call), made on first use.
    self._vggish_files = vggish_files
    self._vggish_params = vggish_params
    self._embedder = None
    self._postprocessor = None

  @property
  def framing(self):
    """Window i holds VGGish examples [i * max_frames, (i + 1) * max_frames) of the clip."""
    from soundscope.transforms import vggish_input
    hop = vggish_input.example_hop_samples(self._vggish_params)
    return C.Framing(self.max_frames * hop,
                     (self.max_frames - 1) * hop + vggish_input.EXAMPLE_SPAN_SAMPLES)

  def _score_windows(self, quantized_windows):
    """uint8 [w, max_frames, d] padded windows + counts -> float32 [w, C], in calls of
    exactly BATCH_WINDOWS windows (the last filled with empty one-frame windows)."""
    frames, counts = quantized_windows

    def call(chunk, chunk_counts):
      data = readers.FrameData(None, chunk, chunk_counts, None)
      return np.asarray(self._head_call(readers.dequantized_inputs(data)), np.float32)
    return fixed_calls.run(call, BATCH_WINDOWS, (frames, counts), (0, 1))

  def _head_call(self, inputs):
    """The head on {"frames": float32 [BATCH_WINDOWS, max_frames, d], "num_frames": int32
    [BATCH_WINDOWS]} -> float32 tensor [BATCH_WINDOWS, C], through one tf.function traced
    for that one shape."""
    if self._forward is None:
      import tensorflow as tf
      model = self.model
      spec = {"frames": tf.TensorSpec([BATCH_WINDOWS, self.max_frames, self.feature_size],
                                      tf.float32),
              "num_frames": tf.TensorSpec([BATCH_WINDOWS], tf.int32)}
      self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return self._forward(inputs)

  def _checked(self, quantized):
    """uint8 [frames, d] embeddings as an array; ValueError for any other shape or none."""
    quantized = np.asarray(quantized)
    if quantized.dtype != np.uint8 or quantized.ndim != 2 or (
        quantized.shape[1] != self.feature_size):
      raise ValueError(f"expected uint8 [frames, {self.feature_size}] embeddings, got "
                       f"{quantized.dtype} {quantized.shape}")
    if len(quantized) == 0:
      raise ValueError("no embedding frames to score")
    return quantized

  def _single_frame_windows(self, quantized):
    """One padded window per frame of uint8 [frames, d]: [frames, max_frames, d], counts 1."""
    quantized = self._checked(quantized)
    frames = np.zeros((len(quantized), self.max_frames, self.feature_size), np.uint8)
    frames[:, 0] = quantized
    return frames, np.ones(len(quantized), np.int32)

  def _windows(self, quantized):
    """Splits uint8 [frames, d] into padded windows of up to max_frames frames."""
    quantized = self._checked(quantized)
    chunks = [quantized[i:i + self.max_frames] for i in range(0, len(quantized), self.max_frames)]
    padded = [readers.pad_frames(chunk, self.max_frames) for chunk in chunks]
    return (np.stack([frames for frames, _ in padded]),
            np.array([count for _, count in padded], np.int32))

  def embedding_window_scores(self, quantized):
    """Scores of each max_frames-frame window of uint8 [frames, d] embeddings.

    Returns:
      WindowScores: windows of up to max_frames 0.96 s frames.
    """
    frames, counts = self._windows(quantized)
    hop = P.EXAMPLE_HOP_SECONDS
    starts = np.arange(len(counts)) * self.max_frames * hop
    ends = starts + counts * hop
    return C.WindowScores(starts.astype(np.float64), ends.astype(np.float64),
                          self._score_windows((frames, counts)))

  def embedding_batch_scores(self, records, per_frame=False):
    """Classifier.embedding_batch_scores with the windows of all records in few model calls.

    Every record's windows (per_frame: one window per frame) go through the head
    in calls of BATCH_WINDOWS windows; a record that is not uint8
    [frames, d] gets its ValueError instead of scores.
    """
    results, windows, counts, owners = [], [], [], []
    for quantized in records:
      try:
        frames, frame_counts = (self._single_frame_windows(quantized) if per_frame
                                else self._windows(quantized))
      except ValueError as exc:
        results.append(exc)
        continue
      owners.append((len(results), len(frame_counts)))
      results.append(None)
      windows.append(frames)
      counts.append(frame_counts)
    if not windows:
      return results
    scores = self._score_windows((np.concatenate(windows), np.concatenate(counts)))
    first = 0
    for index, num_windows in owners:
      mine = scores[first:first + num_windows]
      first += num_windows
      results[index] = mine if per_frame else C.aggregate(mine, self.default_aggregation)
    return results

  def embedding_scores(self, quantized_frames):
    """float32 [C] clip scores of uint8 [frames, d] embeddings (AudioSet release format).

    A record of up to max_frames frames (every AudioSet segment) is scored in
    one pass, exactly as in training; longer inputs average their windows.
    """
    scores = self.embedding_window_scores(quantized_frames).scores
    return C.aggregate(scores, self.default_aggregation)

  def quantized_embeddings(self, waveform_16k):
    """uint8 [frames, 128] release-format embeddings of 16 kHz mono audio."""
    from soundscope.transforms import vggish_input
    if self._embedder is None:
      if self._vggish_files is None:
        raise RuntimeError(f"head {self.name!r} has no VGGish checkpoint to embed audio with")
      from soundscope.models.networks import vggish_litert
      checkpoint, pca_params = self._vggish_files()
      self._embedder = vggish_litert.VggishEmbedder(
          str(checkpoint), batch_size=self._vggish_params.batch_size,
          announce=lambda message: log.warning("VGGish: %s", message))
      self._postprocessor = postprocess.Postprocessor(str(pca_params))
    examples = vggish_input.waveform_to_examples(
        np.asarray(waveform_16k), self._vggish_params.sample_rate_hz, self._vggish_params)
    return self._postprocessor.postprocess(self._embedder.embed(examples))

  def window_scores(self, waveform_16k):
    """Scores windows of up to max_frames VGGish examples (9.6 s by default).

    Args:
      waveform_16k: float [n] mono at 16 kHz in [-1, 1].

    Returns:
      WindowScores(starts, ends float64 [w] seconds, scores float32 [w, C]).
    """
    quantized = self.quantized_embeddings(waveform_16k)
    windows = self.embedding_window_scores(quantized)
    hop = self._vggish_params.example_hop_seconds
    frame_starts = np.arange(len(quantized)) * hop
    first = np.arange(0, len(quantized), self.max_frames)
    last = np.minimum(first + self.max_frames, len(quantized)) - 1
    starts = frame_starts[first]
    ends = frame_starts[last] + P.EXAMPLE_WINDOW_SECONDS
    return C.WindowScores(starts.astype(np.float64), ends.astype(np.float64), windows.scores)
