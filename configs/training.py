"""Training settings: every default of `soundscope train` once, with its flag.

TrainConfig is what models/training/train.py trains from and what a train
directory records; `soundscope train` generates its flags from the fields'
metadata (soundscope/cli/flags.py), so the command line and the Python API
share each default and each check.
"""

import dataclasses
import math

from soundscope.configs import params as P
from soundscope.configs.fields import flag

# The frame-level models (models/networks/frame_models.py builds them) and their
# short names; here so that --help and the checks need no TensorFlow.
MODELS = ("FrameLevelLogisticModel", "DbofModel", "LstmModel", "AttentionPoolingModel",
          "MultiLevelAttentionModel", "PooledMlpModel")
ALIASES = {"logistic": "FrameLevelLogisticModel", "dbof": "DbofModel", "lstm": "LstmModel",
           "attention": "AttentionPoolingModel", "multilevel": "MultiLevelAttentionModel",
           "mlp": "PooledMlpModel",
           "FrameLevelLogistic": "FrameLevelLogisticModel", "DBoF": "DbofModel",
           "LSTM": "LstmModel"}
MODEL_NAMES = tuple(sorted(MODELS)) + tuple(sorted(ALIASES))
SELECTION_METRICS = ("map", "hit_at_one", "gap", "mean_auc")
# "youtube8m": YouTube-8M's CrossEntropyLoss (summed over classes, mean over the
# batch, epsilon 1e-5); "mean": Keras's BinaryCrossentropy (mean over classes).
# The sum makes gradients num_classes times larger, which changes what the
# per-gradient norm clip and Adam's epsilon do.
LOSSES = ("youtube8m", "mean")


