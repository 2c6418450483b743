"""YouTube-8M's loss, the averaged ensemble head and the prior calibration, on real records."""

import os

import numpy as np
import pytest

import support_train as S
from soundscope.configs import model_specs


def test_youtube8m_loss_sums_cross_entropy_over_classes():
  from soundscope.models.training import train
  labels = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
  scores = np.array([[0.9, 0.2, 0.1], [0.5, 0.7, 0.01]], np.float32)
  eps = train.YOUTUBE8M_LOSS_EPSILON
  expected = -(labels * np.log(scores + eps) + (1 - labels) * np.log(1 - scores + eps)).sum(1)
  got = np.asarray(train.youtube8m_cross_entropy(labels, scores))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  with pytest.raises(ValueError, match="loss must be one of"):
    train.build_model(train.TrainConfig(train_data="x", train_dir="y", loss="hinge"))


@pytest.mark.slow
def test_youtube8m_loss_run_resumes(tmp_path):
  from soundscope.models.training import train
  config = train.TrainConfig(train_data=S.slice_glob(S.TRAIN_SLICE),
                             train_dir=str(tmp_path / "run"),
                             num_epochs=1, batch_size=64, validation_fraction=0.2, split_seed=3,
                             seed=5, loss="youtube8m", model_options={"l2_penalty": 1e-4})
  first = train.train(config, verbose=0)
  resumed = train.train(train.TrainConfig(**{**first["config"], "num_epochs": 2}), verbose=0)
  assert [epoch["epoch"] for epoch in resumed["history"]] == [1, 2]
  assert resumed["history"][1]["loss"] < resumed["history"][0]["loss"]
  # The split follows split_seed, not seed: the same held-out records for every seed.
  other = train.TrainConfig(**{**first["config"], "seed": 6})
  _, held_a = train.train_and_validation_data(config)
  _, held_b = train.train_and_validation_data(other)
  np.testing.assert_array_equal(held_a.labels, held_b.labels)


@pytest.mark.slow
def test_ensemble_head_averages_members_and_loads_from_the_store(tmp_path):
  from soundscope.models.training import evaluate
  from soundscope.models.networks import ensemble_layers, frame_models
  from soundscope.models.store import heads
  data = S.load_slice(S.EVAL_SLICE)
  members = [frame_models.build(name, 527, **S.TINY_MODELS[name])
             for name in ("FrameLevelLogisticModel", "MultiLevelAttentionModel",
                             "MultiLevelAttentionModel")]
  member_scores = [evaluate.score(member, data) for member in members]
  ensemble = ensemble_layers.average_ensemble(members)
  np.testing.assert_allclose(evaluate.score(ensemble, data), np.mean(member_scores, 0),
                             rtol=1e-5, atol=1e-7)
  head_dir = heads.export_head(ensemble, tmp_path / "store" / "ens", S.class_labels_csv(),
                               model_class="AverageEnsemble")
  from soundscope.models.store import registry
  loaded = registry.load_classifier("ens", model_dir=tmp_path / "store")
  for row in range(3):
    np.testing.assert_allclose(loaded.embedding_scores(data.frames[row, :data.num_frames[row]]),
                               np.mean([scores[row] for scores in member_scores], 0),
                               rtol=1e-5, atol=1e-7)
  assert heads.load_head_classifier(head_dir, tmp_path / "store").labels[0] == "Speech"


def test_prior_shift_keeps_each_class_order_and_moves_towards_frequent_classes():
  from soundscope.models.networks import ensemble_layers, frame_models
  member = frame_models.build("FrameLevelLogisticModel", 3, feature_size=4, max_frames=2)
  log_prior = np.log([0.5, 0.1, 0.01])
  shifted = ensemble_layers.average_ensemble([member], log_prior=log_prior, beta=1.0,
                                          feature_size=4, max_frames=2)
  rng = np.random.default_rng(0)
  inputs = {"frames": rng.normal(size=(20, 2, 4)).astype(np.float32),
            "num_frames": np.full(20, 2, np.int32)}
  plain = member.predict(inputs, verbose=0)
  moved = shifted.predict(inputs, verbose=0)
  for column in range(3):
    np.testing.assert_array_equal(np.argsort(plain[:, column]), np.argsort(moved[:, column]))
  logit = lambda p: np.log(p) - np.log1p(-p)
  np.testing.assert_allclose(logit(moved) - logit(plain), np.broadcast_to(log_prior, (20, 3)),
                             atol=1e-3)


