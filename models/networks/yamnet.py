"""YAMNet through the LiteRT interpreter (ai-edge-litert), without TensorFlow.

Two official-signature models are used (configs/model_specs.py):

* `yamnet_classification.tflite`: float32 [15600] in (0.975 s at 16 kHz),
  float32 [1, 521] scores out.  The clip is cut into 0.975 s windows every
  0.48 s, YAMNet's own patch hop, and each window is one `invoke`.  This is
  the model the classifier uses: it is the official TF-Hub release.
* `yamnet_embedding.tflite` (optional): the full signature, float32 [N] of any
  length in, one `invoke` per clip, out per-frame scores [frames, 521], 1024-d
  embeddings [frames, 1024] and the log-mel spectrogram [mel_frames, 64].  It
  feeds pipelines and training with YAMNet embeddings.  It is a float export
  while the classification model is int8 inside, so its scores differ from the
  classifier's by up to a few tenths on single classes (per-window correlation:
  median 0.88, 10th percentile 0.35, over the ESC-10 and UrbanSound8K assets) and
  classify ESC-10 less well (90.25 % with mean pooling against 97.5 %): it is
  for embeddings, the classification model is for scores.

Windowing follows YAMNet's own framing (features.py, pad_waveform): a clip
shorter than one window is zero-padded to one window, and the tail is
zero-padded to a whole number of hops, so window i of the classifier covers
the same samples as frame i of the full-signature model:
  windows = 1 + ceil(max(0, n - 15600) / 7680).

Aggregation: clip scores pool the window scores by `mean` by default, as
YAMNet's own inference demo does.  YAMNet's scores are independent sigmoids
per window; the mean says how much of the clip a sound fills, which is what a
line like "Speech: 0.75, Music: 0.12" should mean, and it is the more accurate
pooling here: on the 400 ESC-10 clips (tests/test_yamnet_esc10.py) mean scores
97.5 % and max 96.25 %.  `max` ("heard anywhere in the clip") suits short
events in long recordings; choose it with `--aggregation max`.

Speed: interpreters are created once per classifier and reused; windows are
fed from a strided view (no copies), and long clips are split across
`num_threads` interpreters in threads (LiteRT releases the GIL in invoke).
"""

import concurrent.futures
import os
import pathlib
import threading

import numpy as np

from soundscope.configs import model_specs as S
from soundscope.models import class_map
from soundscope.models import classifier as C
from soundscope.models.networks.litert import make_interpreter

CLASSIFICATION_FILE = "yamnet_classification.tflite"
EMBEDDING_FILE = "yamnet_embedding.tflite"
CLASS_MAP_FILE = "yamnet_class_map.csv"
EMBEDDED_LABELS_SUFFIX = "_label_list.txt"  # The label file inside the official .tflite.
DEFAULT_AGGREGATION = "mean"  # See the module docstring for why.
# Below this many windows a second interpreter thread costs more than it saves.
MIN_WINDOWS_PER_THREAD = 16


def load_class_map(path):
  """Reads yamnet_class_map.csv (models/class_map.py; ClassMapError names a bad file).

  Returns:
    (mids, display_names): two lists of 521 strings, index-aligned with the scores.
  """
  classes = class_map.read(path)
  return list(classes.mids), list(classes.display_names)


def embedded_labels(model_path):
  """The display names a .tflite carries in its metadata, or None when it has none.

  The official yamnet_classification.tflite is also a zip archive (TFLite
  metadata) holding `yamnet_label_list.txt`: the 521 display names, one a line,
  in score order, without MIDs.
  """
  import zipfile
  try:
    with zipfile.ZipFile(model_path) as archive:
      names = [n for n in archive.namelist() if n.endswith(EMBEDDED_LABELS_SUFFIX)]
      if len(names) != 1:
        return None
      labels = archive.read(names[0]).decode("utf-8").splitlines()
  except (OSError, zipfile.BadZipFile, UnicodeDecodeError, KeyError):
    return None
  return labels if len(labels) == S.YAMNET_NUM_CLASSES else None


