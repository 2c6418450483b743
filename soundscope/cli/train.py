"""`soundscope train`: train a head on AudioSet-format embeddings (YouTube-8M's flags).

The article's command, with soundscope's spelling of the same flags:

  soundscope train --train-data '.../bal_train/*.tfrecord' --num-epochs 100 \\
      --learning-rate-decay-examples 400000 --feature-names audio_embedding \\
      --feature-sizes 128 --batch-size 512 --num-classes 527 \\
      --model FrameLevelLogisticModel --train-dir runs/logistic \\
      --validation-fraction 0.1 --export logistic

Running the same command again resumes after the last finished epoch.  With
--export NAME the chosen model goes into the model store as a VGGish head
(with --eval-data its eval metrics go into its model.json).
"""

import csv
import json
import os
import sys
import tempfile

from soundscope.configs import params as P
from soundscope.models.store import files as store

CLASS_LABELS_FILE = "class_labels_indices.csv"
# frame_models.MODELS and its short aliases; listed here so --help needs no TensorFlow.
MODEL_NAMES = ("FrameLevelLogisticModel", "DbofModel", "LstmModel", "AttentionPoolingModel",
               "MultiLevelAttentionModel", "PooledMlpModel", "logistic", "dbof", "lstm",
               "attention", "multilevel", "mlp")

# YouTube-8M model flags -> frame_models builder keyword.
MODEL_FLAGS = (
    ("--iterations", int, "iterations", "DBoF: frames sampled per record (YouTube-8M: 30)"),
    ("--dbof-cluster-size", int, "cluster_size", "DBoF: cluster projection size (8192)"),
    ("--dbof-hidden-size", int, "hidden_size", "DBoF: hidden layer size (1024)"),
    ("--lstm-cells", int, "lstm_size", "LSTM: cells per layer (the article's 256)"),
    ("--lstm-layers", int, "lstm_layers", "LSTM: stacked layers (2)"),
    ("--moe-num-mixtures", int, "num_mixtures", "DBoF/LSTM: MoE experts per class (2)"),
    ("--hidden-units", int, "hidden_units",
     "attention models, PooledMlp: embedding / hidden layer width (1024)"),
    ("--hidden-layers", int, "hidden_layers", "PooledMlp: hidden layers (2)"),
    ("--dropout", float, "dropout", "attention models, PooledMlp: dropout rate (0.5)"),
    ("--l2-penalty", float, "l2_penalty", "FrameLevelLogistic: weight L2 penalty (1e-8)"),
)