def test_weight_average_of_logistic_models_averages_their_logits():
  import keras
  from soundscope.models.training import evaluate
  from soundscope.models.networks import ensemble_layers, frame_models
  data = S.load_slice(S.EVAL_SLICE)
  members = []
  for seed in (1, 2, 3):
    keras.utils.set_random_seed(seed)
    members.append(frame_models.build("FrameLevelLogisticModel", 527))
  logit = lambda p: np.log(p) - np.log1p(-p)
  member_logits = [logit(evaluate.score(member, data).astype(np.float64)) for member in members]
  averaged = ensemble_layers.average_weights(members, name="FrameLevelLogistic")
  assert averaged.name == "FrameLevelLogistic"
  assert len(averaged.get_weights()) == 2   # still one dense layer: kernel and bias
  np.testing.assert_allclose(logit(evaluate.score(averaged, data).astype(np.float64)),
                             np.mean(member_logits, 0), atol=2e-3)
  # The members keep their own weights.
  np.testing.assert_allclose(logit(evaluate.score(members[0], data).astype(np.float64)),
                             member_logits[0], atol=1e-6)
  attention = frame_models.build("MultiLevelAttentionModel", 527,
                                 **S.TINY_MODELS["MultiLevelAttentionModel"])
  with pytest.raises(ValueError, match="only for FrameLevelLogistic"):
    ensemble_layers.average_weights([members[0], attention])


def _tiny_run(train_dir, model, **overrides):
  from soundscope.models.training import train
  settings = dict(num_epochs=1, batch_size=64, validation_fraction=0.2, split_seed=3,
                  model_options=S.TINY_MODELS[model])
  config = train.TrainConfig(train_data=S.slice_glob(S.TRAIN_SLICE), train_dir=str(train_dir),
                             model=model, **{**settings, **overrides})
  return config, train.train(config, verbose=0)


@pytest.mark.slow
def test_ensemble_command_averages_finished_runs_into_an_exported_head(tmp_path, capsys):
  import json
  from soundscope.cli import main as cli
  from soundscope.models.training import evaluate
  from soundscope.models.training import ensemble
  from soundscope.models.store import registry
  from soundscope.models.training import train
  config, logistic = _tiny_run(tmp_path / "logistic", "FrameLevelLogisticModel")
  _, attention = _tiny_run(tmp_path / "attention", "AttentionPoolingModel", seed=1)
  status = cli.main([
      "ensemble", "--members", f"{tmp_path / 'logistic'},{tmp_path / 'attention'}",
      "--beta", "0.5", "--train-dir", str(tmp_path / "ens"), "--export", "ens",
      "--model-dir", str(tmp_path / "store"), "--class-labels", str(S.class_labels_csv()),
      "--eval-data", S.slice_glob(S.EVAL_SLICE)])
  assert status == 0, capsys.readouterr().err
  # By hand: the mean of the members' probabilities, its logit moved by beta times the
  # log label frequencies of the members' training split.
  data = S.load_slice(S.EVAL_SLICE)
  mean = np.mean([evaluate.score(evaluate.load_keras_model(run["model_path"]), data)
                  for run in (logistic, attention)], axis=0).astype(np.float64)
  train_split, _ = train.train_and_validation_data(config)
  prior = np.log(np.maximum(train_split.labels.mean(0), 1.0 / len(train_split.labels)))
  expected = 1 / (1 + np.exp(-(np.log(mean) - np.log1p(-mean) + 0.5 * prior)))
  model = evaluate.load_keras_model(str(tmp_path / "ens" / "model.keras"))
  np.testing.assert_allclose(evaluate.score(model, data), expected, rtol=1e-4, atol=1e-6)
  summary = json.loads((tmp_path / "ens" / "training.json").read_text())
  assert summary["elapsed_seconds"] == pytest.approx(
      logistic["elapsed_seconds"] + attention["elapsed_seconds"])
  assert set(summary["metrics"]) == {"validation", "eval"}
  assert summary["metrics"]["eval"]["num_examples"] == len(data.labels)
  assert summary["model_class"] == ("AverageEnsemble(FrameLevelLogisticModel, "
                                    "AttentionPoolingModel)")
  # The exported head scores records as the saved model does.
  head = registry.load_classifier("ens", model_dir=tmp_path / "store")
  np.testing.assert_allclose(head.embedding_scores(data.frames[0, :data.num_frames[0]]),
                             expected[0], rtol=1e-4, atol=1e-6)
  assert ensemble.load_run(str(tmp_path / "ens"))["model_path"].endswith("model.keras")


