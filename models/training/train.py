"""Training of frame-level heads on AudioSet embeddings (YouTube-8M's train.py in Keras).

`train(TrainConfig)` reads release-format records (models/readers), builds the
model (models/networks/frame_models), and fits it with YouTube-8M's recipe: binary
cross-entropy on sigmoid outputs, Adam, learning rate decayed by
`learning_rate_decay` every `learning_rate_decay_examples` examples
(staircase), each gradient clipped to norm 1.

The train directory holds everything of one run:
  latest.keras     model + optimizer state after the last finished epoch
  state.json       epochs done, optimizer steps, per-epoch history, elapsed time,
                   the state of the model's random ops
  best.keras       the epoch with the best validation metric (with validation data)
  model.keras      the final model (best epoch when validating, else the last)
  training.json    configuration, history, chosen epoch, wall and CPU seconds
  logs/            TensorBoard event files (loss, learning rate, validation metrics)
Running again with the same train directory resumes after the last finished
epoch (after an interruption, or to train for more epochs), to the weights an
uninterrupted run reaches: each epoch's record order is a function of (seed,
epoch), and the random ops go on from their saved state.
"""

import dataclasses
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

from soundscope.configs import model_specs as S
from soundscope.configs.training import LOSSES, SELECTION_METRICS, TrainConfig  # noqa: F401
from soundscope.models.training import evaluate
from soundscope.models.training import metrics as metrics_lib
from soundscope.models import readers
from soundscope.util import atomic
from soundscope.util import json_values

STATE_FILE = "state.json"
LATEST_MODEL = "latest.keras"
BEST_MODEL = "best.keras"
TRAINING_FILE = "training.json"
LOG_DIR = "logs"
YOUTUBE8M_LOSS_EPSILON = 1e-5
YOUTUBE8M_ADAM_EPSILON = 1e-8   # tf.train.AdamOptimizer's default (Keras's is 1e-7).
# The training input pipeline: batches built in parallel and kept ready ahead
# of the optimizer (fixed: tf.data's autotuning is off, readers.without_autotune).
BATCH_THREADS = 2
PREFETCH_BATCHES = 2
# Keras's name for the state of a layer's random ops (Dropout, frame sampling).
# A .keras checkpoint leaves it out, so state.json keeps it for exact resumes.
SEED_STATE_VARIABLE = "seed_generator_state"


class NoRecordsError(ValueError):
  """Data that gives no usable record (no record at all, or none with the frame feature)."""


class TrainingDivergedError(RuntimeError):
  """The training loss became NaN or infinite: the run stops before saving that epoch."""


def check_usable(data, pattern, feature_name, split_name):
  """Raises NoRecordsError unless FrameData `data` of `pattern` has a record with frames.

  A feature name that no record has decodes as records of no frames, which
  would train on padding alone.
  """
  if len(data.labels) == 0:
    raise NoRecordsError(f"{pattern}: no {split_name} records (the files hold none)")
  if not np.any(data.num_frames):
    raise NoRecordsError(f"{pattern}: no {split_name} record has frames of the feature "
                         f"{feature_name!r} (--feature-names)")


def load_data(pattern, config, split_name):
  """FrameData of a glob, through the .npz cache when config.cache_dir is set.

  Raises:
    NoRecordsError: no usable record (check_usable).
  """
  feature_name, feature_size = config.feature()
  cache = None
  if config.cache_dir:
    key = hashlib.sha256("\n".join(readers.expand_glob(pattern) + [feature_name]).encode())
    cache = os.path.join(config.cache_dir, f"{split_name}-{key.hexdigest()[:12]}.npz")
  data = readers.load_cached(pattern, cache, num_classes=config.num_classes,
                             max_frames=config.max_frames, feature_name=feature_name,
                             feature_size=feature_size, progress=True)
  if data.unreadable:
    for path, reason in data.unreadable:
      print(f"skipped {path}: {reason}", file=sys.stderr)
    matched = len(readers.expand_glob(pattern))
    print(f"{split_name} files: {matched} matched = {matched - len(data.unreadable)} read + "
          f"{len(data.unreadable)} unreadable (skipped)", file=sys.stderr)
  check_usable(data, pattern, feature_name, split_name)
  return data


