"""How validation hit@1 and mAP grow with the number of training records.

Trains recipe members of the best model (configs/training_recipes.MEMBERS; by
default one pooled MLP and one multi-level attention head) on nested subsets of
the 90 % split's training part (soundscope.models.training.train.TrainConfig.train_fraction), each
for as many optimizer steps as the recipe takes on all of it (so a quarter of
the records is seen four times as often), keeps the epoch with the best
validation hit@1, and prints per fraction: training records, each member's
validation hit@1 and mAP, and the members' average at the class-prior shift
beta 0.1 (as the best model applies it).  It then fits hit@1 = a + b * log2(records)
to the averages and prints b (the gain per doubling of the data) and the records
the fit needs for a given hit@1.

Picking the best of many epochs flatters the small fractions most (they have
the most epochs to pick from), so the fitted gain per doubling errs low.  The
eval set is never read.

  python bench/experiments/learning_curve.py [--cache-dir DIR] [--runs-dir DIR] \\
      [--members mlp_full_s0,multilevel_full] [--fractions 0.125,0.25,0.5,1] \\
      [--target 0.60]

~40 minutes on 2 cores with the default members and fractions.
"""

import argparse
import os
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from bench.experiments.epoch_averaging import BETA, SPLIT, top1_hits  # noqa: E402


def member_config(member, fraction, train_dir, cache_dir):
  """TrainConfig of one recipe member on `fraction` of the 90 % split, at equal steps."""
  from soundscope.configs import training_recipes
  from soundscope.models.training import train
  settings = dict(training_recipes.MEMBERS[member])
  settings["num_epochs"] = int(round(settings["num_epochs"] / fraction))
  return train.TrainConfig(
      train_data=str(common.ASSETS / "audioset" / "bal_train" / "*.tfrecord"),
      train_dir=train_dir, cache_dir=cache_dir,
      **{**settings, **SPLIT, "train_fraction": fraction, "select_metric": "hit_at_one"})


def train_and_score(config, validation):
  """(training records, scores of the kept epoch on validation [records, classes])."""
  from soundscope.models.training import evaluate
  from soundscope.models.training import train
  result = train.train(config, verbose=0)
  model = evaluate.load_keras_model(result["model_path"])
  print(f"{config.train_dir}: {result['train_examples']} records, kept epoch "
        f"{result['chosen_epoch']} of {config.num_epochs}, "
        f"{result['elapsed_seconds'] / 60:.1f} min", file=sys.stderr, flush=True)
  return result["train_examples"], evaluate.score(model, validation)


def log_fit(records, hits):
  """(a, b) of the least-squares fit hits = a + b * log2(records)."""
  slope, intercept = np.polyfit(np.log2(records), hits, 1)
  return intercept, slope


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--cache-dir", default=None)
  parser.add_argument("--runs-dir", default="/tmp/soundscope-bench/learning_curve")
  parser.add_argument("--members", default="mlp_full_s0,multilevel_full")
  parser.add_argument("--fractions", default="0.125,0.25,0.5,1")
  parser.add_argument("--target", type=float, default=0.60)
  args = parser.parse_args()
  common.require_asset("audioset/bal_train")
  common.quiet_tensorflow()
  from soundscope.models.training import ensemble
  from soundscope.models.training import metrics
  from soundscope.models.training import train
  members = args.members.split(",")
  fractions = [float(fraction) for fraction in args.fractions.split(",")]
  all_train, validation = train.train_and_validation_data(
      member_config(members[0], 1.0, args.runs_dir, args.cache_dir))
  log_prior = ensemble.log_prior(all_train.labels)
  rows = []
  for fraction in fractions:
    scores = {}
    for member in members:
      config = member_config(member, fraction, os.path.join(
          args.runs_dir, f"{member}_{fraction:g}"), args.cache_dir)
      records, scores[member] = train_and_score(config, validation)
    single = {member: (top1_hits(member_scores, validation.labels, log_prior, 0.0).mean(),
                       metrics.summary(member_scores.astype(np.float32),
                                       validation.labels)[0]["map"])
              for member, member_scores in scores.items()}
    average = np.mean(list(scores.values()), axis=0)
    rows.append((fraction, records, single,
                 top1_hits(average, validation.labels, log_prior, BETA).mean(),
                 metrics.summary(average.astype(np.float32), validation.labels)[0]["map"]))
  print(f"validation: {len(validation.labels)} records of the 90 % split; members' hit@1 "
        f"at beta 0, the average's at beta {BETA}")
  print("| fraction | training records | " + " | ".join(
      f"{member} hit@1 / mAP" for member in members) + " | average hit@1 / mAP |")
  print("|---|---|" + "---|" * (len(members) + 1))
  for fraction, records, single, hits, average_map in rows:
    print(f"| {fraction:g} | {records} | " + " | ".join(
        f"{single[m][0]:.4f} / {single[m][1]:.4f}" for m in members)
          + f" | {hits:.4f} / {average_map:.4f} |")
  intercept, slope = log_fit([row[1] for row in rows], [row[3] for row in rows])
  needed = 2 ** ((args.target - intercept) / slope) if slope > 0 else float("inf")
  print(f"fit: average hit@1 = {intercept:.4f} + {slope:.4f} * log2(records): "
        f"{slope:+.4f} per doubling; hit@1 {args.target} at ~{needed:,.0f} records "
        f"({needed / rows[-1][1]:.1f}x the largest set)")


if __name__ == "__main__":
  main()
