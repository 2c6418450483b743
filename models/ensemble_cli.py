"""`soundscope ensemble`: average finished training runs into one head.

  soundscope ensemble --members runs/mla,runs/mla_mixup,runs/mlp0,runs/mlp1,runs/att1024 \\
      --beta 0.1 --train-dir runs/ensemble_mix5 --export ensemble_mix5 \\
      [--eval-data '.../eval/*.tfrecord']

The members are train directories of `soundscope train`; the ensemble is
written to --train-dir like a run of its own (model.keras, training.json) and,
with --export NAME, goes into the model store as a head that `classify`,
`predict` and the live runtime use like any other (models/ensemble.py).
"""

import sys

from models import train_cli


def add_arguments(parser):
  from models import ensemble
  parser.add_argument("--members", required=True,
                      help="comma-separated train directories of finished `soundscope train` runs")
  parser.add_argument("--train-dir", required=True,
                      help="where the ensemble's model.keras and training.json go")
  parser.add_argument("--kind", choices=ensemble.KINDS, default="scores",
                      help="scores: mean of the members' probabilities (any models); weights: "
                           "mean of their weights (FrameLevelLogistic only) (default %(default)s)")
  parser.add_argument("--beta", type=float, default=0.0,
                      help="class-prior shift of the averaged scores: moves the top-1 towards "
                           "the training set's frequent classes, keeps each class's ranking "
                           "(default %(default)s: none)")
  parser.add_argument("--cache-dir", default=None,
                      help="cache of decoded records (default: the first member's)")
  export = parser.add_argument_group("export")
  export.add_argument("--export", metavar="NAME", default=None,
                      help="put the ensemble into the model store under NAME")
  export.add_argument("--model-dir", default=None, help="model store root")
  export.add_argument("--class-labels", default=None,
                      help=f"index,mid,display_name CSV (default: {train_cli.CLASS_LABELS_FILE} "
                           "next to the members' train data)")
  export.add_argument("--eval-data", default="",
                      help="glob of records to evaluate the ensemble on")
  return parser


def run(args):
  try:
    return _run(args)
  except (ValueError, FileNotFoundError) as exc:
    print(f"soundscope ensemble: error: {exc}", file=sys.stderr)
    return 2


def _run(args):
  from models import ensemble, train
  members = [member for member in args.members.split(",") if member]
  result = ensemble.build(members, args.train_dir, beta=args.beta, kind=args.kind,
                          cache_dir=args.cache_dir)
  shared = result["config"]
  config = train.TrainConfig(train_data=shared["train_data"], train_dir=args.train_dir,
                             cache_dir=args.cache_dir or shared["member_configs"][0].get(
                                 "cache_dir"),
                             **{field: shared[field]
                                for field in ensemble.MEMBER_FIELDS_THAT_MUST_AGREE})
  validation = result["best_validation"]
  print(f"averaged {len(members)} runs into {result['model_path']} "
        f"({result['elapsed_seconds'] / 60:.1f} min of members' training)"
        + (f"; validation hit@1 {validation['val_hit_at_one']:.4f} mAP {validation['val_map']:.4f}"
           if validation else ""), file=sys.stderr)
  return train_cli.evaluate_and_export(args, config, result, result["model_class"])
