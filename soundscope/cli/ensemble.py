"""`soundscope ensemble`: average training runs into one head, or train a recipe's.

  soundscope ensemble --members runs/mla,runs/mla_mixup,runs/mlp0,runs/mlp1,runs/att1024 \\
      --beta 0.1 --train-dir runs/ensemble_mix5 --export ensemble_mix5 \\
      [--eval-data '.../eval/*.tfrecord']
  soundscope ensemble --recipe ensemble_mix5 --train-data '.../bal_train/*.tfrecord' \\
      --train-dir runs/ensemble_mix5 --export ensemble_mix5

--members are train directories of finished `soundscope train` runs; --recipe
trains the members of a named recipe (configs/training_recipes.py, e.g. the best
model) in TRAIN_DIR/members/ first, resuming where an earlier call stopped.  The
ensemble is written to --train-dir like a run of its own (model.keras,
training.json) and, with --export NAME, goes into the model store as a head that
`classify`, `predict` and the live runtime use like any other (models/training/ensemble.py).
"""

import sys


from soundscope.cli import flags
from soundscope.cli import train as train_cli
from soundscope.configs import params as P


def add_arguments(parser):
  from soundscope.configs import training_recipes
  from soundscope.models.training import ensemble
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--members",
                      help="comma-separated train directories of finished `soundscope train` runs")
  source.add_argument("--recipe", choices=sorted(training_recipes.ENSEMBLES),
                      help="train this recipe's members on --train-data, then average them")
  parser.add_argument("--train-data", default=None,
                      help="with --recipe: glob of release-format TFRecords to train on")
  parser.add_argument("--quiet", action="store_true",
                      help="with --recipe: one line per epoch, no progress bar")
  parser.add_argument("--train-dir", required=True,
                      help="where the ensemble's model.keras and training.json go")
  parser.add_argument("--kind", choices=ensemble.KINDS, default=None,
                      help="with --members: scores: mean of the members' probabilities (any "
                           "models); weights: mean of their weights (FrameLevelLogistic only) "
                           "(default scores)")
  parser.add_argument("--beta", type=float, default=None,
                      help="with --members: class-prior shift of the averaged scores: moves the "
                           "top-1 towards the training set's frequent classes, keeps each "
                           "class's ranking (default 0: none)")
  parser.add_argument("--cache-dir", default=None,
                      help="cache of decoded records (default: the first member's)")
  export = parser.add_argument_group("export")
  export.add_argument("--export", metavar="NAME", default=None,
                      type=flags.model_name,
                      help="put the ensemble into the model store under NAME")
  train_cli.add_force_flag(export)
  flags.add_flags(export, P.ReportOptions, names=["model_dir"])
  export.add_argument("--class-labels", default=None,
                      help=f"index,mid,display_name CSV (default: {train_cli.CLASS_LABELS_FILE} "
                           "next to the members' train data)")
  export.add_argument("--eval-data", default="",
                      help="glob of records to evaluate the ensemble on")
  return parser


def run(args):
  return train_cli.run_reporting_errors("ensemble", _run, args)


def _run(args):
  from soundscope.models.training import ensemble
  if args.recipe:
    if not args.train_data:
      raise ValueError("--recipe needs --train-data, the records to train its members on")
    if args.kind is not None or args.beta is not None:
      raise ValueError(f"--kind and --beta come from the recipe {args.recipe!r} "
                       "(configs/training_recipes.py)")
  train_cli.check_outputs(args, args.train_data)
  if args.recipe:
    result = ensemble.train_recipe(
        args.recipe, args.train_data, args.train_dir, cache_dir=args.cache_dir,
        verbose=2 if args.quiet else 1, log=lambda line: print(line, file=sys.stderr))
  else:
    members = [member for member in args.members.split(",") if member]
    result = ensemble.build(members, args.train_dir, beta=args.beta or 0.0,
                            kind=args.kind or "scores", cache_dir=args.cache_dir)
  validation = result["best_validation"]
  print(f"averaged {len(result['config']['members'])} runs into {result['model_path']} "
        f"({result['elapsed_seconds'] / 60:.1f} min of members' training)"
        + (f"; validation hit@1 {validation['val_hit_at_one']:.4f} mAP {validation['val_map']:.4f}"
           if validation else ""), file=sys.stderr)
  return train_cli.evaluate_and_export(args, ensemble.data_config(result, args.train_dir),
                                       result, result["model_class"])
