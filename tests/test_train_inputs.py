"""Settings, labels, data and outputs of train, ensemble and evaluate are checked: one line
and a usage error (exit 2) for what the user gave, never a traceback or a NaN head."""

import json
import os

import numpy as np
import pytest

import support_train as S

from soundscope.cli import main as cli

ONE_FILE = "audioset/bal_train/a0.tfrecord"
TWO_FILES = "audioset/bal_train/a[01].tfrecord"


def _one_line(text):
  lines = [line for line in text.splitlines() if line.strip()]
  assert len(lines) == 1, text
  assert "Traceback" not in text
  return lines[0]


def _train(tmp_path, *extra, data=ONE_FILE):
  return cli.main(["train", "--train-data", S.slice_glob(data), "--train-dir",
                   str(tmp_path / "run"), "--num-epochs", "1", "--batch-size", "8", "--quiet",
                   *extra])


@pytest.mark.parametrize("flag, value", [
    ("--mixup-alpha", "nan"), ("--mixup-alpha", "inf"), ("--learning-rate", "inf"),
    ("--learning-rate", "nan"), ("--learning-rate-decay", "nan"),
    ("--learning-rate-decay", "-2"), ("--clip-gradient-norm", "-1"),
    ("--clip-gradient-norm", "nan"), ("--validation-fraction", "nan")])
def test_non_finite_or_negative_settings_are_usage_errors(tmp_path, capsys, flag, value):
  assert _train(tmp_path, flag, value) == 2
  assert f"{flag} must be" in _one_line(capsys.readouterr().err)
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("beta", ["nan", "-5", "inf"])
def test_ensemble_beta_must_be_finite_and_not_negative(tmp_path, capsys, beta):
  assert cli.main(["ensemble", "--members", str(tmp_path / "m1"), "--beta", beta,
                   "--train-dir", str(tmp_path / "ens")]) == 2
  assert "beta (the class-prior shift) must be a finite number" in _one_line(
      capsys.readouterr().err)


def test_a_loss_that_becomes_nan_stops_training_without_export(tmp_path, capsys, monkeypatch):
  from keras import ops
  from soundscope.models.training import train
  monkeypatch.setattr(train, "youtube8m_cross_entropy",
                      lambda labels, predictions: ops.sum(predictions, axis=-1) * np.nan)
  assert _train(tmp_path, "--export", "diverged", "--model-dir", str(tmp_path / "models")) == 1
  err = capsys.readouterr().err
  assert "soundscope train: error: " in err and "the training loss became nan in epoch 1" in err
  assert "Traceback" not in err
  assert not (tmp_path / "models" / "diverged").exists()
  assert not (tmp_path / "run" / "model.keras").exists()
  assert not (tmp_path / "run" / "state.json").exists()


class _NanModel:
  """A stand-in head whose scores are NaN."""
  output_shape = (None, 527)

  def __call__(self, inputs, training=False):
    return np.full((len(inputs["num_frames"]), 527), np.nan, np.float32)


def test_evaluate_refuses_non_finite_scores():
  from soundscope.models.training import evaluate
  with pytest.raises(evaluate.NonFiniteScoresError, match="NaN or infinite scores for 2 of 2"):
    evaluate.evaluate(_NanModel(), S.load_slice(ONE_FILE))


def _labels(tmp_path, rows):
  path = tmp_path / "labels.csv"
  path.write_text("index,mid,display_name\n" + "".join(f"{row}\n" for row in rows))
  return str(path)


@pytest.mark.parametrize("rows, problem", [
    (["0,/m/a,A", "0,/m/b,B"], ":3: index 0 is also on line 2"),
    (["0,/m/a,A", "2,/m/b,B"], ":3: index 2, but index 1 is missing"),
    (["1,/m/a,A", "2,/m/b,B"], ":2: index 1, but index 0 is missing"),
    (["0,/m/a,A", "1,/m/b,"], ":3: display_name is empty"),
    (["0,/m/a,A", "-1,/m/b,B"], ":3: index -1 is negative")])
