"""`soundscope evaluate`: hit@1, GAP@20, mAP, mean AUC and d' of a trained head.

  soundscope evaluate --eval-data '.../eval/*.tfrecord' --model NAME_OR_DIR \\
      [--output-dir DIR]

NAME is a head in the model store; a directory may be a head directory
(head.keras) or a train directory (model.keras).  Writes DIR/summary.json and
DIR/per_class.csv (index, name, AP, AUC, positives) and prints the summary.
"""

import json
import os
import sys

from soundscope.cli import flags
from soundscope.configs import params as P
from soundscope.configs.training import TrainConfig


def add_arguments(parser):
  parser.add_argument("--eval-data", required=True,
                      help="glob of release-format TFRecord files (e.g. 'eval/*.tfrecord')")
  parser.add_argument("--model", required=True,
                      help="trained head: name in the model store, or a directory")
  flags.add_flags(parser, P.ReportOptions, names=["model_dir"])
  parser.add_argument("--output-dir", default=None,
                      help="where summary.json and per_class.csv go (default: print only)")
  parser.add_argument("--class-labels", default=None,
                      help="index,mid,display_name CSV for the per-class names (default: the "
                           "head's labels, else class_labels_indices.csv next to the data)")
  parser.add_argument("--num-classes", type=int, default=None,
                      help="classes of the labels (default: the model's outputs)")
  flags.add_flags(parser, TrainConfig, names=("feature_names", "feature_sizes", "max_frames",
                                              "cache_dir"))
  return parser


def class_names(args, head_dir, num_classes):
  """Display names for the per-class CSV."""
  from soundscope.models import class_map
  from soundscope.models.networks import heads
  from soundscope.cli import train as train_cli
  candidates = [args.class_labels, os.path.join(head_dir, heads.LABELS_FILE),
                train_cli.find_class_labels(args.eval_data)]
  for path in candidates:
    if path and os.path.isfile(path):
      names = list(class_map.read(path, complete=True).display_names)
      if len(names) == num_classes:
        return names
  return [f"class {index}" for index in range(num_classes)]


def run(args):
  from soundscope.cli import train as train_cli
  return train_cli.run_reporting_errors("evaluate", _run, args)


def check_output_dir(path):
  """ValueError when --output-dir exists and is not a directory (checked before scoring)."""
  if path and os.path.exists(path) and not os.path.isdir(path):
    raise ValueError(f"{path}: not a directory (--output-dir)")


def _run(args):
  from soundscope.models import class_map
  from soundscope.models.training import evaluate
  from soundscope.util import json_values
  from soundscope.models.training import train
  check_output_dir(args.output_dir)
  if args.class_labels:
    class_map.read(args.class_labels, complete=True)   # A bad CSV fails before scoring.
  head_dir = evaluate.resolve_head_dir(args.model, args.model_dir)
  model = evaluate.load_keras_model(head_dir)
  num_classes = args.num_classes or int(model.output_shape[-1])
  config = train.TrainConfig(train_data=args.eval_data, train_dir="", num_classes=num_classes,
                             feature_names=args.feature_names, feature_sizes=args.feature_sizes,
                             max_frames=args.max_frames, cache_dir=args.cache_dir)
  data = train.load_data(args.eval_data, config, "eval")
  summary, aps, aucs, positives = evaluate.evaluate(model, data)
  summary["model"] = str(args.model)
  summary["eval_data"] = args.eval_data
  if args.output_dir:
    os.makedirs(args.output_dir, exist_ok=True)
    evaluate.write_reports(summary, aps, aucs, positives, class_names(args, head_dir, num_classes),
                           os.path.join(args.output_dir, "summary.json"),
                           os.path.join(args.output_dir, "per_class.csv"))
  print(json.dumps(json_values.jsonable(summary), indent=2, sort_keys=True))
  print(f"hit@1 {summary['hit_at_one']:.4f}  GAP {summary['gap']:.4f}  mAP {summary['map']:.4f}  "
        f"AUC {summary['mean_auc']:.4f}  d' {summary['d_prime']:.3f}  "
        f"({summary['num_examples']} records"
        + (f"; {len(summary['unreadable_files'])} unreadable files left out, listed in the "
           f"summary" if summary.get("unreadable_files") else "") + ")", file=sys.stderr)
  return 0
