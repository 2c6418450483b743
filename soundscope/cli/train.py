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

from soundscope.cli import flags
from soundscope.configs import params as P
from soundscope.configs.training import TrainConfig
from soundscope.models.store import files as store

CLASS_LABELS_FILE = "class_labels_indices.csv"

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


# TrainConfig's fields as flags, in the groups of --help (model_options has its own flags).
DATA_FLAGS = ("train_data", "validation_data", "validation_fraction", "train_fraction",
              "feature_names", "feature_sizes", "num_classes", "max_frames", "cache_dir")
TRAINING_FLAGS = ("model", "train_dir", "num_epochs", "learning_rate", "learning_rate_decay",
                  "learning_rate_decay_examples", "batch_size", "clip_gradient_norm",
                  "mixup_alpha", "loss", "select_metric", "seed", "split_seed")


def add_arguments(parser):
  """The article's flags (YouTube-8M names with dashes), from configs.training.TrainConfig."""
  flags.add_flags(parser, TrainConfig, names=DATA_FLAGS, title="data")
  fit = parser.add_argument_group("training")
  flags.add_flags(fit, TrainConfig, names=TRAINING_FLAGS)
  fit.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")
  model_flags = parser.add_argument_group("model options (default: YouTube-8M's)")
  for flag, kind, _, help_text in MODEL_FLAGS:
    model_flags.add_argument(flag, type=kind, default=None, help=help_text)
  export = parser.add_argument_group("export")
  export.add_argument("--export", metavar="NAME", default=None, type=flags.model_name,
                      help="put the trained head into the model store under NAME")
  add_force_flag(export)
  flags.add_flags(export, P.ReportOptions, names=["model_dir"])
  export.add_argument("--class-labels", default=None,
                      help=f"index,mid,display_name CSV (default: {CLASS_LABELS_FILE} next to "
                           f"the train data's folder)")
  export.add_argument("--eval-data", default="",
                      help="glob of records to evaluate the final model on (figures go into "
                           "training.json and the export's model.json)")
  return parser


def add_force_flag(group):
  """--force of an export: replace an existing model of the --export name."""
  group.add_argument("--force", action="store_true",
                     help="with --export: replace an existing model of that name (never "
                          "yamnet, vggish or ontology)")


def model_options(args):
  """{builder keyword: value} of the model flags given on the command line."""
  return {keyword: getattr(args, flag[2:].replace("-", "_"))
          for flag, _, keyword, _ in MODEL_FLAGS
          if getattr(args, flag[2:].replace("-", "_")) is not None}


def config_from_arguments(args):
  """configs.training.TrainConfig of parsed arguments (flags.UsageError for a refused value)."""
  fraction = 0.0 if args.validation_data else args.validation_fraction
  return flags.build(TrainConfig, args, model_options=model_options(args),
                     validation_fraction=fraction)


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


def check_labels(path, num_classes=None):
  """ValueError unless the CSV is a complete class map (indices 0..N-1, each named once)
  with num_classes rows (None: any number)."""
  from soundscope.models import class_map
  names = class_map.read(path, complete=True).display_names
  if num_classes is not None and len(names) != num_classes:
    raise ValueError(f"{path} lists {len(names)} classes, but --num-classes is {num_classes}")


def check_outputs(args, train_data, num_classes=None):
  """What the end of a run needs, checked before it starts (usage errors, ValueError):
  --eval-data matches files, --class-labels (or the CSV found next to the data) is a
  complete class map, and --export names no known model nor, without --force, an
  existing one.  num_classes: the classes the labels must count (None: not known yet)."""
  from soundscope.models import readers
  if args.eval_data:
    readers.expand_glob(args.eval_data)
  if args.export:
    store.check_target(store.ModelStore(args.model_dir).path(args.export), args.force)
  labels = find_class_labels(train_data, args.class_labels) if train_data else args.class_labels
  if args.export and labels is not None:
    if not os.path.isfile(labels):
      raise FileNotFoundError(f"{labels}: no such file (--class-labels)")
    check_labels(labels, num_classes)


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
        model_class=model_class or frame_models.canonical_name(config.model),
        force=args.force)


def run_reporting_errors(command, body, args):
  """body(args), or exit status 2 with `soundscope COMMAND: error: ...` on stderr.

  Bad input (a ValueError or FileNotFoundError naming the file or setting) is
  the user's to fix, so it gets one line, not a traceback.  Shared by train,
  ensemble and evaluate.
  """
  from soundscope.models.training import train
  try:
    return body(args)
  except (ValueError, FileNotFoundError, store.ModelNotFoundError) as exc:
    print(f"soundscope {command}: error: {exc}", file=sys.stderr)
    return 2
  except train.TrainingDivergedError as exc:
    print(f"soundscope {command}: error: {exc}", file=sys.stderr)
    return 1
  except OSError as exc:   # A read-only store or output folder, a full disk.
    where = f"{exc.filename}: " if exc.filename else ""
    print(f"soundscope {command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
    return 1


def run(args):
  return run_reporting_errors("train", _run, args)


def _run(args):
  from soundscope.models.training import train
  config = config_from_arguments(args)   # Refused settings fail before any data is read.
  check_outputs(args, config.train_data, config.num_classes)
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
  from soundscope.util import json_values
  from soundscope.models.training import train
  metrics = {}
  if result["best_validation"]:
    metrics["validation"] = result["best_validation"]
  if args.eval_data:
    data = train.load_data(args.eval_data, config, "eval")
    summary, *_ = evaluate.evaluate(evaluate.load_keras_model(result["model_path"]), data)
    metrics["eval"] = summary
    print(json.dumps(json_values.jsonable(summary), indent=2), file=sys.stderr)
  if metrics:
    result["metrics"] = metrics
    train.write_summary(config.train_dir, result)
  if args.export:
    directory = export(args, config, result, metrics, model_class)
    print(f"exported to {directory}", file=sys.stderr)
  return 0