def add_arguments(parser):
  """The article's flags (YouTube-8M names with dashes) plus soundscope's."""
  data = parser.add_argument_group("data")
  data.add_argument("--train-data", required=True,
                    help="glob of release-format TFRecord files (e.g. 'bal_train/*.tfrecord')")
  data.add_argument("--validation-data", default="",
                    help="glob of validation records (default: hold out --validation-fraction)")
  data.add_argument("--validation-fraction", type=float, default=0.1,
                    help="fraction of --train-data held out to pick the epoch (default "
                         "%(default)s; 0 to train on everything and keep the last epoch)")
  data.add_argument("--train-fraction", type=float, default=1.0,
                    help="train on this fraction of the training records, a seeded nested "
                         "subset (for learning curves; default %(default)s: all)")
  data.add_argument("--feature-names", default=P.AUDIO_EMBEDDING_FEATURE,
                    help="frame feature list (default %(default)s)")
  data.add_argument("--feature-sizes", default=str(P.EMBEDDING_SIZE),
                    help="bytes per frame (default %(default)s)")
  data.add_argument("--num-classes", type=int, default=P.NUM_AUDIOSET_CLASSES,
                    help="output classes (default %(default)s)")
  data.add_argument("--max-frames", type=int, default=10,
                    help="frames per record after padding/cutting (default %(default)s)")
  data.add_argument("--cache-dir", default=None,
                    help="cache decoded arrays here as .npz (later runs start in seconds)")
  from soundscope.models.training import train as train_lib   # No TensorFlow: keras is imported when training.
  fit = parser.add_argument_group("training")
  fit.add_argument("--model", default="FrameLevelLogisticModel",
                   help=f"one of {', '.join(MODEL_NAMES)} (default %(default)s)")
  fit.add_argument("--train-dir", required=True,
                   help="checkpoints, TensorBoard logs and the final model; reused to resume")
  fit.add_argument("--num-epochs", type=int, default=5, help="epochs in total")
  fit.add_argument("--learning-rate", type=float, default=0.01, help="Adam's base rate")
  fit.add_argument("--learning-rate-decay", type=float, default=0.95,
                   help="decay factor per --learning-rate-decay-examples (staircase)")
  fit.add_argument("--learning-rate-decay-examples", type=int, default=4000000,
                   help="examples between learning-rate decays")
  fit.add_argument("--batch-size", type=int, default=1024, help="examples per step")
  fit.add_argument("--clip-gradient-norm", type=float, default=1.0,
                   help="clip each gradient to this norm (0: off)")
  fit.add_argument("--mixup-alpha", type=float, default=0.0,
                   help="mix training records in pairs, lam ~ Beta(alpha, alpha) "
                        "(e.g. 0.4; default 0: off)")
  fit.add_argument("--loss", default="youtube8m", choices=train_lib.LOSSES,
                   help="youtube8m: YouTube-8M's cross-entropy summed over classes (and TF1 "
                        "Adam's epsilon 1e-8); mean: Keras's mean binary cross-entropy")
  fit.add_argument("--select-metric", default="map",
                   choices=train_lib.SELECTION_METRICS,
                   help="validation metric that picks the kept epoch (default %(default)s)")
  fit.add_argument("--seed", type=int, default=0, help="split, initialisation and shuffling")
  fit.add_argument("--split-seed", type=int, default=None,
                   help="seed of the validation split only (default: --seed)")
  fit.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")
  model_flags = parser.add_argument_group("model options (default: YouTube-8M's)")
  for flag, kind, _, help_text in MODEL_FLAGS:
    model_flags.add_argument(flag, type=kind, default=None, help=help_text)
  export = parser.add_argument_group("export")
  export.add_argument("--export", metavar="NAME", default=None, type=store.name_argument,
                      help="put the trained head into the model store under NAME")
  export.add_argument("--model-dir", default=None,
                      help="model store root (default $SOUNDSCOPE_MODEL_DIR or "
                           "~/.cache/soundscope/models)")
  export.add_argument("--class-labels", default=None,
                      help=f"index,mid,display_name CSV (default: {CLASS_LABELS_FILE} next to "
                           f"the train data's folder)")
  export.add_argument("--eval-data", default="",
                      help="glob of records to evaluate the final model on (figures go into "
                           "training.json and the export's model.json)")
  return parser


def model_options(args):
  """{builder keyword: value} of the model flags given on the command line."""
  return {keyword: getattr(args, flag[2:].replace("-", "_"))
          for flag, _, keyword, _ in MODEL_FLAGS
          if getattr(args, flag[2:].replace("-", "_")) is not None}


def config_from_arguments(args):
  """soundscope.models.training.train.TrainConfig of parsed arguments."""
  from soundscope.models.training import train
  return train.TrainConfig(
      train_data=args.train_data, train_dir=args.train_dir, model=args.model,
      num_epochs=args.num_epochs, learning_rate=args.learning_rate,
      learning_rate_decay=args.learning_rate_decay,
      learning_rate_decay_examples=args.learning_rate_decay_examples,
      batch_size=args.batch_size, num_classes=args.num_classes,
      feature_names=args.feature_names, feature_sizes=args.feature_sizes,
      max_frames=args.max_frames, validation_data=args.validation_data,
      validation_fraction=0.0 if args.validation_data else args.validation_fraction,
      select_metric=args.select_metric, clip_gradient_norm=args.clip_gradient_norm,
      seed=args.seed, cache_dir=args.cache_dir, model_options=model_options(args),
      loss=args.loss, split_seed=args.split_seed, mixup_alpha=args.mixup_alpha,
      train_fraction=args.train_fraction)


def find_class_labels(train_data, explicit=None):
  """Path of the class CSV: explicit, else next to the train data's folder, else None."""
  if explicit:
    return explicit
  folder = os.path.dirname(os.path.abspath(str(train_data).split(",")[0]))
  for candidate in (os.path.join(folder, CLASS_LABELS_FILE),
                    os.path.join(os.path.dirname(folder), CLASS_LABELS_FILE)):
    if os.path.isfile(candidate):
      return candidate
  return None