def test_class_labels_must_be_indices_0_to_n_minus_1_with_names(tmp_path, rows, problem):
  from soundscope.cli import train as train_cli
  from soundscope.models import class_map
  path = _labels(tmp_path, rows)
  with pytest.raises(class_map.ClassMapError) as error:
    train_cli.check_labels(path, 2)
  assert str(error.value).startswith(path + problem)


def test_the_official_class_maps_are_complete():
  from conftest import asset
  from soundscope.models import class_map
  assert len(class_map.read(asset("audioset/class_labels_indices.csv"), complete=True)
             .indices) == 527
  assert len(class_map.read(asset("yamnet/yamnet_class_map.csv"), complete=True)
             .indices) == 521


def test_bad_class_labels_and_eval_data_fail_before_training(tmp_path, capsys):
  bad = _labels(tmp_path, ["0,/m/a,A", "0,/m/b,B"])
  assert _train(tmp_path, "--export", "x", "--model-dir", str(tmp_path / "models"),
                "--class-labels", bad) == 2
  assert f"{bad}:3: index 0 is also on line 2" in _one_line(capsys.readouterr().err)
  short = _labels(tmp_path, ["0,/m/a,A"])
  assert _train(tmp_path, "--export", "x", "--model-dir", str(tmp_path / "models"),
                "--class-labels", short) == 2
  assert "lists 1 classes, but --num-classes is 527" in _one_line(capsys.readouterr().err)
  assert _train(tmp_path, "--eval-data", str(tmp_path / "nothing*.tfrecord")) == 2
  assert "no files match" in _one_line(capsys.readouterr().err)
  assert not (tmp_path / "run").exists()


def test_training_json_model_path_is_read_from_any_folder(tmp_path, monkeypatch):
  from soundscope.models.training import ensemble
  from soundscope.models.training import train
  run = tmp_path / "runs" / "m1"
  run.mkdir(parents=True)
  (run / "model.keras").write_bytes(b"x")
  monkeypatch.chdir(tmp_path)
  train.write_summary(os.path.join("runs", "m1"), {
      "config": {}, "model_path": os.path.join("runs", "m1", "model.keras"),
      "loss": float("nan")})
  recorded = json.loads((run / "training.json").read_text())
  assert recorded["model_path"] == "model.keras" and recorded["loss"] is None
  elsewhere = tmp_path / "elsewhere"
  (elsewhere / "runs" / "m1").mkdir(parents=True)
  (elsewhere / "runs" / "m1" / "model.keras").write_bytes(b"another file")
  monkeypatch.chdir(elsewhere)
  assert ensemble.load_run(str(run))["model_path"] == str(run / "model.keras")
  # Older files recorded the path from the folder training ran in.
  (run / "training.json").write_text(json.dumps(
      {"config": {}, "model_path": "runs/m1/model.keras"}))
  assert ensemble.load_run(str(run))["model_path"] == str(run / "model.keras")


def test_an_ensemble_cannot_overwrite_a_member_nor_take_an_ensemble(tmp_path, capsys):
  member = tmp_path / "m1"
  member.mkdir()
  assert cli.main(["ensemble", "--members", f"{member},{tmp_path / 'm2'}",
                   "--train-dir", str(member) + "/"]) == 2
  assert "is the member" in _one_line(capsys.readouterr().err)
  nested = tmp_path / "ens"
  nested.mkdir()
  (nested / "model.keras").write_bytes(b"x")
  (nested / "training.json").write_text(json.dumps(
      {"config": {"members": [str(member)], "beta": 0.1}, "model_path": "model.keras"}))
  assert cli.main(["ensemble", "--members", str(nested), "--train-dir",
                   str(tmp_path / "out")]) == 2
  assert "is an ensemble, not a `soundscope train` run" in _one_line(capsys.readouterr().err)


