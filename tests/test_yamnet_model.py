"""YAMNet through LiteRT: windowing, scores equal to a plain interpreter loop, the full signature."""

import subprocess
import sys

import numpy as np
import pytest

from soundscope.configs import model_specs as S
from conftest import REPO, asset
from soundscope.models.networks import yamnet
from support_store import yamnet_store


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
  model_store = yamnet_store(tmp_path_factory.mktemp("models"))
  return yamnet.YamnetClassifier.from_directory(model_store.path("yamnet"), num_threads=2)


@pytest.fixture(scope="module")
def siren_16k():
  """A real 1.98 s siren clip (44.1 kHz stereo) as 16 kHz mono float32."""
  from soundscope.transforms import audio
  return audio.load_mono(asset("audio/urbansound8k/16772-8-0-0.wav")).astype(np.float32)


@pytest.mark.parametrize("samples, windows", [
    (1, 1), (15600, 1), (15601, 2), (15600 + 7680, 2), (15600 + 7681, 3), (80000, 10)])
def test_window_count_follows_yamnets_padding(samples, windows):
  assert yamnet.num_windows(samples) == windows
  framed = yamnet.frame_windows(np.ones(samples, np.float32))
  assert framed.shape == (windows, S.YAMNET_WINDOW_SAMPLES)
  assert framed[-1, -1] == (1.0 if samples == 15600 + (windows - 1) * 7680 else 0.0)


def test_windows_are_the_clip_cut_every_hop():
  wave = np.arange(40000, dtype=np.float32)
  framed = yamnet.frame_windows(wave)
  for i in range(framed.shape[0] - 1):
    np.testing.assert_array_equal(framed[i], wave[i * 7680:i * 7680 + 15600])
  starts, ends = yamnet.window_bounds(3)
  np.testing.assert_allclose(starts, [0.0, 0.48, 0.96])
  np.testing.assert_allclose(ends - starts, 0.975)


def test_labels_are_the_521_classes(classifier):
  assert len(classifier.labels) == 521 and classifier.labels[0] == "Speech"
  assert classifier.mids[0] == "/m/09x0r" and classifier.default_aggregation == "mean"


def test_scores_equal_a_plain_one_window_at_a_time_loop(classifier, siren_16k):
  from ai_edge_litert.interpreter import Interpreter
  interpreter = Interpreter(model_path=str(asset("yamnet/yamnet_classification.tflite")))
  interpreter.allocate_tensors()
  inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
  padded = np.zeros(15600 + 7680 * 3, np.float32)
  padded[:len(siren_16k)] = siren_16k
  expected = []
  for start in range(0, 4 * 7680, 7680):
    interpreter.set_tensor(inp["index"], padded[start:start + 15600])
    interpreter.invoke()
    expected.append(interpreter.get_tensor(out["index"])[0].copy())
  result = classifier.window_scores(siren_16k)
  assert result.scores.shape == (4, 521) and result.scores.dtype == np.float32
  np.testing.assert_array_equal(result.scores, np.array(expected))
  top = [classifier.labels[i] for i in np.argsort(-result.scores.mean(axis=0))[:5]]
  assert "Siren" in top


def test_threads_give_the_same_scores_as_one(classifier, siren_16k):
  long_wave = np.tile(siren_16k, 12)  # 64 windows: split over the two interpreters.
  threaded = classifier.window_scores(long_wave).scores
  single = yamnet.WindowModel(classifier.window_model.model_path, num_threads=1)
  np.testing.assert_array_equal(threaded, single.scores(yamnet.frame_windows(long_wave)))


def test_full_signature_gives_frames_embeddings_and_log_mel(classifier, siren_16k):
  assert classifier.has_embeddings
  for wave in (siren_16k, siren_16k[:4000], np.tile(siren_16k, 3)):
    outputs = classifier.embeddings(wave)
    frames = yamnet.num_windows(len(wave))
    assert outputs.scores.shape == (frames, 521)
    assert outputs.embeddings.shape == (frames, 1024)
    assert outputs.log_mel.shape[1] == 64 and outputs.log_mel.shape[0] >= 96
    assert np.all(np.isfinite(outputs.embeddings))
  # The float export and the int8 classifier hear the same thing in the same
  # window (their scores differ in detail: see the yamnet module docstring).
  first_window = siren_16k[:15600]
  windows = classifier.window_scores(first_window).scores[0]
  full = classifier.embeddings(first_window).scores[0]
  assert np.corrcoef(windows, full)[0, 1] > 0.8
  assert np.argmax(windows) == np.argmax(full)