@dataclasses.dataclass
class TrainConfig:
  """Parameters of one training run (YouTube-8M flag names in snake case).

  Attributes:
    train_data: glob of release-format TFRecord files.
    train_dir: output directory (checkpoints, logs, final model).
    model: frame_models model name (e.g. "DbofModel", "attention").
    num_epochs: epochs to train in total (a resumed run stops at the same count).
    learning_rate: Adam's base learning rate.
    learning_rate_decay: factor applied every learning_rate_decay_examples.
    learning_rate_decay_examples: examples between decays (staircase).
    batch_size: examples per step.
    num_classes: output classes.
    feature_names: frame feature list(s); one name (AudioSet has one).
    feature_sizes: bytes per frame of each feature.
    max_frames: frames per record after padding/cutting.
    validation_data: glob of validation records (optional).
    validation_fraction: fraction of train_data held out when validation_data is empty.
    select_metric: validation metric that picks the best epoch (when validating).
    clip_gradient_norm: per-gradient norm clip (0: none).
    seed: seeds the initialisation and the shuffling (and the split unless split_seed).
    cache_dir: where decoded arrays are cached as .npz (None: no cache).
    model_options: extra builder keyword arguments (e.g. {"lstm_size": 128}).
    loss: "youtube8m" (YouTube-8M's CrossEntropyLoss, with TF1 Adam's epsilon)
      or "mean" (Keras's mean binary cross-entropy and Adam epsilon).
    split_seed: seeds the validation split (None: seed), so that runs with
      different seeds can share one validation split (e.g. for ensembles).
    mixup_alpha: mixup (Zhang et al. 2018) of training records: each example
      becomes lam * a + (1 - lam) * b with its labels mixed alike, lam ~
      Beta(alpha, alpha) per example; 0 (default) trains on the records as they are.
    train_fraction: fraction of the training records used (after the validation
      split), a nested subset seeded by split_seed (readers.nested_subset): for
      learning curves; 1 (default) uses them all.
  """
  train_data: str = dataclasses.field(metadata=flag(
      "--train-data", "glob of release-format TFRecord files (e.g. 'bal_train/*.tfrecord')",
      metavar="GLOB"))
  train_dir: str = dataclasses.field(metadata=flag(
      "--train-dir", "checkpoints, TensorBoard logs and the final model; reused to resume",
      metavar="DIR"))
  model: str = dataclasses.field(default="FrameLevelLogisticModel", metadata=flag(
      "--model", "one of " + ", ".join(MODEL_NAMES), metavar="NAME"))
  num_epochs: int = dataclasses.field(default=5, metadata=flag(
      "--num-epochs", "epochs in total", metavar="N"))
  learning_rate: float = dataclasses.field(default=0.01, metadata=flag(
      "--learning-rate", "Adam's base rate"))
  learning_rate_decay: float = dataclasses.field(default=0.95, metadata=flag(
      "--learning-rate-decay", "decay factor per --learning-rate-decay-examples (staircase)"))
  learning_rate_decay_examples: int = dataclasses.field(default=4000000, metadata=flag(
      "--learning-rate-decay-examples", "examples between learning-rate decays", metavar="N"))
  batch_size: int = dataclasses.field(default=1024, metadata=flag(
      "--batch-size", "examples per step", metavar="N"))
  num_classes: int = dataclasses.field(default=P.NUM_AUDIOSET_CLASSES, metadata=flag(
      "--num-classes", "output classes", metavar="N"))
  feature_names: str = dataclasses.field(default=P.AUDIO_EMBEDDING_FEATURE, metadata=flag(
      "--feature-names", "frame feature list"))
  feature_sizes: str = dataclasses.field(default=str(P.EMBEDDING_SIZE), metadata=flag(
      "--feature-sizes", "bytes per frame"))
  max_frames: int = dataclasses.field(default=P.MAX_FRAMES, metadata=flag(
      "--max-frames", "frames per record after padding/cutting", metavar="N"))
  validation_data: str = dataclasses.field(default="", metadata=flag(
      "--validation-data", "glob of validation records (default: hold out "
      "--validation-fraction)", metavar="GLOB"))
  validation_fraction: float = dataclasses.field(default=0.0, metadata=flag(
      "--validation-fraction", "fraction of --train-data held out to pick the epoch (0: "
      "train on everything and keep the last epoch)"))
  select_metric: str = dataclasses.field(default="map", metadata=flag(
      "--select-metric", "validation metric that picks the kept epoch",
      choices=SELECTION_METRICS))
  clip_gradient_norm: float = dataclasses.field(default=1.0, metadata=flag(
      "--clip-gradient-norm", "clip each gradient to this norm (0: off)"))
  seed: int = dataclasses.field(default=0, metadata=flag(
      "--seed", "split, initialisation and shuffling"))
  cache_dir: str = dataclasses.field(default=None, metadata=flag(
      "--cache-dir", "cache decoded arrays here as .npz (later runs start in seconds)",
      metavar="DIR"))
  model_options: dict = dataclasses.field(default_factory=dict)
  loss: str = dataclasses.field(default="youtube8m", metadata=flag(
      "--loss", "youtube8m: YouTube-8M's cross-entropy summed over classes (and TF1 Adam's "
      "epsilon 1e-8); mean: Keras's mean binary cross-entropy", choices=LOSSES))
  split_seed: int = dataclasses.field(default=None, metadata=flag(
      "--split-seed", "seed of the validation split only (default: --seed)"))
  mixup_alpha: float = dataclasses.field(default=0.0, metadata=flag(
      "--mixup-alpha", "mix training records in pairs, lam ~ Beta(alpha, alpha) (e.g. 0.4; "
      "0: off)"))
  train_fraction: float = dataclasses.field(default=1.0, metadata=flag(
      "--train-fraction", "train on this fraction of the training records, a seeded nested "
      "subset (for learning curves; 1: all)"))

  def __post_init__(self):
    if self.model not in MODEL_NAMES:
      raise ValueError(f"unknown model {self.model!r}; choose from {', '.join(MODEL_NAMES)}")
    for name in ("num_epochs", "batch_size", "num_classes", "max_frames",
                 "learning_rate_decay_examples"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
    for name in ("learning_rate", "learning_rate_decay", "clip_gradient_norm", "mixup_alpha",
                 "validation_fraction", "train_fraction"):
      if not math.isfinite(getattr(self, name)):   # nan and inf pass every comparison below.
        raise ValueError(f"{name} must be a finite number, not {getattr(self, name)}")
    if not self.learning_rate > 0:
      raise ValueError(f"learning_rate must be positive, not {self.learning_rate}")
    if not self.learning_rate_decay > 0:
      raise ValueError(f"learning_rate_decay must be positive, not {self.learning_rate_decay}")
    if self.clip_gradient_norm < 0:
      raise ValueError(f"clip_gradient_norm must be at least 0 (0: off), not "
                       f"{self.clip_gradient_norm}")
    if not 0 <= self.validation_fraction < 1:
      raise ValueError(f"validation_fraction must be in [0, 1), not {self.validation_fraction}")
    if not 0 < self.train_fraction <= 1:
      raise ValueError(f"train_fraction must be in (0, 1], not {self.train_fraction}")
    if self.mixup_alpha < 0:
      raise ValueError(f"mixup_alpha must be at least 0, not {self.mixup_alpha}")
    if self.loss not in LOSSES:
      raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
    if self.select_metric not in SELECTION_METRICS:
      raise ValueError(f"select_metric must be one of {SELECTION_METRICS}, "
                       f"not {self.select_metric!r}")

  def split_seed_or_seed(self):
    """The seed of the validation split and the training fraction (split_seed, else seed)."""
    return self.seed if self.split_seed is None else self.split_seed

  def feature(self):
    """(feature name, feature size) of the single frame feature."""
    names = [name.strip() for name in str(self.feature_names).split(",") if name.strip()]
    sizes = [int(size) for size in str(self.feature_sizes).split(",") if size.strip()]
    if len(names) != 1 or len(sizes) != 1:
      raise ValueError(f"one frame feature is supported (AudioSet has audio_embedding); got "
                       f"names {names} and sizes {sizes}")
    return names[0], sizes[0]
