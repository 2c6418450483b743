"""Training tiny versions of every model on real AudioSet records; export and reload."""

import json
import os

import numpy as np
import pytest

import support_train as S

from soundscope.configs import params as P


def tiny_config(tmp_path, model, epochs=4, **overrides):
  from soundscope.models.training import train
  values = dict(train_data=S.slice_glob(S.TRAIN_SLICE),
                validation_data=S.slice_glob(S.VALIDATION_SLICE),
                train_dir=str(tmp_path / model), model=model, num_epochs=epochs,
                learning_rate=0.01, batch_size=64, model_options=S.TINY_MODELS[model])
  values.update(overrides)
  return train.TrainConfig(**values)


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(S.TINY_MODELS))
def test_tiny_model_learns_and_reports_validation_metrics(tmp_path, model):
  from soundscope.models.training import train
  result = train.train(tiny_config(tmp_path, model), verbose=0)
  losses = [epoch["loss"] for epoch in result["history"]]
  assert len(losses) == 4
  assert losses[-1] < losses[0], losses
  for epoch in result["history"]:
    assert 0.0 <= epoch["val_hit_at_one"] <= 1.0
    assert 0.0 < epoch["val_map"] <= 1.0
    assert 0.0 <= epoch["val_mean_auc"] <= 1.0
  best = max(result["history"], key=lambda epoch: epoch["val_map"])
  assert result["chosen_epoch"] == best["epoch"]
  assert result["train_examples"] == len(S.load_slice(S.TRAIN_SLICE).frames)
  assert os.path.isfile(result["model_path"])
  assert os.listdir(os.path.join(str(tmp_path / model), "logs"))  # TensorBoard events.
  with open(os.path.join(str(tmp_path / model), "training.json")) as stream:
    assert json.load(stream)["epochs_done"] == 4


def test_models_take_sizes_from_parameters():
  from soundscope.models.networks import frame_models
  for name, options in S.TINY_MODELS.items():
    model = frame_models.build(name, 17, feature_size=40, max_frames=7, **options)
    inputs = {"frames": np.random.default_rng(0).normal(size=(3, 7, 40)).astype(np.float32),
              "num_frames": np.array([7, 3, 1], np.int32)}
    outputs = np.asarray(model(inputs, training=False))
    assert outputs.shape == (3, 17), name
    assert np.all((outputs >= 0) & (outputs <= 1)), name


@pytest.mark.parametrize("model", ["FrameLevelLogisticModel", "LstmModel",
                                   "AttentionPoolingModel", "MultiLevelAttentionModel",
                                   "PooledMlpModel"])
def test_padding_frames_do_not_change_scores(model):
  """A 4-frame record scores the same whatever sits in its padding rows."""
  from soundscope.models.networks import frame_models
  keras_model = frame_models.build(model, 5, feature_size=8, max_frames=6, **S.TINY_MODELS[model])
  frames = np.random.default_rng(1).normal(size=(1, 6, 8)).astype(np.float32)
  noisy = frames.copy()
  noisy[:, 4:] = 9.0
  counts = np.array([4], np.int32)
  clean = np.asarray(keras_model({"frames": frames, "num_frames": counts}, training=False))
  other = np.asarray(keras_model({"frames": noisy, "num_frames": counts}, training=False))
  np.testing.assert_allclose(clean, other, rtol=1e-5, atol=1e-6)
  assert P.MAX_FRAMES == 10


def test_dbof_is_deterministic_at_inference_and_samples_in_training():
  from soundscope.models.networks import frame_models
  model = frame_models.build("DbofModel", 5, feature_size=8, max_frames=6, iterations=6,
                             cluster_size=16, hidden_size=8)
  inputs = {"frames": np.random.default_rng(2).normal(size=(4, 6, 8)).astype(np.float32),
            "num_frames": np.array([6, 5, 2, 1], np.int32)}
  first = np.asarray(model(inputs, training=False))
  np.testing.assert_array_equal(first, np.asarray(model(inputs, training=False)))
  sampler = model.get_layer("sample_frames")
  sampled = np.asarray(sampler(inputs["frames"], inputs["num_frames"], training=True))
  for row, count in enumerate(inputs["num_frames"]):
    real = inputs["frames"][row, :count]
    # Every sampled frame is one of the record's real frames, never padding.
    assert all(np.any(np.all(np.isclose(real, frame), axis=1)) for frame in sampled[row])