def test_no_usable_records_is_a_usage_error(tmp_path, capsys):
  empty = tmp_path / "empty.tfrecord"
  empty.write_bytes(b"")
  assert cli.main(["train", "--train-data", str(empty), "--train-dir", str(tmp_path / "run"),
                   "--num-epochs", "1", "--quiet"]) == 2
  assert f"{empty}: no train records" in capsys.readouterr().err
  assert cli.main(["evaluate", "--eval-data", str(empty), "--model", str(tmp_path / "run"),
                   "--model-dir", str(tmp_path / "models")]) == 2
  err = capsys.readouterr().err
  assert "Traceback" not in err and "soundscope evaluate: error:" in err
  assert _train(tmp_path, "--feature-names", "foo") == 2
  assert "frames of the feature 'foo' (--feature-names)" in capsys.readouterr().err
  # Two records, a fraction that holds out none of them.
  assert _train(tmp_path, "--validation-fraction", "0.05") == 2
  assert "no validation record is left" in capsys.readouterr().err


def test_a_corrupt_cache_is_rebuilt(tmp_path, capsys):
  from soundscope.models import readers
  cache = tmp_path / "cache.npz"
  cache.write_bytes(b"PK\x03\x04 truncated")
  data = readers.load_cached(S.slice_glob(ONE_FILE), str(cache))
  assert len(data.labels) == 2
  assert "unreadable cache" in capsys.readouterr().err
  assert len(readers.load_cached(S.slice_glob(ONE_FILE), str(cache)).labels) == 2


def test_a_corrupt_state_json_is_named(tmp_path):
  from soundscope.models.training import train
  (tmp_path / "state.json").write_text("{")
  (tmp_path / "latest.keras").write_bytes(b"x")
  with pytest.raises(ValueError, match=f"{tmp_path / 'state.json'}: not valid JSON"):
    train.read_state(str(tmp_path))


def test_file_system_errors_are_one_line(tmp_path, capsys):
  from soundscope.cli import train as train_cli

  def read_only(args):
    raise PermissionError(13, "Permission denied", "/store/.mine.abc.part")
  assert train_cli.run_reporting_errors("train", read_only, None) == 1
  assert _one_line(capsys.readouterr().err) == \
      "soundscope train: error: /store/.mine.abc.part: Permission denied"
  occupied = tmp_path / "occupied"
  occupied.write_text("")
  assert _train(tmp_path / "x", "--train-dir", str(occupied)) == 2
  assert f"{occupied}: not a directory (--train-dir)" in _one_line(capsys.readouterr().err)
  assert cli.main(["evaluate", "--eval-data", S.slice_glob(ONE_FILE), "--model",
                   str(tmp_path), "--output-dir", str(occupied)]) == 2
  assert f"{occupied}: not a directory (--output-dir)" in _one_line(capsys.readouterr().err)


@pytest.mark.slow
def test_evaluate_of_a_changed_head_is_one_line(tmp_path, capsys):
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  root = tmp_path / "models"
  heads.export_head(frame_models.build("FrameLevelLogisticModel", 527), root / "solo",
                    S.class_labels_csv())
  head = root / "solo" / "head.keras"
  data = bytearray(head.read_bytes())
  data[len(data) // 2] ^= 0xFF
  head.write_bytes(bytes(data))
  assert cli.main(["evaluate", "--eval-data", S.slice_glob(ONE_FILE), "--model", "solo",
                   "--model-dir", str(root)]) == 2
  assert "fails its check" in _one_line(capsys.readouterr().err)
  head.write_bytes(b"PK garbage")
  assert cli.main(["evaluate", "--eval-data", S.slice_glob(ONE_FILE), "--model",
                   str(root / "solo")]) == 2
  assert "cannot be loaded as a Keras model" in _one_line(capsys.readouterr().err)