@pytest.mark.slow
def test_ensemble_command_names_the_member_it_cannot_use(tmp_path, capsys):
  from soundscope.cli import main as cli
  _tiny_run(tmp_path / "logistic", "FrameLevelLogisticModel")
  _tiny_run(tmp_path / "short", "FrameLevelLogisticModel", max_frames=5)
  _tiny_run(tmp_path / "attention", "AttentionPoolingModel")
  (tmp_path / "unfinished").mkdir()

  def ensemble_error(*members, kind="scores", beta="0"):
    status = cli.main(["ensemble", "--members", ",".join(str(tmp_path / m)
                                                                  for m in members),
                              "--kind", kind, "--beta", beta, "--train-dir", str(tmp_path / "ens")])
    assert status == 2
    return capsys.readouterr().err

  error = ensemble_error("logistic", "unfinished")
  assert f"{tmp_path / 'unfinished'}: no finished training run" in error
  error = ensemble_error("logistic", "short")
  assert f"{tmp_path / 'short'}: max_frames is 5, but the first member" in error
  assert "only for FrameLevelLogistic" in ensemble_error("logistic", "attention", kind="weights")
  assert "applies to averaged scores" in ensemble_error("logistic", "logistic", kind="weights",
                                                        beta="0.1")
  assert not (tmp_path / "ens" / "model.keras").exists()


@pytest.mark.slow
def test_every_recipe_names_members_with_valid_settings():
  """The shipped recipes build: their members are known, with TrainConfig settings and real models.

  Training them in full takes 21 min (bench/train_article_models.py); the
  command's behaviour is tested below on a recipe of the same shape, scaled down.
  """
  from soundscope.configs import training_recipes
  from soundscope.models.networks import frame_models
  from soundscope.models.training import train
  for name, recipe in training_recipes.ENSEMBLES.items():
    assert recipe["kind"] in ("scores", "weights") and recipe["members"], name
    for member in recipe["members"]:
      config = train.TrainConfig(train_data="x", train_dir="y", **training_recipes.MEMBERS[member])
      model = frame_models.build(config.model, 527, **config.model_options)
      assert model.output_shape == (None, 527), (name, member)


# A recipe shaped like ensemble_mix5 (attention, mixup, seeds, its own decay), scaled
# down to seconds of training on the slice.
_SMALL = dict(validation_fraction=0.0, loss="mean", batch_size=64, num_epochs=2,
              learning_rate=0.001, learning_rate_decay_examples=4000000)
SMALL_MEMBERS = {
    "multilevel_small": dict(model="MultiLevelAttentionModel",
                             model_options={"hidden_units": 16}, **_SMALL),
    "mlp_mixup_small": dict(model="PooledMlpModel", mixup_alpha=0.4, seed=1, split_seed=0,
                            model_options={"hidden_units": 32, "hidden_layers": 2}, **_SMALL),
    "attention_small": dict(model="AttentionPoolingModel", model_options={"hidden_units": 16},
                            **{**_SMALL, "learning_rate_decay_examples": 40000}),
}
SMALL_RECIPE = dict(members=tuple(SMALL_MEMBERS), kind="scores", beta=0.1)