@pytest.mark.slow
def test_export_loads_back_with_identical_scores(tmp_path):
  from soundscope.models.training import evaluate
  from soundscope.models.store import heads
  from soundscope.models.training import train
  result = train.train(tiny_config(tmp_path, "AttentionPoolingModel", epochs=2), verbose=0)
  model = evaluate.load_keras_model(result["model_path"])
  head_dir = heads.export_head(model, tmp_path / "store" / "tiny_head", S.class_labels_csv(),
                               training={"epochs": 2}, metrics={"validation": {"map": 0.1}},
                               model_class="AttentionPoolingModel")
  manifest = json.loads((head_dir / "model.json").read_text())
  assert manifest["kind"] == "vggish_head" and manifest["requires"] == ["vggish"]
  assert manifest["feature_spec"]["feature_size"] == 128
  assert set(manifest["files"]) == {"head.keras", "labels.csv"}
  classifier = heads.load_head_classifier(head_dir, tmp_path / "store")
  assert len(classifier.labels) == 527 and classifier.labels[0] == "Speech"
  data = S.load_slice(S.EVAL_SLICE)
  expected = evaluate.score(model, data)
  for row in range(5):
    embedding = data.frames[row, :data.num_frames[row]]
    np.testing.assert_allclose(classifier.embedding_scores(embedding), expected[row],
                               rtol=1e-5, atol=1e-7)
  # The store loads the same head by name.
  from soundscope.models.store import registry
  loaded = registry.load_classifier("tiny_head", model_dir=tmp_path / "store")
  np.testing.assert_allclose(loaded.embedding_scores(data.frames[0, :data.num_frames[0]]),
                             expected[0], rtol=1e-5, atol=1e-7)


def test_evaluate_scores_every_record(tmp_path):
  from soundscope.models.training import evaluate
  from soundscope.models import readers
  from soundscope.models.training import train
  result = train.train(tiny_config(tmp_path, "FrameLevelLogisticModel", epochs=2), verbose=0)
  model = evaluate.load_keras_model(result["model_path"])
  data = S.load_slice(S.EVAL_SLICE)
  summary, aps, aucs, positives = evaluate.evaluate(model, data)
  assert summary["num_examples"] == len(data.frames)
  # The model's own outputs, and hit@1 and positives counted here by hand.
  scores = model.predict(readers.dequantized_inputs(data), batch_size=64, verbose=0)
  np.testing.assert_allclose(evaluate.score(model, data), scores, rtol=1e-6, atol=1e-7)
  top = scores.argmax(axis=1)
  assert summary["hit_at_one"] == pytest.approx(
      np.mean(data.labels[np.arange(len(top)), top] > 0))
  assert aps.shape == aucs.shape == positives.shape == (527,)
  np.testing.assert_array_equal(positives, (data.labels > 0).sum(axis=0))


def test_cli_model_names_are_the_models():
  """Every name --model accepts (the three YouTube-8M aliases included) builds, and every model is named."""
  from soundscope.configs import training
  from soundscope.models.networks import frame_models
  for name in training.MODEL_NAMES:
    assert frame_models.canonical_name(name) in frame_models.MODELS
  assert set(frame_models.MODELS) == set(training.MODELS)
  assert {"FrameLevelLogistic", "DBoF", "LSTM"} <= set(training.MODEL_NAMES)


def test_unknown_model_and_missing_data_are_clear_errors(tmp_path, capsys):
  from soundscope.cli import main as cli
  assert cli.main(["train", "--train-data", S.slice_glob(S.TRAIN_SLICE),
                          "--train-dir", str(tmp_path / "x"), "--model", "Nope"]) == 2
  assert "unknown --model 'Nope'; choose from" in capsys.readouterr().err
  assert cli.main(["train", "--train-data", str(tmp_path / "*.tfrecord"),
                          "--train-dir", str(tmp_path / "x")]) == 2
  assert "no files match" in capsys.readouterr().err


def test_pooled_mlp_flags_shape_the_network():
  """`--model mlp --hidden-units 16 --hidden-layers 3` builds three 16-unit layers."""
  import argparse
  from soundscope.models.networks import frame_models
  from soundscope.cli import train as train_cli
  parser = train_cli.add_arguments(argparse.ArgumentParser())
  args = parser.parse_args(["--train-data", "x/*.tfrecord", "--train-dir", "run", "--model", "mlp",
                            "--hidden-units", "16", "--hidden-layers", "3", "--dropout", "0.25"])
  options = train_cli.model_options(args)
  assert options == {"hidden_units": 16, "hidden_layers": 3, "dropout": 0.25}
  model = frame_models.build(args.model, 527, **options)
  hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")
            and not layer.name.endswith("dropout")]
  assert [layer.units for layer in hidden] == [16, 16, 16]
  assert [layer.rate for layer in model.layers if layer.name.endswith("dropout")] == [0.25] * 3
  assert model.output_shape == (None, 527)
