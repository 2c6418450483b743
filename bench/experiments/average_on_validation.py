"""Does a candidate member lift an average of heads?  Measured on the validation split.

Loads the last epoch of finished `soundscope train` runs that share one
validation split (same --validation-fraction and --split-seed), averages the
BASE runs' scores, then adds each CANDIDATE run alone to that average, and
prints a Markdown table: validation hit@1 at each class-prior shift beta (as
ensemble_layers.PriorLogitShift applies it), mAP, and the change in hit@1 against
the base average at beta 0.1 with its paired standard error (the same records
scored both ways).  The last epoch is what a refit for a fixed number of epochs
gives, so it is what an ensemble of refitted heads would average.  The eval set
is never read.

  python bench/experiments/average_on_validation.py --base RUN,RUN,... --candidates RUN,RUN,... \\
      [--cache-dir DIR] [--betas 0,0.1,0.2]

RUN is a train directory.  A few seconds per run on 2 cores (the 2,216 validation
records of the 90 % split).
"""

import argparse
import json
import os
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from bench.experiments.epoch_averaging import BETA, top1_hits  # noqa: E402


def run_config(train_dir):
  """The TrainConfig fields a finished run was trained with."""
  with open(os.path.join(train_dir, "training.json")) as summary:
    return json.load(summary)["config"]


def shared_validation(train_dirs, cache_dir):
  """(train records, validation records) of the split every run held out; exits if they differ."""
  from soundscope.models.training import train
  configs = [run_config(train_dir) for train_dir in train_dirs]
  splits = {(c["train_data"], c["validation_fraction"], c["split_seed"]) for c in configs}
  if len(splits) != 1 or not configs[0]["validation_fraction"]:
    sys.exit(f"bench: the runs do not share one validation split: {sorted(splits)}")
  config = train.TrainConfig(**{**configs[0], "cache_dir": cache_dir or configs[0]["cache_dir"]})
  return train.train_and_validation_data(config)


def last_epoch_scores(train_dir, validation):
  """float [records, classes]: the run's last-epoch model on the validation records."""
  from soundscope.models.training import evaluate
  from soundscope.models.training import train
  model = evaluate.load_keras_model(os.path.join(train_dir, train.LATEST_MODEL))
  return evaluate.score(model, validation)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--base", required=True, help="comma-separated train dirs")
  parser.add_argument("--candidates", required=True, help="comma-separated train dirs")
  parser.add_argument("--cache-dir", default=None)
  parser.add_argument("--betas", default="0,0.1,0.2")
  args = parser.parse_args()
  common.quiet_tensorflow()
  from soundscope.models.training import ensemble
  from soundscope.models.training import metrics
  base_dirs, candidate_dirs = args.base.split(","), args.candidates.split(",")
  betas = [float(beta) for beta in args.betas.split(",")]
  train_data, validation = shared_validation(base_dirs + candidate_dirs, args.cache_dir)
  labels = validation.labels
  log_prior = ensemble.log_prior(train_data.labels)
  scores = {train_dir: last_epoch_scores(train_dir, validation)
            for train_dir in base_dirs + candidate_dirs}
  base_average = np.mean([scores[d] for d in base_dirs], axis=0)
  base_hits = top1_hits(base_average, labels, log_prior, BETA)
  rows = [("base", base_average)] + [(f"base + {d}", (base_average * len(base_dirs) + scores[d])
                                      / (len(base_dirs) + 1)) for d in candidate_dirs]
  rows += [(f"{d} alone", scores[d]) for d in candidate_dirs]
  print(f"base: {', '.join(base_dirs)}; {len(labels)} validation records")
  print("| average | " + " | ".join(f"val hit@1 beta {b}" for b in betas)
        + f" | val mAP | change in hit@1 at beta {BETA} (paired s.e.) |")
  print("|---|" + "---|" * (len(betas) + 2))
  for name, average in rows:
    summary, *_ = metrics.summary(average.astype(np.float32), labels)
    change = top1_hits(average, labels, log_prior, BETA) - base_hits
    hits = " | ".join(f"{top1_hits(average, labels, log_prior, b).mean():.4f}" for b in betas)
    print(f"| {name} | {hits} | {summary['map']:.4f} | {change.mean():+.4f} "
          f"({change.std() / np.sqrt(len(change)):.4f}) |")


if __name__ == "__main__":
  main()