def train_and_validation_data(config):
  """(train FrameData, validation FrameData or None) as the config asks."""
  data = load_data(config.train_data, config, "train")
  split_seed = config.split_seed_or_seed()
  if config.validation_data:
    validation = load_data(config.validation_data, config, "validation")
  elif config.validation_fraction:
    data, validation = readers.validation_split(data, config.validation_fraction, split_seed)
  else:
    validation = None
  if config.train_fraction != 1.0:
    data = readers.nested_subset(data, config.train_fraction, split_seed)
  for part, records in (("training", data), ("validation", validation)):
    if records is not None and len(records.labels) == 0:
      raise NoRecordsError(f"{config.train_data}: no {part} record is left with "
                           f"--validation-fraction {config.validation_fraction} and "
                           f"--train-fraction {config.train_fraction}")
  return data, validation


def youtube8m_cross_entropy(labels, predictions):
  """YouTube-8M's CrossEntropyLoss per record: float32 [b] from [b, C] labels and sigmoid scores."""
  from keras import ops
  labels = ops.cast(labels, predictions.dtype)
  per_class = (labels * ops.log(predictions + YOUTUBE8M_LOSS_EPSILON)
               + (1.0 - labels) * ops.log(1.0 - predictions + YOUTUBE8M_LOSS_EPSILON))
  return -ops.sum(per_class, axis=-1)


def _loss_and_adam_epsilon(config):
  import keras
  if config.loss not in LOSSES:
    raise ValueError(f"loss must be one of {LOSSES}, got {config.loss!r}")
  if config.loss == "youtube8m":
    return youtube8m_cross_entropy, YOUTUBE8M_ADAM_EPSILON
  return keras.losses.BinaryCrossentropy(), 1e-7


