"""Model handlers for our models (Beam's ModelHandler interface, not its TensorFlow handler).

Beam's TFModelHandler needs tensorflow-hub and tf-keras, which need the full
`tensorflow` package and cannot load Keras-3 models; ours wrap the project's
own model code.  The pipelines' part DoFns (pipelines/parts.py) get a
handler's model through `shared_model`, once per worker process whatever the
runner (Dask calls a DoFn's setup for every partition), and hand
`run_inference` the batches they form inside a part (never Beam's
BatchElements, whose last batch of a bundle comes from finish_bundle, which
some runners drop).  A model that fails to load is a ModelLoadError naming it.

  VggishModelHandler: float32 [96, 64] log-mel examples -> uint8 [128]
    release-format embeddings (VggishEmbedder, then PCA and quantization with
    transforms.postprocess.Postprocessor).  Only the file paths travel to the
    workers; each loads the checkpoint itself.
  ClassifierModelHandler: ClipInput elements (an audio file, or uint8
    embedding frames) -> Scored prediction rows (top-k labels per window),
    with any soundscope.models.classifier.Classifier.  Audio files are decoded here, in
    blocks, and scored as they are decoded (Classifier.stream_window_scores),
    so a multi-hour file never sits whole in memory; per-file scores are pooled
    as the windows come (classifier.RunningAggregate).

Both handlers note in the progress directory when their model is loaded
(pipelines/progress.py: the progress line says "starting (workers, models)" until then).
"""

import collections
import importlib
import os
import threading

import numpy as np
from apache_beam.ml.inference import base

from soundscope.configs import pipelines as PC
from soundscope.configs import params as P
from soundscope.pipelines import listing, options, progress

CLASSIFIER_BATCH_SIZE = PC.CLASSIFIER_BATCH_SIZE   # Inputs per batch (configs/pipelines.py).
RECORD_BATCH_SIZE = PC.RECORD_BATCH_SIZE

ClipInput = collections.namedtuple("ClipInput", ["kind", "data"])
ClipInput.__doc__ = """Input of the classifier handler.

  kind: 'file' (data: path of an audio file, str) or 'embedding'
    (data: uint8 [frames, 128], AudioSet release bytes).
"""
Scored = collections.namedtuple("Scored", ["rows", "seconds", "error", "events"],
                                defaults=(None,))
Scored.__doc__ = """Output of the classifier handler for one input.

  rows: list of row dicts (prediction_rows), or None when reading failed.
  seconds: the input's duration (16 kHz samples / 16000 for audio, frames *
    0.96 s for embeddings), or None when reading failed.
  error: None, or the exception that stopped this file: a
    transforms.errors.AudioInputError (decoding; an error row of stage 'read')
    or any other exception while scoring it (stage 'inference').  Either way the
    file becomes one error row, not a failed batch.
  events: the file's rows of the events table with --events (pipelines/events.py), else None.
"""
AudioConfig = collections.namedtuple("AudioConfig", ["params", "score_block_seconds"])
AudioConfig.__doc__ = """How the classifier handler reads audio files: VggishParams
(resample_filter, read_block_seconds, short_clip_policy) and the audio scored per
classifier call, seconds (configs.params.SCORE_BLOCK_SECONDS)."""


class ModelLoadError(RuntimeError):
  """A worker could not load its model: one line naming the model (file or store entry)."""


_MODELS = {}
_MODELS_LOCK = threading.Lock()


def _file_identity(path):
  """(path, size, mtime_ns), or (path, None, None) when absent."""
  import os
  try:
    status = os.stat(path)
  except OSError:
    return (path, None, None)
  return (path, status.st_size, status.st_mtime_ns)


def _load_error(handler, exc):
  """ModelLoadError: the handler's model and the last line of what stopped it."""
  message = str(exc).strip().splitlines()
  return ModelLoadError(f"{handler.model_name()}: the model failed to load: "
                        f"{message[-1] if message else type(exc).__name__}")


def shared_model(handler):
  """`handler`'s model, loaded once per process and kept for later parts and runs.

  Keyed by handler.model_key() (the files and settings the model is built
  from); tells the handler's progress folder that the model is ready.

  Raises:
    ModelLoadError: naming handler.model_name() and the reason.
  """
  from soundscope.models import scoring
  scoring.keep_freed_memory()   # This process decodes and scores part after part.
  key = handler.model_key()
  with _MODELS_LOCK:
    model = _MODELS.get(key)
    if model is None:
      try:
        model = handler.load_model()
      except Exception as exc:  # pylint: disable=broad-except  (one line naming the model)
        raise _load_error(handler, exc) from None
      _MODELS[key] = model
  progress.mark_ready(handler.beacon_dir)
  return model


class _VggishModel:
  """The loaded VGGish pieces (a class: Beam's shared cache keeps weak references)."""

  def __init__(self, embedder, postprocessor):
    self.embedder = embedder
    self.postprocessor = postprocessor


