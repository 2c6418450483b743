"""Beam RunInference model handlers for our models (not Beam's TensorFlow handler).

Beam's TFModelHandler needs tensorflow-hub and tf-keras, which need the full
`tensorflow` package and cannot load Keras-3 models; ours wrap the project's
own model code.  RunInference loads a handler's model once per worker process
(beam.utils.shared) and feeds it batches built by BatchElements across files.

  VggishModelHandler: float32 [96, 64] log-mel examples -> uint8 [128]
    release-format embeddings (VggishEmbedder, then PCA and quantization with
    transforms.postprocess.Postprocessor).  Only the file paths travel to the
    workers; each loads the checkpoint itself.
  ClassifierModelHandler: ClipInput elements (a 16 kHz waveform, or uint8
    embedding frames) -> prediction rows (top-k labels per window), with any
    models.classifier.Classifier.
"""

import collections
import importlib

import numpy as np
from apache_beam.ml.inference import base

from configs import params as P
from pipelines import options

# Clips per classifier batch: each clip is scored on its own, the batch only
# amortises the per-call overhead of RunInference.
CLASSIFIER_BATCH_SIZE = 8

ClipInput = collections.namedtuple("ClipInput", ["kind", "data"])
ClipInput.__doc__ = """Input of the classifier handler.

  kind: 'waveform' (data: float32 [n] mono at 16 kHz) or 'embedding'
    (data: uint8 [frames, 128], AudioSet release bytes).
"""
ClipScores = collections.namedtuple("ClipScores", ["starts", "ends", "scores"])
ClipScores.__doc__ = """Output of the classifier handler: window bounds float64 [w]
(seconds from the clip start) and float32 [w, num_classes] scores."""



class _VggishModel:
  """The loaded VGGish pieces (a class: Beam's shared cache keeps weak references)."""

  def __init__(self, embedder, postprocessor):
    self.embedder = embedder
    self.postprocessor = postprocessor


def _limit_tensorflow_threads(threads):
  """Sets TF's thread pools (only possible before TF runs its first op in the process)."""
  import tensorflow as tf
  try:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
  except RuntimeError:  # TF already initialised here (in-process runner): keep its pools.
    pass


class VggishModelHandler(base.ModelHandler):
  """VGGish embeddings in the AudioSet release format.

  Args:
    checkpoint_path: vggish_model.ckpt, readable on the workers.
    pca_params_path: vggish_pca_params.npz, readable on the workers.
    batch_size: examples per forward pass and per RunInference batch.
    threads: TensorFlow intra-op threads in each worker (0: TF's default, all cores).
  """

  def __init__(self, checkpoint_path, pca_params_path, batch_size=P.VGGISH_BATCH_SIZE,
               threads=0):
    super().__init__()
    self._checkpoint_path = str(checkpoint_path)
    self._pca_params_path = str(pca_params_path)
    self._batch_size = int(batch_size)
    self._threads = int(threads)

  def load_model(self):
    options.quiet_logs()  # Worker processes too.
    if self._threads > 0:
      _limit_tensorflow_threads(self._threads)
    from models import vggish
    from transforms import postprocess
    return _VggishModel(vggish.VggishEmbedder(self._checkpoint_path, self._batch_size),
                        postprocess.Postprocessor(self._pca_params_path))

  def run_inference(self, batch, model, inference_args=None):
    """list of float32 [96, 64] -> list of uint8 [128], in order."""
    examples = np.stack([np.asarray(example, np.float32) for example in batch])
    return list(model.postprocessor.postprocess(model.embedder.embed(examples)))

  def get_num_bytes(self, batch):
    return sum(np.asarray(example).nbytes for example in batch)

  def get_metrics_namespace(self):
    return "soundscope_vggish"

  def batch_elements_kwargs(self):
    # Full, fixed-size batches: one compiled graph shape, no tiny batches but the last.
    return {"min_batch_size": self._batch_size, "max_batch_size": self._batch_size}


