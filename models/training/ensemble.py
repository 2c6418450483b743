"""Averaged ensembles of finished training runs, saved as one head.

An ensemble is written like a training run (TRAIN_DIR/model.keras and
training.json), so `soundscope evaluate`, the export to the model store and
every consumer of heads treat it as any other head.  Two kinds:

  scores   the mean of the members' per-class probabilities, optionally moved
           by the class-prior shift beta (ensemble_layers.PriorLogitShift, with
           the log label frequencies of the first member's training records);
           any mix of architectures.
  weights  one FrameLevelLogistic whose weights are the members' mean
           (ensemble_layers.average_weights: exactly the mean of their logits).

The members must agree on classes and frame features.  The ensemble's training
time is the sum of its members'; its validation figures are measured on the
first member's validation split, when every member held out that same split.
train_recipe trains the members of a named recipe (configs/training_recipes.py)
first.
"""

import json
import math
import os
import sys

import numpy as np

from soundscope.configs import model_specs as S

KINDS = ("scores", "weights")
# A recipe's members train in OUT_DIR/members/<member name> (train_recipe).
MEMBERS_FOLDER = "members"
MEMBER_FIELDS_THAT_MUST_AGREE = ("num_classes", "feature_names", "feature_sizes", "max_frames")
# The TrainConfig fields an ensemble's summary keeps for reading data (data_config).
DATA_FIELDS = ("train_data", "cache_dir", *MEMBER_FIELDS_THAT_MUST_AGREE)


def load_run(train_dir):
  """The training.json summary of a finished run.

  Raises:
    ValueError: TRAIN_DIR has no finished run (no training.json or model).
  """
  from soundscope.models.training import train
  summary_path = os.path.join(train_dir, train.TRAINING_FILE)
  if not os.path.isfile(summary_path):
    raise ValueError(f"{train_dir}: no finished training run ({train.TRAINING_FILE} missing)")
  try:
    with open(summary_path, encoding="utf-8") as summary:
      run = json.load(summary)
  except ValueError as exc:   # json.JSONDecodeError and UnicodeDecodeError.
    raise ValueError(f"{summary_path}: not valid JSON ({exc})") from None
  if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
    raise ValueError(f"{summary_path}: not a training summary (no config)")
  run["model_path"] = train.resolve_model_path(train_dir, run.get("model_path"))
  if not os.path.isfile(run["model_path"]):
    raise ValueError(f"{train_dir}: its trained model {run['model_path']} is missing")
  return run


def check_beta(beta):
  """Returns `beta` when it is a finite number >= 0 (the class-prior shift), else ValueError."""
  if not math.isfinite(beta) or beta < 0:
    raise ValueError(f"beta (the class-prior shift) must be a finite number >= 0, not {beta}")
  return beta


def check_out_dir(train_dirs, out_dir):
  """ValueError when the ensemble's directory is one of its members' (it would overwrite it)."""
  target = os.path.realpath(out_dir)
  for train_dir in train_dirs:
    if os.path.realpath(train_dir) == target:
      raise ValueError(f"--train-dir {out_dir} is the member {train_dir}: writing the ensemble "
                       f"there would overwrite it; choose another directory")


def check_not_ensembles(train_dirs, runs):
  """ValueError naming the first member that is itself an ensemble (give its members instead)."""
  for train_dir, run in zip(train_dirs, runs):
    if "members" in run["config"]:
      raise ValueError(f"{train_dir}: is an ensemble, not a `soundscope train` run; give its "
                       f"members instead ({', '.join(map(str, run['config']['members']))})")


def check_members_agree(train_dirs, runs):
  """ValueError naming the first member whose classes or features differ from the first's."""
  first = runs[0]["config"]
  for train_dir, run in zip(train_dirs[1:], runs[1:]):
    for field in MEMBER_FIELDS_THAT_MUST_AGREE:
      if run["config"].get(field) != first.get(field):
        raise ValueError(f"{train_dir}: {field} is {run['config'].get(field)!r}, but the first "
                         f"member {train_dirs[0]} has {first.get(field)!r}")


def split_of(run_config):
  """What decides a run's validation records: data, held-out part, and the split's seed."""
  from soundscope.models.training import train
  config = train.TrainConfig(**run_config)
  return (config.train_data, config.validation_data, config.validation_fraction,
          config.split_seed_or_seed())


def unshared_split(train_dirs, runs):
  """None when every member held out the first member's validation records, else why not.

  Otherwise some "validation" records would have trained a member, and the
  ensemble's validation figures would flatter it.
  """
  first = split_of(runs[0]["config"])
  for train_dir, run in zip(train_dirs[1:], runs[1:]):
    if split_of(run["config"]) != first:
      return (f"{train_dir} held out another validation split (data, fraction or seed) "
              f"than {train_dirs[0]}")
  return None


def log_prior(labels):
  """float64 [C]: log of each class's frequency in multi-hot `labels` [n, C], floored at 1/n."""
  labels = np.asarray(labels)
  return np.log(np.maximum(labels.mean(axis=0), 1.0 / len(labels)))