@pytest.mark.slow
def test_a_recipe_trains_its_members_then_averages_them(tmp_path, capsys, monkeypatch):
  import json
  from soundscope.cli import main as cli
  from soundscope.configs import training_recipes
  from soundscope.models.store import registry
  from soundscope.models.training import train
  for member, settings in SMALL_MEMBERS.items():
    monkeypatch.setitem(training_recipes.MEMBERS, member, settings)
  monkeypatch.setitem(training_recipes.ENSEMBLES, "small_mix", SMALL_RECIPE)
  best = tmp_path / "best"
  arguments = ["ensemble", "--recipe", "small_mix", "--train-data",
               S.slice_glob(S.TRAIN_SLICE), "--train-dir", str(best), "--quiet",
               "--export", "best", "--model-dir", str(tmp_path / "store"),
               "--class-labels", str(S.class_labels_csv())]
  assert cli.main(arguments) == 0, capsys.readouterr().err
  summary = json.loads((best / "training.json").read_text())
  assert summary["config"]["beta"] == SMALL_RECIPE["beta"] == 0.1
  assert [m.rsplit("/", 1)[1] for m in summary["config"]["members"]] == list(SMALL_MEMBERS)
  for member, member_config in zip(SMALL_MEMBERS, summary["config"]["member_configs"]):
    # Each member trained on all the records with exactly its recipe's settings.
    expected = train.TrainConfig(train_data=S.slice_glob(S.TRAIN_SLICE),
                                 train_dir=str(best / "members" / member),
                                 **SMALL_MEMBERS[member])
    assert train.TrainConfig(**member_config) == expected
  assert "member 3/3 attention_small: AttentionPoolingModel, 2 epochs" in (
      capsys.readouterr().err)
  data = S.load_slice(S.EVAL_SLICE)
  head = registry.load_classifier("best", model_dir=tmp_path / "store")
  assert head.embedding_scores(data.frames[0, :data.num_frames[0]]).shape == (527,)
  # Running it again resumes: the finished members are kept, not retrained.
  before = {member: (best / "members" / member / "latest.keras").stat().st_mtime_ns
            for member in SMALL_MEMBERS}
  # The export exists now: replacing it takes --force, refused before anything runs.
  assert cli.main(arguments) == 2
  assert "already exists; choose another name, or pass --force" in capsys.readouterr().err
  assert cli.main(arguments + ["--force"]) == 0
  assert before == {member: (best / "members" / member / "latest.keras").stat().st_mtime_ns
                    for member in SMALL_MEMBERS}
  # The recipe fixes how its members are averaged.
  assert cli.main(arguments + ["--beta", "0.3"]) == 2
  assert "come from the recipe 'small_mix'" in capsys.readouterr().err


@pytest.mark.slow
def test_averaging_runs_fitted_on_all_their_data_reads_no_records(tmp_path, capsys):
  import glob
  import shutil
  from soundscope.cli import main as cli
  from soundscope.models.training import ensemble
  from soundscope.models.training import evaluate
  from soundscope.models.training import train
  copied = tmp_path / "records"
  copied.mkdir()
  for path in glob.glob(S.slice_glob(S.TRAIN_SLICE)):
    shutil.copy(path, copied)
  runs = [str(tmp_path / f"logistic_{seed}") for seed in (0, 1)]
  for seed, train_dir in enumerate(runs):
    train.train(train.TrainConfig(train_data=str(copied / "*.tfrecord"), train_dir=train_dir,
                                  num_epochs=1, batch_size=64, seed=seed), verbose=0)
  shutil.rmtree(copied)   # No cache either: nothing left to read the records from.
  data = S.load_slice(S.EVAL_SLICE)
  members = [evaluate.score(evaluate.load_keras_model(os.path.join(run, model_specs.TRAINED_MODEL_FILE)),
                            data) for run in runs]
  for kind in ensemble.KINDS:
    result = ensemble.build(runs, str(tmp_path / kind), kind=kind)
    assert result["best_validation"] is None
    scores = evaluate.score(evaluate.load_keras_model(result["model_path"]), data)
    if kind == "scores":
      np.testing.assert_allclose(scores, np.mean(members, axis=0), rtol=1e-5, atol=1e-7)
    else:   # The mean of two logistic models' weights lies between their logits.
      assert np.corrcoef(scores.ravel(), np.mean(members, axis=0).ravel())[0, 1] > 0.99
  # The class-prior shift needs the training labels: the missing records are named.
  status = cli.main(["ensemble", "--members", ",".join(runs), "--beta", "0.1",
                            "--train-dir", str(tmp_path / "shifted")])
  assert status == 2
  assert str(copied) in capsys.readouterr().err


@pytest.mark.slow
def test_members_that_held_out_different_records_give_no_validation_figures(tmp_path, capsys):
  from soundscope.models.training import ensemble
  # No --split-seed: each run's split follows its own --seed, so the second
  # member trained on most of the first member's validation records.
  _tiny_run(tmp_path / "a", "FrameLevelLogisticModel", split_seed=None, seed=0)
  _tiny_run(tmp_path / "b", "FrameLevelLogisticModel", split_seed=None, seed=1)
  _tiny_run(tmp_path / "c", "FrameLevelLogisticModel", split_seed=None, seed=0,
            learning_rate=0.02)
  capsys.readouterr()
  mixed = ensemble.build([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "ab"))
  assert mixed["best_validation"] is None
  assert (f"no validation figures for the ensemble: {tmp_path / 'b'} held out another "
          f"validation split") in capsys.readouterr().err
  shared = ensemble.build([str(tmp_path / "a"), str(tmp_path / "c")], str(tmp_path / "ac"))
  assert set(shared["best_validation"]) >= {"val_hit_at_one", "val_map"}