class ClassifierLoader:
  """A picklable recipe for a Classifier, run once per worker.

  Args:
    name: model name in the store, or None for the store's default.
    model_dir: store root, or None.
    factory: 'package.module:callable' returning a Classifier (custom models,
      tests); when given, name and model_dir are ignored.
  """

  def __init__(self, name=None, model_dir=None, factory=None):
    self.name, self.model_dir, self.factory = name, model_dir, factory

  def __call__(self):
    if self.factory:
      module_name, _, attribute = self.factory.partition(":")
      if not attribute:
        raise ValueError(f"--model-factory {self.factory!r}: expected 'module:callable'")
      return getattr(importlib.import_module(module_name), attribute)()
    from models import store
    return store.load_classifier(self.name, self.model_dir)


def score_clip(classifier, clip, per_window):
  """Scores one ClipInput.

  Waveforms: per_window gives every analysis window of the classifier;
  otherwise one window spanning the clip with the classifier's clip_scores.
  Embeddings: per_window scores each 0.96 s frame alone; otherwise the whole
  record with embedding_scores.

  Returns:
    ClipScores.
  """
  if clip.kind == "waveform":
    duration = len(clip.data) / float(P.SAMPLE_RATE_HZ)
    windows = classifier.window_scores(clip.data)
    if per_window:
      return ClipScores(np.asarray(windows.starts, np.float64),
                        np.asarray(windows.ends, np.float64),
                        np.asarray(windows.scores, np.float32))
    from models import classifier as classifier_lib
    pooled = classifier_lib.aggregate(windows.scores, classifier.default_aggregation)
    return ClipScores(np.array([0.0]), np.array([duration]), pooled[np.newaxis])
  frames = np.asarray(clip.data, np.uint8)
  if per_window:
    scores = np.stack([classifier.embedding_scores(frames[i:i + 1]) for i in range(len(frames))])
    starts = np.arange(len(frames)) * P.EXAMPLE_HOP_SECONDS
    return ClipScores(starts, starts + P.EXAMPLE_HOP_SECONDS, scores.astype(np.float32))
  scores = np.asarray(classifier.embedding_scores(frames), np.float32)
  return ClipScores(np.array([0.0]), np.array([len(frames) * P.EXAMPLE_HOP_SECONDS]),
                    scores[np.newaxis])


RowFormat = collections.namedtuple("RowFormat", ["top_k", "threshold", "with_scores"])
RowFormat.__doc__ = """How predictions become rows: k best labels with score >= threshold,
and whether the full score vector is kept."""


def prediction_rows(classifier, clip_scores, row_format):
  """One dict per window: start/end seconds, top_k list, scores, model name/version."""
  from models import classifier as classifier_lib
  rows = []
  for start, end, scores in zip(clip_scores.starts, clip_scores.ends, clip_scores.scores):
    best = classifier_lib.top_k(scores, classifier.labels, row_format.top_k,
                                row_format.threshold)
    row = {"start_seconds": float(start), "end_seconds": float(end),
           "top_k": [{"label": p.label, "index": p.index, "score": p.score} for p in best],
           "model_name": str(classifier.name), "model_version": str(classifier.version)}
    if row_format.with_scores:
      row["scores"] = np.asarray(scores, np.float32).tolist()
    rows.append(row)
  return rows


class ClassifierModelHandler(base.ModelHandler):
  """Any models.classifier.Classifier over ClipInput elements -> lists of row dicts.

  Args:
    loader: ClassifierLoader (or any picklable callable returning a Classifier).
    row_format: RowFormat.
    per_window: one row per analysis window instead of one per clip.
  """

  def __init__(self, loader, row_format, per_window=False):
    super().__init__()
    self._loader = loader
    self._row_format = row_format
    self._per_window = per_window

  def load_model(self):
    options.quiet_logs()
    return self._loader()

  def run_inference(self, batch, model, inference_args=None):
    return [prediction_rows(model, score_clip(model, clip, self._per_window), self._row_format)
            for clip in batch]

  def get_num_bytes(self, batch):
    return sum(np.asarray(clip.data).nbytes for clip in batch)

  def get_metrics_namespace(self):
    return "soundscope_classifier"

  def batch_elements_kwargs(self):
    return {"min_batch_size": 1, "max_batch_size": CLASSIFIER_BATCH_SIZE}