def build(train_dirs, out_dir, beta=0.0, kind="scores", name="AverageEnsemble",
          cache_dir=None):
  """Averages finished runs into OUT_DIR/model.keras and OUT_DIR/training.json.

  Args:
    train_dirs: train directories of finished `soundscope train` runs.
    out_dir: the ensemble's directory (created).
    beta: class-prior shift (kind 'scores'; 0: the plain mean).
    kind: one of KINDS.
    name: the Keras model's name.
    cache_dir: .npz cache of decoded records (default: the first member's).

  Returns:
    dict shaped like train.train()'s summary: config (members, beta, kind,
    member_configs), model_class, model_path, best_validation (None without
    a validation split), elapsed_seconds and cpu_seconds (the members' sums), ...

  Raises:
    ValueError: no members, an unknown kind, a beta that is not finite and >= 0,
      beta with kind 'weights', OUT_DIR one of the members, a member that is
      not a finished run (or is an ensemble), members that disagree on classes
      or features, or a 'weights' member that is not a FrameLevelLogistic.
  """
  from soundscope.models.training import evaluate
  from soundscope.models.networks import ensemble_layers
  from soundscope.models.training import metrics
  from soundscope.models.training import train
  if not train_dirs:
    raise ValueError("an ensemble needs at least one member")
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
  check_beta(beta)
  if kind == "weights" and beta:
    raise ValueError("the class-prior shift (beta) applies to averaged scores, not weights")
  check_out_dir(train_dirs, out_dir)
  runs = [load_run(train_dir) for train_dir in train_dirs]
  check_not_ensembles(train_dirs, runs)
  check_members_agree(train_dirs, runs)
  config = train.TrainConfig(**{**runs[0]["config"],
                                "cache_dir": cache_dir or runs[0]["config"].get("cache_dir")})
  # The training records matter only for the class prior and a validation split:
  # averaging runs fitted on all of their data needs nothing but their models.
  shifted = kind == "scores" and bool(beta)
  validating = bool(config.validation_data or config.validation_fraction)
  reason = unshared_split(train_dirs, runs) if validating else None
  if reason:
    print(f"no validation figures for the ensemble: {reason}", file=sys.stderr)
    validating = False
  train_data, validation = (train.train_and_validation_data(config) if shifted or validating
                            else (None, None))
  if not validating:
    validation = None
  members = [evaluate.load_keras_model(run["model_path"]) for run in runs]
  classes = ", ".join(run["model_class"] for run in runs)
  if kind == "weights":
    model = ensemble_layers.average_weights(members)
    model_class = f"WeightAverage({classes})"
  else:
    _, feature_size = config.feature()
    model = ensemble_layers.average_ensemble(
        members, log_prior=log_prior(train_data.labels) if shifted else None, beta=beta,
        name=name,
        feature_size=feature_size, max_frames=config.max_frames)
    model_class = f"AverageEnsemble({classes})"
  os.makedirs(out_dir, exist_ok=True)
  model_path = os.path.abspath(os.path.join(out_dir, S.TRAINED_MODEL_FILE))
  model.save(model_path)
  best_validation = None
  if validation is not None:
    summary, *_ = metrics.summary(evaluate.score(model, validation), validation.labels)
    best_validation = {f"val_{key}": summary[key] for key in train.SELECTION_METRICS}
  result = {
      "config": {"members": [os.path.abspath(d) for d in train_dirs], "beta": beta,
                 "kind": kind, "member_configs": [run["config"] for run in runs],
                 # What the export and evaluation read: the members' shared data spec.
                 **{field: getattr(config, field) for field in DATA_FIELDS}},
      "model_class": model_class,
      "model_path": model_path,
      "history": [], "epochs_done": "-", "chosen_epoch": "-",
      "steps": sum(run.get("steps", 0) for run in runs),
      "train_examples": runs[0].get("train_examples"),
      "validation_examples": runs[0].get("validation_examples"),
      "best_validation": best_validation,
      "elapsed_seconds": sum(run["elapsed_seconds"] for run in runs),
      "cpu_seconds": sum(run["cpu_seconds"] for run in runs),
  }
  train.write_summary(out_dir, result)
  return result


def data_config(result, train_dir):
  """soundscope.models.training.train.TrainConfig to read records as the ensemble of build()'s `result` does."""
  from soundscope.models.training import train
  return train.TrainConfig(train_dir=train_dir,
                           **{field: result["config"][field] for field in DATA_FIELDS})


def recipe_member_dirs(recipe, out_dir):
  """{member name: its train directory} of a configs.training_recipes ensemble under OUT_DIR."""
  from soundscope.configs import training_recipes
  return {member: os.path.join(out_dir, MEMBERS_FOLDER, member)
          for member in training_recipes.ENSEMBLES[recipe]["members"]}


def train_recipe(recipe, train_data, out_dir, cache_dir=None, verbose=1, log=print):
  """Trains (or resumes) every member of a recipe, then averages them into OUT_DIR.

  Args:
    recipe: a configs.training_recipes.ENSEMBLES name.
    train_data: glob of release-format records to train every member on.
    out_dir: the ensemble's directory; member M trains in OUT_DIR/members/M, so
      running the same call again resumes unfinished members and keeps finished ones.
    cache_dir: .npz cache of decoded records.
    verbose: Keras verbosity of each member's training.
    log: callable(str) for one line per member.

  Returns:
    build()'s result dict.

  Raises:
    ValueError: an unknown recipe.
  """
  from soundscope.configs import training_recipes
  from soundscope.models.training import train
  if recipe not in training_recipes.ENSEMBLES:
    raise ValueError(f"unknown recipe {recipe!r}; known: {sorted(training_recipes.ENSEMBLES)}")
  spec = training_recipes.ENSEMBLES[recipe]
  member_dirs = recipe_member_dirs(recipe, out_dir)
  for index, (member, train_dir) in enumerate(member_dirs.items()):
    config = train.TrainConfig(train_data=train_data, train_dir=train_dir, cache_dir=cache_dir,
                               **training_recipes.MEMBERS[member])
    result = train.train(config, verbose=verbose)
    log(f"member {index + 1}/{len(member_dirs)} {member}: {result['model_class']}, "
        f"{result['epochs_done']} epochs, {result['elapsed_seconds'] / 60:.1f} min")
  return build(list(member_dirs.values()), out_dir, beta=spec["beta"], kind=spec["kind"],
               name=recipe, cache_dir=cache_dir)
