"""Trained heads as Classifiers: VGGish end to end on real audio, and the CLIs."""

import csv
import json
import os

import numpy as np
import pytest

import support_train as S
from conftest import asset


@pytest.fixture(scope="module")
def head_store(tmp_path_factory, vggish_checkpoint, pca_params_path):
  """A model store with vggish/ (deterministic checkpoint) and an untrained tiny head."""
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  root = tmp_path_factory.mktemp("store")
  (root / "vggish").mkdir()
  os.symlink(os.path.abspath(vggish_checkpoint), root / "vggish" / "vggish_model.ckpt")
  os.symlink(os.path.abspath(pca_params_path), root / "vggish" / "vggish_pca_params.npz")
  model = frame_models.build("AttentionPoolingModel", 527, hidden_units=16)
  heads.export_head(model, root / "tiny", S.class_labels_csv(),
                    model_class="AttentionPoolingModel")
  return root


@pytest.mark.slow
def test_window_scores_run_vggish_then_the_head_on_real_audio(head_store, vggish_embedder,
                                                              pca_params_path):
  from soundscope.models.store import heads
  from soundscope.transforms import audio, postprocess, vggish_input
  classifier = heads.load_head_classifier(head_store / "tiny", head_store)
  wave = audio.load_mono(asset("audio/urbansound8k/7389-1-1-0.wav"))  # ~4 s car horn.
  windows = classifier.window_scores(wave)
  examples = vggish_input.waveform_to_examples(wave, 16000)
  assert windows.scores.shape == (1, 527)          # One window of up to 10 frames.
  assert windows.starts[0] == 0.0
  assert windows.ends[0] == pytest.approx((len(examples) - 1) * 0.96 + 0.96)
  # Independently: the shared embedder + PCA/quantization, then embedding_scores.
  quantized = postprocess.Postprocessor(pca_params_path).postprocess(
      vggish_embedder.embed(examples))
  np.testing.assert_array_equal(classifier.quantized_embeddings(wave), quantized)
  np.testing.assert_allclose(windows.scores[0], classifier.embedding_scores(quantized),
                             rtol=1e-5, atol=1e-7)
  clip = classifier.clip_scores(wave)
  assert clip.shape == (527,) and np.all((clip >= 0) & (clip <= 1))


def test_long_audio_is_scored_in_windows_of_ten_frames(head_store):
  from soundscope.models.store import heads
  classifier = heads.load_head_classifier(head_store / "tiny", head_store)
  frames = np.random.default_rng(0).integers(0, 256, (23, 128)).astype(np.uint8)
  windows = classifier.embedding_window_scores(frames)
  assert windows.scores.shape == (3, 527)
  np.testing.assert_allclose(windows.starts, [0.0, 9.6, 19.2])
  np.testing.assert_allclose(windows.ends, [9.6, 19.2, 22.08])
  np.testing.assert_allclose(windows.scores[2], classifier.embedding_scores(frames[20:]),
                             rtol=1e-6)


@pytest.mark.slow
def test_records_scored_together_equal_each_scored_alone(head_store, monkeypatch):
  import glob
  from soundscope.models.networks import heads as network_heads
  from soundscope.models.store import heads
  from soundscope.transforms import records
  classifier = heads.load_head_classifier(head_store / "tiny", head_store)
  files = sorted(glob.glob(str(asset("audioset/eval") / "*.tfrecord")))[:3]
  real = [records.decode(serialized).embedding for path in files
          for serialized in records.read_tfrecord_file(path)]
  assert len(real) >= 6
  long_record = np.random.default_rng(1).integers(0, 256, (23, 128)).astype(np.uint8)
  batch = [real[0], np.zeros((10, 128), np.float32), long_record, *real[1:],
           np.zeros((0, 128), np.uint8)]
  # Calls of 16 windows: records and their frames straddle the calls.
  monkeypatch.setattr(network_heads, "BATCH_WINDOWS", 16)
  for per_frame in (False, True):
    results = classifier.embedding_batch_scores(batch, per_frame=per_frame)
    assert len(results) == len(batch)
    assert isinstance(results[1], ValueError) and "uint8" in str(results[1])
    assert isinstance(results[-1], ValueError) and "no embedding frames" in str(results[-1])
    for quantized, scores in zip(batch, results):
      if quantized.dtype != np.uint8 or len(quantized) == 0:
        continue
      if per_frame:
        alone = np.stack([classifier.embedding_scores(quantized[i:i + 1])
                          for i in range(len(quantized))])
      else:
        alone = classifier.embedding_scores(quantized)
      assert scores.shape == alone.shape
      # Bit for bit: every head call has one shape (BATCH_WINDOWS windows, padded).
      np.testing.assert_array_equal(scores, alone)


def test_a_window_scores_the_same_alone_or_among_others(head_store):
  """A window's scores do not depend on the windows scored with it (classify scores a
  file's windows together, the live loop one at a time, predict a batch of records)."""
  from soundscope.models.store import heads
  classifier = heads.load_head_classifier(head_store / "tiny", head_store)
  frames = np.random.default_rng(4).integers(0, 256, (300 * 10 + 7, 128)).astype(np.uint8)
  together = classifier.embedding_window_scores(frames)     # 301 windows: two calls.
  assert together.scores.shape == (301, 527)
  for i in (0, 1, 77, 255, 256, 300):
    alone = classifier.embedding_window_scores(frames[i * 10:(i + 1) * 10]).scores
    np.testing.assert_array_equal(alone[0], together.scores[i])