def build_model(config):
  """The compiled Keras model of a config (YouTube-8M loss, optimizer, schedule)."""
  import keras
  from soundscope.models.networks import frame_models
  _, feature_size = config.feature()
  keras.utils.set_random_seed(config.seed)
  model = frame_models.build(config.model, config.num_classes, feature_size=feature_size,
                             max_frames=config.max_frames, **config.model_options)
  decay_steps = max(1, int(config.learning_rate_decay_examples) // int(config.batch_size))
  schedule = keras.optimizers.schedules.ExponentialDecay(
      config.learning_rate, decay_steps, config.learning_rate_decay, staircase=True)
  loss, adam_epsilon = _loss_and_adam_epsilon(config)
  optimizer = keras.optimizers.Adam(
      schedule, epsilon=adam_epsilon,
      clipnorm=config.clip_gradient_norm if config.clip_gradient_norm else None)
  model.compile(optimizer=optimizer, loss=loss)
  return model


def epoch_order(num_records, seed, epoch):
  """The record order of one training epoch: int64 [n], a function of (seed, epoch) only.

  A resumed run therefore serves the epochs an uninterrupted run would have.
  """
  return np.random.default_rng([seed, epoch]).permutation(num_records)


def mixup_draw(num_records, alpha, seed, epoch):
  """The pairs and weights of one mixup epoch, a function of (seed, epoch) only.

  Args:
    num_records: records in the training data.
    alpha: Beta distribution parameter (> 0).
    seed: int.
    epoch: 0-based epoch index (a resumed run draws what it would have drawn).

  Returns:
    (order int64 [n], partner int64 [n], lam float32 [n]): record order[i] is
    mixed with record partner[i] with weight lam[i] ~ Beta(alpha, alpha);
    order is epoch_order(num_records, seed, epoch).
  """
  if alpha <= 0:
    raise ValueError(f"mixup alpha must be > 0, got {alpha}")
  rng = np.random.default_rng([seed, epoch])
  order = rng.permutation(num_records)
  partner = rng.permutation(num_records)
  lam = rng.beta(alpha, alpha, size=num_records).astype(np.float32)
  return order, partner, lam


def _gather_batch(frames, num_frames, order):
  """(float32 frames [b, F, D], int32 counts [b]) of records `order`, dequantized."""
  import tensorflow as tf
  counts = tf.gather(num_frames, order)
  return readers.dequantized_batch(tf.gather(frames, order), counts), counts


def training_dataset(data, batch_size, seed, first_epoch, end_epoch, mixup_alpha=0.0):
  """A tf.data pipeline of the training batches of epochs [first_epoch, end_epoch).

  Each epoch serves every record once, in epoch_order(n, seed, epoch), in
  ceil(n / batch_size) batches (the last one short), so that
  `fit(..., steps_per_epoch=that)` keeps epochs aligned.  With mixup, each
  record is mixed with a random partner (`mixup_draw`): frames (dequantized)
  lam * a + (1 - lam) * b, labels likewise; the frame count is the larger of
  the two (a shorter record's zero padding mixes in as silence-like zeros).
  Frames stay uint8 in the pipeline and are dequantized per batch in the graph
  (a quarter of the memory of float frames); the mixing runs there too,
  prefetched: building batches in a Python PyDataset doubled the epoch time of
  a multi-level attention head.

  Args:
    data: FrameData (uint8 frames).
    batch_size: records per batch.
    seed: int.
    first_epoch: the first epoch served (0, or where a resumed run starts).
    end_epoch: one past the last epoch served.
    mixup_alpha: Beta distribution parameter of mixup (0: the records as they are).

  Returns:
    tf.data.Dataset of ({frames: float32 [b, F, D], num_frames: int32 [b]},
    float32 [b, C] labels).
  """
  import tensorflow as tf
  frames = tf.constant(data.frames)
  num_frames = tf.constant(np.asarray(data.num_frames, np.int32))
  labels = tf.constant(np.asarray(data.labels, np.float32))
  count = len(data.labels)
  epochs = range(first_epoch, end_epoch)

  def plain(order):
    batch_frames, counts = _gather_batch(frames, num_frames, order)
    return {"frames": batch_frames, "num_frames": counts}, tf.gather(labels, order)

  def mix(order, partner, lam):
    (a, a_counts), (b, b_counts) = (_gather_batch(frames, num_frames, order),
                                    _gather_batch(frames, num_frames, partner))
    frame_weight = lam[:, None, None]
    mixed = {"frames": frame_weight * a + (1 - frame_weight) * b,
             "num_frames": tf.maximum(a_counts, b_counts)}
    label_weight = lam[:, None]
    return mixed, (label_weight * tf.gather(labels, order)
                   + (1 - label_weight) * tf.gather(labels, partner))

  if not epochs:
    raise ValueError(f"no epochs to serve: [{first_epoch}, {end_epoch})")
  if mixup_alpha:
    draws = [mixup_draw(count, mixup_alpha, seed, epoch) for epoch in epochs]
  else:
    draws = [epoch_order(count, seed, epoch) for epoch in epochs]
  # One pipeline over every epoch: Keras rebuilds an iterator per epoch only for
  # finite data without steps_per_epoch (and dropping one is what stalled).
  served = tf.data.Dataset.from_tensor_slices(draws[0]).batch(batch_size)
  for draw in draws[1:]:
    served = served.concatenate(tf.data.Dataset.from_tensor_slices(draw).batch(batch_size))
  return readers.without_autotune(
      served.map(mix if mixup_alpha else plain, num_parallel_calls=BATCH_THREADS)
      .prefetch(PREFETCH_BATCHES))


def seed_states(model):
  """The state variables of a model's random ops (Dropout, frame sampling), in layer order."""
  return [variable for variable in model.variables if variable.name == SEED_STATE_VARIABLE]


def restore_seed_states(model, values):
  """Sets seed_states(model) to values saved by the checkpoint callback (if any were)."""
  variables = seed_states(model)
  if values and len(values) != len(variables):
    raise ValueError(f"the checkpoint saved {len(values)} random-op states, the model has "
                     f"{len(variables)}")
  for variable, value in zip(variables, values or ()):
    variable.assign(np.asarray(value, dtype=variable.dtype))


def read_state(train_dir):
  """The resume state of a train directory, or None when it has none.

  Raises:
    ValueError: STATE_FILE is not a JSON object (named, with what to do).
  """
  path = os.path.join(train_dir, STATE_FILE)
  if not os.path.exists(path) or not os.path.exists(os.path.join(train_dir, LATEST_MODEL)):
    return None
  try:
    with open(path, encoding="utf-8") as state_file:
      state = json.load(state_file)
  except ValueError as exc:   # json.JSONDecodeError and UnicodeDecodeError.
    raise ValueError(f"{path}: not valid JSON ({exc}); train into a new --train-dir") from None
  if not isinstance(state, dict) or not {"epochs_done", "steps", "history"} <= set(state):
    raise ValueError(f"{path}: not a training state; train into a new --train-dir")
  return state


def _write_json(path, value):
  """Writes JSON atomically, NaN and infinities as null (bare NaN is not JSON)."""
  atomic.write_json(path, json_values.jsonable(value))


def write_summary(train_dir, result):
  """Writes TRAIN_DIR/training.json: `result` with model_path relative to TRAIN_DIR.

  The run then reads the same from any working directory (resolve_model_path).
  """
  recorded = dict(result)
  if recorded.get("model_path"):
    recorded["model_path"] = os.path.relpath(os.path.abspath(result["model_path"]),
                                             os.path.abspath(train_dir))
  _write_json(os.path.join(train_dir, TRAINING_FILE), recorded)


def resolve_model_path(train_dir, recorded):
  """The model file a training.json's model_path names, as a path from here.

  Relative paths are TRAIN_DIR's (write_summary).  Files written before
  recorded them relative to the folder training ran from; the model file is
  always in TRAIN_DIR, so its file name is looked up there.
  """
  if not recorded:
    return ""
  if os.path.isabs(recorded):
    return recorded
  inside = os.path.join(train_dir, recorded)
  if os.path.isfile(inside):
    return inside
  return os.path.join(train_dir, os.path.basename(recorded))


def _save_model(model, path):
  """model.save through a temporary file and a rename: a crash never leaves half a zip."""
  with atomic.replacing(path, suffix=".part.keras") as temporary:   # Keras wants .keras.
    model.save(temporary)


# TrainConfig fields a resumed run may change: training on (num_epochs) and
# where decoded arrays are cached.  Every other field defines the run.
RESUMABLE_CHANGES = ("num_epochs", "cache_dir", "train_dir")


def check_resumable(config, state):
  """Raises ValueError when `config` is not the run saved in `state`, naming what differs."""
  saved = state.get("config")
  if saved is not None:   # Runs saved before the settings were recorded are not checked.
    current = dataclasses.asdict(config)
    changed = sorted(key for key in current if key not in RESUMABLE_CHANGES
                     and key in saved and saved[key] != current[key])
    if changed:
      raise ValueError(
          f"{config.train_dir} holds a run with other settings ("
          + ", ".join(f"{key}: {saved[key]!r} there, {current[key]!r} now" for key in changed)
          + "); resume it with its settings, or train into a new --train-dir")


def _check_checkpoint_step(model, state, train_dir):
  """The last checkpoint's optimizer step must be the one `state` recorded: a crash
  between writing the two leaves them one epoch apart."""
  step = int(model.optimizer.iterations.numpy())
  if step != state["steps"]:
    raise ValueError(
        f"{train_dir}: {LATEST_MODEL} is at step {step} but {STATE_FILE} at step "
        f"{state['steps']} (the run was stopped while it saved a checkpoint); "
        f"train into a new --train-dir")


def _checkpoint_callback(config, validation, state, clock):
  """A Keras callback: validation metrics, checkpoints and state after every epoch."""
  import keras

  class EpochCheckpoint(keras.callbacks.Callback):
    """Adds val_* metrics to the logs and saves latest/best checkpoints."""

    def on_epoch_end(self, epoch, logs=None):
      logs = logs if logs is not None else {}
      record = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan")))}
      if "loss" in logs and not math.isfinite(record["loss"]):
        raise TrainingDivergedError(
            f"{config.train_dir}: the training loss became {record['loss']} in epoch "
            f"{epoch + 1}; stopped without saving that epoch (try a lower --learning-rate or "
            f"a --clip-gradient-norm)")
      if validation is not None:
        scores = evaluate.score(self.model, validation)
        summary, *_ = metrics_lib.summary(scores, validation.labels)
        for key in SELECTION_METRICS:
          logs[f"val_{key}"] = summary[key]
          record[f"val_{key}"] = summary[key]
        print(f"epoch {epoch + 1}: loss {record['loss']:.4f}  validation hit@1 "
              f"{summary['hit_at_one']:.4f} GAP {summary['gap']:.4f} mAP {summary['map']:.4f} "
              f"AUC {summary['mean_auc']:.4f}", file=sys.stderr, flush=True)
      state["history"].append(record)
      state["epochs_done"] = epoch + 1
      state["steps"] = int(self.model.optimizer.iterations.numpy())
      state["elapsed_seconds"] = clock.elapsed()
      state["cpu_seconds"] = clock.cpu()
      state["seed_states"] = [np.asarray(variable.numpy()).tolist()
                              for variable in seed_states(self.model)]
      best = state.get("best")
      key = f"val_{config.select_metric}"
      if validation is not None and (best is None or record[key] > best[key]):
        state["best"] = dict(record)
        _save_model(self.model, os.path.join(config.train_dir, BEST_MODEL))
      _save_model(self.model, os.path.join(config.train_dir, LATEST_MODEL))
      _write_json(os.path.join(config.train_dir, STATE_FILE), state)

  return EpochCheckpoint()


class _Clock:
  """Wall and CPU seconds, continuing from a resumed run's totals."""

  def __init__(self, wall_before=0.0, cpu_before=0.0):
    self._wall0 = time.monotonic() - wall_before
    self._cpu0 = time.process_time() - cpu_before

  def elapsed(self):
    return time.monotonic() - self._wall0

  def cpu(self):
    return time.process_time() - self._cpu0


def train(config, verbose=1, extra_callbacks=()):
  """Trains (or resumes) a model; returns the training summary dict.

  Args:
    config: TrainConfig.
    verbose: Keras progress: 0 silent, 1 progress bar, 2 one line per epoch.
    extra_callbacks: more Keras callbacks (run after the checkpointing one).

  Returns:
    dict: config, history (per epoch loss and val_* metrics), epochs_done,
    steps, chosen_epoch, train/validation sizes, elapsed_seconds, cpu_seconds,
    model_path.
  """
  import keras
  from soundscope.models.networks import ensemble_layers  # noqa: F401  (registers every custom layer)
  from soundscope.models.networks import frame_models
  if os.path.exists(config.train_dir) and not os.path.isdir(config.train_dir):
    raise ValueError(f"{config.train_dir}: not a directory (--train-dir)")
  os.makedirs(config.train_dir, exist_ok=True)
  train_data, validation = train_and_validation_data(config)
  if config.select_metric not in SELECTION_METRICS:
    raise ValueError(f"select_metric must be one of {SELECTION_METRICS}")
  state = read_state(config.train_dir)
  if state is not None:
    check_resumable(config, state)
    model = keras.models.load_model(
        os.path.join(config.train_dir, LATEST_MODEL),
        custom_objects={"youtube8m_cross_entropy": youtube8m_cross_entropy})
    _check_checkpoint_step(model, state, config.train_dir)
    restore_seed_states(model, state.get("seed_states"))
    print(f"resuming {config.train_dir} after epoch {state['epochs_done']} "
          f"(step {state['steps']})", file=sys.stderr)
  else:
    model = build_model(config)
    state = {"epochs_done": 0, "steps": 0, "history": [], "best": None,
             "elapsed_seconds": 0.0, "cpu_seconds": 0.0, "config": dataclasses.asdict(config)}
  clock = _Clock(state["elapsed_seconds"], state["cpu_seconds"])
  callbacks = [
      _checkpoint_callback(config, validation, state, clock),
      keras.callbacks.TensorBoard(os.path.join(config.train_dir, LOG_DIR), write_graph=False),
      *extra_callbacks,
  ]
  if state["epochs_done"] < config.num_epochs:
    first, end = state["epochs_done"], config.num_epochs
    batches = training_dataset(train_data, config.batch_size, config.seed, first, end,
                               config.mixup_alpha)
    # One dataset holds every remaining epoch, already shuffled; with
    # steps_per_epoch Keras reads it on across epochs instead of restarting it.
    model.fit(batches, epochs=end, initial_epoch=first,
              steps_per_epoch=-(-len(train_data.labels) // config.batch_size),
              shuffle=False, callbacks=callbacks, verbose=verbose)
  chosen = (state["best"] or {}).get("epoch", state["epochs_done"])
  source = BEST_MODEL if validation is not None and state["best"] else LATEST_MODEL
  # compile=False: the final model (and so every exported head) carries no optimizer state.
  final = keras.models.load_model(os.path.join(config.train_dir, source), compile=False)
  final_path = os.path.abspath(os.path.join(config.train_dir, S.TRAINED_MODEL_FILE))
  final.save(final_path)
  result = {
      "config": dataclasses.asdict(config),
      "model_class": frame_models.canonical_name(config.model),
      "history": state["history"],
      "epochs_done": state["epochs_done"],
      "steps": state["steps"],
      "chosen_epoch": chosen,
      "best_validation": state["best"],
      "unreadable_files": readers.unreadable_report(
          train_data, *([validation] if validation is not None else [])),
      "train_examples": int(len(train_data.frames)),
      "validation_examples": int(len(validation.frames)) if validation is not None else 0,
      "elapsed_seconds": state["elapsed_seconds"],
      "cpu_seconds": state["cpu_seconds"],
      "model_path": final_path,
  }
  write_summary(config.train_dir, result)
  return result