def num_windows(num_samples):
  """Windows YAMNet's framing gives for a clip of `num_samples` at 16 kHz (at least 1)."""
  extra = max(0, int(num_samples) - S.YAMNET_WINDOW_SAMPLES)
  return 1 + -(-extra // S.YAMNET_HOP_SAMPLES)


def frame_windows(waveform_16k):
  """Cuts a clip into YAMNet windows.

  Args:
    waveform_16k: float [n] mono samples at 16 kHz in [-1, 1].

  Returns:
    float32 [w, 15600] (a read-only strided view of a padded copy).
  """
  wave = np.asarray(waveform_16k, dtype=np.float32).reshape(-1)
  count = num_windows(wave.shape[0])
  padded_length = S.YAMNET_WINDOW_SAMPLES + (count - 1) * S.YAMNET_HOP_SAMPLES
  if padded_length != wave.shape[0]:
    wave = np.concatenate([wave, np.zeros(padded_length - wave.shape[0], np.float32)])
  return np.lib.stride_tricks.sliding_window_view(
      wave, S.YAMNET_WINDOW_SAMPLES)[::S.YAMNET_HOP_SAMPLES]


def window_bounds(count):
  """(starts, ends) float64 [count] in seconds of `count` YAMNet windows."""
  starts = np.arange(count, dtype=np.float64) * S.YAMNET_HOP_SECONDS
  return starts, starts + S.YAMNET_WINDOW_SECONDS


class WindowModel:
  """The classification model: one invoke per 0.975 s window, interpreters reused.

  Args:
    model_path: yamnet_classification.tflite.
    num_threads: interpreters run in parallel on long clips (one thread each).
  """

  def __init__(self, model_path, num_threads=1):
    self.model_path = pathlib.Path(model_path)
    self.num_threads = max(1, int(num_threads))
    self._local = threading.local()
    self._pool = None
    self._lock = threading.Lock()

  def _interpreter(self):
    """This thread's interpreter with its input and output tensor indices."""
    entry = getattr(self._local, "entry", None)
    if entry is None:
      interpreter = make_interpreter(self.model_path)
      entry = (interpreter, interpreter.get_input_details()[0]["index"],
               interpreter.get_output_details()[0]["index"])
      self._local.entry = entry
    return entry

  def _score_range(self, windows, out, start, stop):
    interpreter, input_index, output_index = self._interpreter()
    for i in range(start, stop):
      interpreter.set_tensor(input_index, windows[i])
      interpreter.invoke()
      out[i] = interpreter.get_tensor(output_index)[0]

  def scores(self, windows):
    """float32 [w, 521] scores of float32 [w, 15600] windows."""
    count = windows.shape[0]
    out = np.empty((count, S.YAMNET_NUM_CLASSES), np.float32)
    threads = min(self.num_threads, max(1, count // MIN_WINDOWS_PER_THREAD))
    if threads == 1:
      self._score_range(windows, out, 0, count)
      return out
    with self._lock:
      if self._pool is None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.num_threads, thread_name_prefix="yamnet")
    bounds = np.linspace(0, count, threads + 1).astype(int)
    futures = [self._pool.submit(self._score_range, windows, out, a, b)
               for a, b in zip(bounds[:-1], bounds[1:])]
    for future in futures:
      future.result()
    return out


class YamnetOutputs:
  """What the full-signature model returns for one clip.

  Attributes:
    scores: float32 [frames, 521], one row per 0.48 s hop.
    embeddings: float32 [frames, 1024].
    log_mel: float32 [mel_frames, 64], 10 ms frames.
    starts, ends: float64 [frames] frame bounds in seconds.
  """

  def __init__(self, scores, embeddings, log_mel):
    self.scores, self.embeddings, self.log_mel = scores, embeddings, log_mel
    self.starts, self.ends = window_bounds(scores.shape[0])


class FullSignatureModel:
  """yamnet_embedding.tflite: any-length waveform in, one invoke per clip.

  Not thread-safe (one interpreter, resized per clip); use one per thread.
  """

  def __init__(self, model_path, num_threads=1):
    self.model_path = pathlib.Path(model_path)
    self.interpreter = make_interpreter(self.model_path, num_threads)
    self._input = self.interpreter.get_input_details()[0]["index"]
    outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
    # Names of the exported signature: Identity (scores), _1 (embeddings), _2 (log-mel).
    self._scores, self._embeddings, self._log_mel = (
        outputs["Identity"], outputs["Identity_1"], outputs["Identity_2"])
    self._length = None

  def run(self, waveform_16k):
    """Runs one clip.

    Args:
      waveform_16k: float [n] mono at 16 kHz in [-1, 1], any n >= 1.

    Returns:
      YamnetOutputs.
    """
    wave = np.ascontiguousarray(np.asarray(waveform_16k, np.float32).reshape(-1))
    if wave.shape[0] == 0:
      wave = np.zeros(1, np.float32)
    if wave.shape[0] != self._length:
      self.interpreter.resize_tensor_input(self._input, [wave.shape[0]], strict=False)
      self.interpreter.allocate_tensors()
      self._length = wave.shape[0]
    self.interpreter.set_tensor(self._input, wave)
    self.interpreter.invoke()
    get = self.interpreter.get_tensor
    return YamnetOutputs(get(self._scores).copy(), get(self._embeddings).copy(),
                         get(self._log_mel).copy())


class YamnetClassifier(C.Classifier):
  """YAMNet as a soundscope.models.classifier.Classifier (521 AudioSet classes).

  Args:
    classification_path: yamnet_classification.tflite.
    class_map_path: yamnet_class_map.csv, or None to take the labels the
      classification model carries (embedded_labels): the same 521 display
      names, and then `mids` holds '' for every class (nothing downstream
      reads MIDs: outputs name classes by display name and index).
    embedding_path: optional yamnet_embedding.tflite (for `embeddings`).
    num_threads: interpreters used in parallel on long clips.
    version: model version string (from the manifest).
  """
  name = "yamnet"
  default_aggregation = DEFAULT_AGGREGATION
  # Window i: samples [i * 7680, i * 7680 + 15600), the tail zero-padded (frame_windows).
  framing = C.Framing(S.YAMNET_HOP_SAMPLES, S.YAMNET_WINDOW_SAMPLES)
  thread_safe = True  # One interpreter per thread (WindowModel); several files may run at once.

  def __init__(self, classification_path, class_map_path, embedding_path=None,
               num_threads=None, version="1"):
    if class_map_path is not None:
      self.mids, names = load_class_map(class_map_path)
    else:
      names = embedded_labels(classification_path)
      if names is None:
        raise ValueError(f"{classification_path}: holds no label list; put {CLASS_MAP_FILE} "
                         f"beside it")
      self.mids = [""] * len(names)
    self.labels = tuple(names)
    self.version = version
    self.num_threads = num_threads or min(4, os.cpu_count() or 1)
    self.window_model = WindowModel(classification_path, self.num_threads)
    self.embedding_path = pathlib.Path(embedding_path) if embedding_path else None
    self._full_model = None
    # The full-signature interpreter is resized per clip: one caller at a time.
    self._full_model_lock = threading.Lock()

  @classmethod
  def from_directory(cls, directory, num_threads=None):
    """Loads from a store directory (<root>/yamnet) holding the files of configs/model_specs.

    Without yamnet_class_map.csv the labels come from the classification model itself.
    """
    directory = pathlib.Path(directory)
    embedding = directory / EMBEDDING_FILE
    version = "1"
    manifest = directory / S.MANIFEST_NAME
    if manifest.is_file():
      import json
      with open(manifest) as stream:
        version = str(json.load(stream).get("version", version))
    csv_path = directory / CLASS_MAP_FILE
    return cls(directory / CLASSIFICATION_FILE, csv_path if csv_path.is_file() else None,
               embedding if embedding.is_file() else None, num_threads, version)

  def window_scores(self, waveform_16k):
    """Scores 0.975 s windows every 0.48 s.

    Args:
      waveform_16k: float [n] mono at 16 kHz in [-1, 1].

    Returns:
      WindowScores(starts, ends float64 [w] seconds, scores float32 [w, 521]).
    """
    windows = frame_windows(waveform_16k)
    starts, ends = window_bounds(windows.shape[0])
    return C.WindowScores(starts, ends, self.window_model.scores(windows))

  @property
  def has_embeddings(self):
    return self.embedding_path is not None

  def embeddings(self, waveform_16k):
    """Per-frame scores, 1024-d embeddings and log-mel from the full-signature model.

    Args:
      waveform_16k: float [n] mono at 16 kHz in [-1, 1].

    Returns:
      YamnetOutputs.

    Raises:
      FileNotFoundError when yamnet_embedding.tflite is not in the store.
    """
    if self.embedding_path is None:
      raise FileNotFoundError(
          f"{EMBEDDING_FILE} is not in the yamnet model directory: import it with "
          f"`soundscope models import PATH/{EMBEDDING_FILE}`")
    with self._full_model_lock:
      if self._full_model is None:
        self._full_model = FullSignatureModel(self.embedding_path)
      return self._full_model.run(waveform_16k)
