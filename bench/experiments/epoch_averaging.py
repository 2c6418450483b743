"""Averaging over epochs for ensemble_mix's four recipes, on the 90 % validation split.

Trains each recipe of the best model (two multi-level attention heads, one with
mixup, and two pooled MLPs) with `soundscope.models.training.train.train` on the same split as the
other validation runs, and keeps, over the second half of its epochs, each
epoch's weights and validation scores. It then compares, per recipe and for
the four-member average (class-prior shift beta 0.1, as ensemble_mix):

  recipe     the scores at the recipe's last epoch (what ensemble_mix uses)
  snapshot   the mean of the epochs' scores (a snapshot ensemble)
  swa        the model with the epochs' weights averaged (stochastic weight
             averaging, Izmailov et al. 2018); batch-norm statistics are
             re-estimated on the training records, as SWA's bn_update does

The window (the second half of the epochs) is fixed beforehand, not searched.
The eval set is never read.

  python bench/experiments/epoch_averaging.py [--assets ../shared/assets] [--cache-dir DIR] \\
      [--runs-dir DIR] [--only mlp_s0,...]

18 minutes of wall time on 2 cores (28 CPU minutes; most of it the two attention
heads), 5 GB peak RSS.
"""

import argparse
import os
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from bench import train_article_models as article  # noqa: E402


def recipe(name):
  """TrainConfig keyword arguments of one member, on the 90 % split."""
  return {"loss": article.DEFAULT_LOSS, **article.RUNS[RECIPE_RUNS[name]], **SPLIT}

BETA = 0.1
# ensemble_mix's members, as bench/train_article_models.py defines them, trained on
# its 90 % split instead of all records (the seed-0 attention head's 90 % run is
# "multilevel", 30 epochs; its refit on all records kept 29).
RECIPE_RUNS = {"multilevel_s0": "multilevel", "multilevel_mixup_s1": "multilevel_mixup_full",
               "mlp_s0": "mlp_full_s0", "mlp_s1": "mlp_full_s1"}
SPLIT = dict(validation_fraction=0.1, split_seed=0)


def epoch_keeper(first_epoch, validation, kept):
  """A Keras callback that stores weights and validation scores from first_epoch on."""
  import keras
  from soundscope.models.training import evaluate

  class KeepEpochs(keras.callbacks.Callback):

    def on_epoch_end(self, epoch, logs=None):
      if epoch + 1 >= first_epoch:
        kept[epoch + 1] = ([w.copy() for w in self.model.get_weights()],
                           evaluate.score(self.model, validation))

  return KeepEpochs()


def weight_average_scores(model, kept, train_data, validation):
  """Validation scores of `model` with the kept epochs' weights averaged."""
  import keras
  from soundscope.models.training import evaluate
  from soundscope.models import readers
  weights = [snapshot[0] for snapshot in kept.values()]
  model.set_weights([np.mean(layer, axis=0) for layer in zip(*weights)])
  norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
  if norms:
    # Momentum 0: one pass over all training records sets the statistics outright.
    for layer in norms:
      layer.momentum = 0.0
    model(readers.dequantized_inputs(train_data), training=True)
  return evaluate.score(model, validation)


def run_recipe(name, args):
  """Trains one recipe; returns {variant: validation scores} and the split."""
  import keras
  from soundscope.models.training import train
  config = train.TrainConfig(
      train_data=str(common.ASSETS / "audioset" / "bal_train" / "*.tfrecord"),
      train_dir=os.path.join(args.runs_dir, name), cache_dir=args.cache_dir, **recipe(name))
  train_data, validation = train.train_and_validation_data(config)
  kept = {}
  first = config.num_epochs // 2 + 1
  result = train.train(config, verbose=0,
                       extra_callbacks=[epoch_keeper(first, validation, kept)])
  if len(kept) != config.num_epochs - first + 1:
    sys.exit(f"bench: {config.train_dir} was already trained; use a fresh --runs-dir")
  model = keras.models.load_model(os.path.join(config.train_dir, train.LATEST_MODEL),
                                  compile=False)
  scores = {"recipe": kept[config.num_epochs][1],
            "snapshot": np.mean([snapshot[1] for snapshot in kept.values()], axis=0),
            "swa": weight_average_scores(model, kept, train_data, validation)}
  print(f"{name}: trained in {result['elapsed_seconds'] / 60:.1f} min, "
        f"epochs {first}-{config.num_epochs} averaged", file=sys.stderr, flush=True)
  return scores, train_data, validation


def top1_hits(scores, labels, log_prior, beta):
  """float [n]: 1 where the top class after the prior shift is a positive label."""
  clipped = np.clip(scores, 1e-7, 1 - 1e-7)
  logits = np.log(clipped) - np.log1p(-clipped) + beta * log_prior
  return labels[np.arange(len(labels)), logits.argmax(axis=1)].astype(np.float64)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--assets", default=str(common.ASSETS))
  parser.add_argument("--cache-dir", default=None)
  parser.add_argument("--runs-dir", default="/tmp/soundscope-bench/epoch_averaging")
  parser.add_argument("--only", default="", help="comma-separated recipes (default: all four)")
  args = parser.parse_args()
  common.ASSETS = pathlib.Path(args.assets)
  common.require_asset("audioset/bal_train")
  common.quiet_tensorflow()
  from soundscope.models.training import ensemble
  from soundscope.models.training import metrics
  names = [n for n in RECIPE_RUNS if not args.only or n in args.only.split(",")]
  per_recipe = {}
  for name in names:
    per_recipe[name], train_data, validation = run_recipe(name, args)
  labels = validation.labels
  log_prior = ensemble.log_prior(train_data.labels)
  rows = [(name, per_recipe[name]) for name in names]
  rows.append((f"average of {len(names)} (beta {BETA})",
               {v: np.mean([per_recipe[n][v] for n in names], axis=0)
                for v in ("recipe", "snapshot", "swa")}))
  print(f"| run | variant | val hit@1 | val hit@1 beta {BETA} | val mAP | change in hit@1 "
        "(paired s.e.) |")
  print("|---|---|---|---|---|---|")
  for name, variants in rows:
    base = top1_hits(variants["recipe"], labels, log_prior, BETA)
    for variant, scores in variants.items():
      summary, *_ = metrics.summary(scores.astype(np.float32), labels)
      hits = top1_hits(scores, labels, log_prior, BETA)
      change = hits - base
      print(f"| {name} | {variant} | {summary['hit_at_one']:.4f} | {hits.mean():.4f} | "
            f"{summary['map']:.4f} | {change.mean():+.4f} "
            f"({change.std() / np.sqrt(len(change)):.4f}) |")


if __name__ == "__main__":
  main()