def test_only_a_head_has_tensorflow_imported_ahead_for_forked_workers(head_store, tmp_path):
  """registry.classifier_imports: what the forkserver of a local Dask cluster imports once
  for predict's workers (pipelines/cluster.py): LiteRT and TensorFlow for a VGGish head, by name or
  folder; nothing for YAMNet (LiteRT) nor for a model that is not there (the run says so)."""
  import support_store
  from soundscope.models.store import registry
  head = ("ai_edge_litert.interpreter", "tensorflow")   # VGGish's LiteRT, the head's Keras.
  assert registry.classifier_imports("tiny", str(head_store)) == head
  assert registry.classifier_imports(str(head_store / "tiny")) == head
  support_store.yamnet_store(tmp_path / "yamnet-store")
  assert registry.classifier_imports(None, str(tmp_path / "yamnet-store")) == ()
  assert registry.classifier_imports("missing", str(head_store)) == ()
  assert registry.classifier_imports(None, str(tmp_path / "empty-store")) == ()


def test_embedding_scores_never_need_the_vggish_checkpoint(tmp_path):
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  heads.export_head(frame_models.build("FrameLevelLogisticModel", 527), tmp_path / "solo",
                    S.class_labels_csv())
  classifier = heads.load_head_classifier(tmp_path / "solo", tmp_path)
  scores = classifier.embedding_scores(np.full((10, 128), 128, np.uint8))
  assert scores.shape == (527,)
  with pytest.raises(FileNotFoundError, match="vggish_model.ckpt is missing"):
    classifier.window_scores(np.zeros(16000))
  with pytest.raises(ValueError, match="uint8"):
    classifier.embedding_scores(np.zeros((10, 128), np.float32))


@pytest.mark.slow
def test_train_and_evaluate_commands(tmp_path, monkeypatch):
  from soundscope.cli import main as cli
  store_root = tmp_path / "store"
  train_dir = tmp_path / "run"
  status = cli.main([
      "train", "--train-data", S.slice_glob(S.TRAIN_SLICE), "--model", "DbofModel",
      "--num-epochs", "2", "--batch-size", "64", "--learning-rate", "0.01",
      "--learning-rate-decay-examples", "400000", "--feature-names", "audio_embedding",
      "--feature-sizes", "128", "--num-classes", "527", "--iterations", "6",
      "--dbof-cluster-size", "32", "--dbof-hidden-size", "16", "--validation-fraction", "0.2",
      "--mixup-alpha", "0.4", "--train-fraction", "0.5",
      "--train-dir", str(train_dir), "--quiet", "--export", "tiny_dbof",
      "--model-dir", str(store_root), "--eval-data", S.slice_glob(S.EVAL_SLICE)])
  assert status == 0
  manifest = json.loads((store_root / "tiny_dbof" / "model.json").read_text())
  assert manifest["model_class"] == "DbofModel"
  assert manifest["training"]["config"]["model_options"]["cluster_size"] == 32
  assert manifest["training"]["config"]["mixup_alpha"] == 0.4
  assert manifest["training"]["epochs_done"] == 2
  # Half of the records left after the validation split; the split itself unchanged.
  records = len(S.load_slice(S.TRAIN_SLICE).frames)
  held_out = round(0.2 * records)
  assert manifest["training"]["validation_examples"] == held_out
  assert manifest["training"]["train_examples"] == round(0.5 * (records - held_out))
  assert manifest["metrics"]["eval"]["num_examples"] == len(S.load_slice(S.EVAL_SLICE).frames)
  assert manifest["labels"] == "labels.csv" and manifest["num_classes"] == 527
  stored_labels = (store_root / "tiny_dbof" / "labels.csv").read_text().splitlines()
  assert stored_labels == S.class_labels_csv().read_text().splitlines()

  out = tmp_path / "report"
  status = cli.main(["evaluate", "--eval-data", S.slice_glob(S.EVAL_SLICE),
                            "--model", "tiny_dbof", "--model-dir", str(store_root),
                            "--output-dir", str(out)])
  assert status == 0
  summary = json.loads((out / "summary.json").read_text())
  # The store's copy scores exactly as the model evaluated right after training.
  assert summary["hit_at_one"] == pytest.approx(manifest["metrics"]["eval"]["hit_at_one"])
  assert summary["map"] == pytest.approx(manifest["metrics"]["eval"]["map"])
  with open(out / "per_class.csv", newline="") as stream:
    rows = list(csv.DictReader(stream))
  assert len(rows) == 527 and rows[0]["name"] == "Speech"
  assert list(rows[0]) == ["index", "name", "AP", "AUC", "positives"]
  assert sum(int(row["positives"]) for row in rows) == int(
      S.load_slice(S.EVAL_SLICE).labels.sum())

  # A train directory evaluates too.
  assert cli.main(["evaluate", "--eval-data", S.slice_glob(S.EVAL_SLICE),
                          "--model", str(train_dir)]) == 0