def test_full_signature_from_several_threads_equals_one_at_a_time(classifier, siren_16k):
  import concurrent.futures
  waves = [siren_16k, siren_16k[:4000], np.tile(siren_16k, 3), siren_16k[:20000]] * 3
  alone = [classifier.embeddings(wave).embeddings for wave in waves]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:   # Clips of other lengths at once.
    together = list(pool.map(lambda wave: classifier.embeddings(wave).embeddings, waves))
  for one, other in zip(alone, together):
    np.testing.assert_array_equal(one, other)


def test_clip_scores_pool_windows(classifier, siren_16k):
  windows = classifier.window_scores(siren_16k).scores
  np.testing.assert_allclose(classifier.clip_scores(siren_16k), windows.mean(axis=0))
  np.testing.assert_allclose(classifier.clip_scores(siren_16k, "max"), windows.max(axis=0))


def test_loading_yamnet_imports_neither_tensorflow_nor_beam(tmp_path):
  yamnet_store(tmp_path)
  code = (
      "import sys, numpy as np\n"
      "from soundscope.models.store import registry\n"
      f"model = registry.load_classifier(None, {str(tmp_path)!r})\n"
      "model.clip_scores(np.zeros(16000, np.float32))\n"
      "print(sorted(m for m in sys.modules if m.split('.')[0] in "
      "('tensorflow', 'apache_beam', 'keras')))\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
  assert result.stdout.strip() == "[]"
  assert "XNNPACK" not in result.stderr  # LiteRT's start-up chatter is hidden.


def _class_map_readers():
  """Every way the project reads an index,mid,display_name CSV (models/class_map.py underneath)."""
  from soundscope.cli import evaluate as evaluate_cli
  from soundscope.cli import train as train_cli
  from soundscope.models import class_map
  from soundscope.pipelines import labels

  def evaluate_names(path):
    args = type("Args", (), {"class_labels": str(path), "eval_data": str(path) + ".none"})()
    return evaluate_cli.class_names(args, str(path.parent / "no-head"), 521)

  return {"class_map.read": class_map.read, "yamnet.load_class_map": yamnet.load_class_map,
          "labels.load_class_map": labels.load_class_map,
          "train.check_labels": lambda path: train_cli.check_labels(path, 521),
          "evaluate.class_names": evaluate_names}


def test_the_class_map_readers_agree_on_the_real_maps():
  from soundscope.models import class_map
  from soundscope.pipelines import labels
  path = asset("yamnet/yamnet_class_map.csv")
  classes = class_map.read(path)
  assert classes.indices == tuple(range(521)) and classes.mids[0] == "/m/09x0r"
  assert yamnet.load_class_map(path) == (list(classes.mids), list(classes.display_names))
  assert labels.load_class_map(path) == {mid: i for i, mid in enumerate(classes.mids)}
  audioset = asset("audioset/class_labels_indices.csv")
  assert len(labels.load_class_map(audioset)) == 527


@pytest.mark.parametrize("reader", sorted(_class_map_readers()))
@pytest.mark.parametrize("damage, message", [
    ("latin-1", r"yamnet_class_map.csv: a class map must be UTF-8 text"),
    ("no mid", r"yamnet_class_map.csv: a class map needs .*'mid'.* columns, found "
               r"\['index', 'display_name'\]"),
    ("bad index", r"yamnet_class_map.csv:3: index is not a whole number")])
def test_a_damaged_class_map_is_one_error_naming_the_file(tmp_path, reader, damage, message):
  """The real class map, damaged three ways: each reader says which file and what is wrong."""
  text = asset("yamnet/yamnet_class_map.csv").read_text(encoding="utf-8")
  path = tmp_path / "yamnet_class_map.csv"
  if damage == "latin-1":
    path.write_bytes(text.replace("Narration", "Narraci\u00f3n").encode("latin-1"))
  elif damage == "no mid":
    path.write_text("\n".join(",".join(field for i, field in enumerate(line.split(",", 2))
                                       if i != 1) for line in text.splitlines()))
  else:
    path.write_text(text.replace("1,/m/0ytgt", "one,/m/0ytgt"))
  with pytest.raises(ValueError, match=message):
    _class_map_readers()[reader](path)