def numbered_labels_csv(num_classes, directory):
  """Writes index,mid,display_name rows 'class N' when no class CSV is known."""
  path = os.path.join(directory, CLASS_LABELS_FILE)
  with open(path, "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["index", "mid", "display_name"])
    for index in range(num_classes):
      writer.writerow([index, "", f"class {index}"])
  return path


def check_labels(path, num_classes):
  """ValueError unless the CSV has exactly num_classes rows."""
  from soundscope.models import class_map
  names = class_map.read(path).display_names
  if len(names) != num_classes:
    raise ValueError(f"{path} lists {len(names)} classes, but --num-classes is {num_classes}")


def export(args, config, result, metrics, model_class=None):
  """Writes the trained model into the model store; returns its directory.

  model_class: recorded in model.json (default: the canonical name of config.model).
  """
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  root = store.ModelStore(args.model_dir).root
  labels = find_class_labels(config.train_data, args.class_labels)
  with tempfile.TemporaryDirectory() as scratch:
    if labels is None:
      print(f"no {CLASS_LABELS_FILE} found: labelling classes 'class N' (use --class-labels)",
            file=sys.stderr)
      labels = numbered_labels_csv(config.num_classes, scratch)
    check_labels(labels, config.num_classes)
    feature_name, feature_size = config.feature()
    training = {key: result[key] for key in (
        "config", "history", "epochs_done", "steps", "chosen_epoch", "best_validation",
        "train_examples", "validation_examples", "elapsed_seconds", "cpu_seconds")}
    return heads.export_head(
        result["model_path"], os.path.join(str(root), args.export), labels, name=args.export,
        training=training, metrics=metrics, feature_name=feature_name,
        feature_size=feature_size, max_frames=config.max_frames,
        model_class=model_class or frame_models.canonical_name(config.model))


def run_reporting_errors(command, body, args):
  """body(args), or exit status 2 with `soundscope COMMAND: error: ...` on stderr.

  Bad input (a ValueError or FileNotFoundError naming the file or setting) is
  the user's to fix, so it gets one line, not a traceback.  Shared by train,
  ensemble and evaluate.
  """
  try:
    return body(args)
  except (ValueError, FileNotFoundError) as exc:
    print(f"soundscope {command}: error: {exc}", file=sys.stderr)
    return 2


def run(args):
  return run_reporting_errors("train", _run, args)


def _run(args):
  from soundscope.models.networks import frame_models
  from soundscope.models.training import train
  frame_models.canonical_name(args.model)  # Unknown names fail before any data is read.
  config = config_from_arguments(args)
  result = train.train(config, verbose=2 if args.quiet else 1)
  print(f"trained {result['model_class']} for {result['epochs_done']} epochs "
        f"({result['steps']} steps) in {result['elapsed_seconds']:.0f} s "
        f"({result['cpu_seconds']:.0f} CPU s); kept epoch {result['chosen_epoch']}",
        file=sys.stderr)
  return evaluate_and_export(args, config, result)


def evaluate_and_export(args, config, result, model_class=None):
  """The end of a run: --eval-data figures into TRAIN_DIR/training.json, then --export.

  Shared with `soundscope ensemble`, whose result and config have the same shape.

  Returns:
    exit status 0.
  """
  from soundscope.models.training import evaluate
  from soundscope.models.training import train
  metrics = {}
  if result["best_validation"]:
    metrics["validation"] = result["best_validation"]
  if args.eval_data:
    data = train.load_data(args.eval_data, config, "eval")
    summary, *_ = evaluate.evaluate(evaluate.load_keras_model(result["model_path"]), data)
    metrics["eval"] = summary
    print(json.dumps(summary, indent=2), file=sys.stderr)
  if metrics:
    result["metrics"] = metrics
    with open(os.path.join(config.train_dir, train.TRAINING_FILE), "w") as out:
      json.dump(result, out, indent=2, sort_keys=True, default=str)
  if args.export:
    directory = export(args, config, result, metrics, model_class)
    print(f"exported to {directory}", file=sys.stderr)
  return 0