class _PartModelHandler(base.ModelHandler):
  """What both handlers give the part-scoring step: the batch size and progress folder."""

  def __init__(self, batch_size, beacon_dir):
    super().__init__()
    self._batch_size = int(batch_size)
    self._beacon_dir = beacon_dir

  @property
  def batch_size(self):
    return self._batch_size

  @property
  def beacon_dir(self):
    return self._beacon_dir


class VggishModelHandler(_PartModelHandler):
  """VGGish embeddings in the AudioSet release format.

  Args:
    checkpoint_path: vggish_model.ckpt, readable on the workers.
    pca_params_path: vggish_pca_params.npz, readable on the workers.
    batch_size: examples per forward pass (the batches a part forms across its files).
    threads: LiteRT threads per VGGish invoke in each worker (0: the worker's cores).
  """

  def __init__(self, checkpoint_path, pca_params_path, batch_size=P.VGGISH_BATCH_SIZE,
               threads=0, beacon_dir=None):
    super().__init__(batch_size, beacon_dir)
    self._checkpoint_path = str(checkpoint_path)
    self._pca_params_path = str(pca_params_path)
    self._threads = int(threads)

  def model_key(self):
    # The files' sizes and times too: a long-lived worker (Dask) reloads a changed model.
    return ("vggish", _file_identity(self._checkpoint_path),
            _file_identity(self._checkpoint_path + ".index"),
            _file_identity(self._pca_params_path), self._batch_size)

  def model_name(self):
    return f"VGGish {self._checkpoint_path} with {self._pca_params_path}"

  def prepare(self, announce=None):
    """Converts the checkpoint for LiteRT unless a conversion is kept already
    (models/networks/vggish_litert.py): called by the launcher before any worker starts,
    so that the workers only load it.

    Args:
      announce: optional callable(message) told before a conversion starts.

    Raises:
      ModelLoadError: naming the model and the reason.
    """
    from soundscope.models.networks import vggish_litert
    try:
      vggish_litert.converted(self._checkpoint_path, announce=announce)
    except Exception as exc:  # pylint: disable=broad-except  (one line naming the model)
      raise _load_error(self, exc) from None

  def load_model(self):
    options.quiet_logs()  # Worker processes too.
    from soundscope.models.networks import vggish_litert
    from soundscope.transforms import postprocess
    model = _VggishModel(vggish_litert.VggishEmbedder(self._checkpoint_path, self._batch_size,
                                                      self._threads),
                         postprocess.Postprocessor(self._pca_params_path))
    progress.mark_ready(self._beacon_dir)
    return model

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
      return self._factory_callable()()
    from soundscope.models.store import registry
    return registry.load_classifier(self.name, self.model_dir)

  def describe(self):
    """The model as the user named it: the factory, or the store entry and its folder."""
    if self.factory:
      return f"--model-factory {self.factory}"
    where = f" in {listing.local_absolute(self.model_dir)}" if self.model_dir else ""
    return f"model {self.name or '(default)'}{where}"

  def fingerprint(self):
    """What the model is made of, for --resume: the factory, or the stored model's folder
    and every file in it with its size and modification time (ns)."""
    if self.factory:
      return ["factory", self.factory]
    from soundscope.models.store import registry
    try:
      _, directory, _ = registry.find_classifier(self.name, self.model_dir)
    except Exception as exc:  # pylint: disable=broad-except  (check() reports it)
      return ["missing", str(exc)]
    found = []
    for name in sorted(os.listdir(directory)):
      status = os.stat(os.path.join(directory, name))
      found.append([name, status.st_size, status.st_mtime_ns])
    return [os.path.abspath(directory), found]

  def check(self):
    """Raises ValueError naming the problem when the workers could not load the model.

    Runs in the launcher and loads nothing: the factory is imported, not called;
    a stored model's files are checked to be present.
    """
    if self.factory:
      self._factory_callable()
      return
    from soundscope.models.store import files as store
    from soundscope.models.store import registry
    try:
      registry.find_classifier(self.name, self.model_dir)
    except store.ModelNotFoundError as exc:
      raise ValueError(str(exc)) from None

  def _factory_callable(self):
    module_name, _, attribute = self.factory.partition(":")
    if not attribute:
      raise ValueError(f"--model-factory {self.factory!r}: expected 'module:callable'")
    try:
      module = importlib.import_module(module_name)
    except ImportError as exc:
      raise ValueError(f"--model-factory {self.factory!r}: {exc}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
      raise ValueError(f"--model-factory {self.factory!r}: {module_name} has no callable "
                       f"{attribute!r}")
    return factory


RowFormat = collections.namedtuple("RowFormat", ["top_k", "threshold", "with_scores"])
RowFormat.__doc__ = """How predictions become rows: k best labels with score >= threshold,
and whether the full score vector is kept."""


def prediction_rows(classifier, scores, row_format, label_set=None, start_utc=None):
  """One dict per row (every window, or one for the clip) in the shared fields (models/rows.py).

  Args:
    classifier: the classifier.Classifier that scored.
    scores: models.scoring.Scores over the classifier's classes.
    row_format: RowFormat.
    label_set: a ResolvedLabelSet to report instead of the classes, or None.
    start_utc: the input's start (aware datetime), or None: rows' UTC times.
  """
  from soundscope.models import label_sets, rows, scoring
  scores = label_sets.reported(scores, label_set)
  return [{**_NO_LEVEL_OR_TIME, **row, **rows.model_fields(classifier)}
          for row in rows.window_rows(
              scoring.clip_windows(scores), label_sets.label_names(label_set, classifier),
              row_format.top_k, row_format.threshold, row_format.with_scores,
              scoring.clip_levels(scores), start_utc)]


# The nullable columns of pipelines/events.window_fields, null unless the row has them.
_NO_LEVEL_OR_TIME = {"rms_dbfs": None, "peak_dbfs": None, "start_utc": None, "end_utc": None}


class ClassifierModelHandler(_PartModelHandler):
  """Any soundscope.models.classifier.Classifier over ClipInput elements -> Scored.

  Args:
    loader: ClassifierLoader (or any picklable callable returning a Classifier).
    row_format: RowFormat.
    per_window: one row per analysis window instead of one per clip.
    audio_config: AudioConfig for 'file' inputs.
    decode_threads: BLAS threads of the worker process (resampling and
      log-mel matrix products), 0 to leave the library's default.
    beacon_dir: progress directory (or None), told when the model is loaded.
    batch_size: most inputs per batch (RECORD_BATCH_SIZE for embedding records).
    label_set: a models.label_sets.ResolvedLabelSet: rows report its labels
      (label_sets.reported, as classify and the live loop), or None for the classes.
  """

  def __init__(self, loader, row_format, per_window=False,
               audio_config=AudioConfig(P.VggishParams(), P.SCORE_BLOCK_SECONDS),
               decode_threads=0, beacon_dir=None, batch_size=CLASSIFIER_BATCH_SIZE,
               label_set=None, file_steps=None):
    super().__init__(batch_size, beacon_dir)
    self._label_set = label_set
    from soundscope.pipelines import events
    self._file_steps = file_steps or events.FileSteps()   # --events, --start-time, --min-level
    self._loader = loader
    self._row_format = row_format
    self._per_window = per_window
    self._audio_config = audio_config
    self._decode_threads = int(decode_threads)

  @property
  def file_steps(self):
    """pipelines/events.FileSteps: what the per-file step does besides scoring."""
    return self._file_steps

  def model_key(self):
    # The store entry's files with their sizes and times: a long-lived worker (Dask)
    # reloads a model replaced in the store.
    return ("classifier", self._loader.name, self._loader.model_dir, self._loader.factory,
            repr(self._loader.fingerprint()))

  def model_name(self):
    return self._loader.describe()

  def load_model(self):
    options.quiet_logs()
    options.limit_decode_threads(self._decode_threads)
    model = self._loader()
    progress.mark_ready(self._beacon_dir)
    return model

  def _score_records(self, model, clips):
    """Embedding ClipInputs -> Scored, the batch's records scored together."""
    from soundscope.models import scoring
    results = model.embedding_batch_scores([clip.data for clip in clips], self._per_window)
    scored = []
    for clip, scores in zip(clips, results):
      if isinstance(scores, Exception):  # This record only: its own error row.
        scored.append(Scored(None, None, scores))
        continue
      clip_scores = scoring.score_embeddings(scores, len(clip.data), self._per_window)
      scored.append(Scored(prediction_rows(model, clip_scores, self._row_format, self._label_set),
                           clip_scores.seconds, None))
    return scored

  def _score_file(self, model, clip):
    """One audio-file ClipInput -> Scored (models/scoring.py: the path classify and live take)."""
    try:
      # Scores, and with --events the file's events (pipelines/events.py).
      result = self._file_steps.score(model, clip.data, self._audio_config, self._per_window)
    except Exception as exc:  # pylint: disable=broad-except
      # This file only: an unreadable file, or a classifier failing on its audio,
      # becomes its own error row and the other files of the batch go on.
      return Scored(None, None, exc)
    return Scored(prediction_rows(model, result.scores, self._row_format, self._label_set,
                                  result.start_utc), result.scores.seconds, None, result.events)

  def run_inference(self, batch, model, inference_args=None):
    records = [i for i, clip in enumerate(batch) if clip.kind == "embedding"]
    scored = dict(zip(records, self._score_records(model, [batch[i] for i in records])))
    return [scored[i] if i in scored else self._score_file(model, clip)
            for i, clip in enumerate(batch)]

  def get_num_bytes(self, batch):
    return sum(len(clip.data) if clip.kind == "file" else np.asarray(clip.data).nbytes
               for clip in batch)

  def get_metrics_namespace(self):
    return "soundscope_classifier"

  def batch_elements_kwargs(self):
    return {"min_batch_size": 1, "max_batch_size": self._batch_size}
