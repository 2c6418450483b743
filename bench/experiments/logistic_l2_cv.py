"""Chooses FrameLevelLogistic's L2 penalty by k-fold cross-validation on balanced train.

Each fold fits the logistic model *to convergence* (full-batch L-BFGS on the mean
of the real frames, YouTube-8M's summed cross-entropy + l2/2 * |W|^2, the bias not
penalised), so the comparison is between penalties, not between how far Adam got.
Every balanced-train record is scored once, by the fold that held it out; the
table gives hit@1 (with its standard error), mAP and GAP@20 of those scores.

  python bench/experiments/logistic_l2_cv.py [--assets ../shared/assets] [--cache-dir DIR] \\
      [--l2 3e-3 1e-3 3e-4] [--folds 5]

Needs scipy (installed with the test extra's scikit-learn).  About 2 minutes per
fold and penalty on one core.  The eval set is never read.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def mean_pooled_with_bias(data):
  """float64 [n, d + 1]: mean of each record's real dequantized frames, then a 1."""
  from soundscope.models import readers
  inputs = readers.dequantized_inputs(data)
  counts = np.maximum(inputs["num_frames"], 1)[:, None]
  pooled = inputs["frames"].sum(axis=1) / counts  # Padding frames are zeros.
  return np.hstack([pooled, np.ones((len(pooled), 1))]).astype(np.float64)


def fit_logistic(features, labels, l2_penalty, initial=None):
  """[d + 1, C] weights (last row: biases) minimising the mean summed BCE + l2/2 |W|^2."""
  from scipy.optimize import minimize
  num_records, width = features.shape
  num_classes = labels.shape[1]

  def loss_and_gradient(flat):
    weights = flat.reshape(width, num_classes)
    logits = features @ weights
    loss = np.sum(np.logaddexp(0.0, logits) - labels * logits) / num_records
    gradient = features.T @ (1.0 / (1.0 + np.exp(-logits)) - labels) / num_records
    loss += l2_penalty / 2 * np.sum(weights[:-1] ** 2)
    gradient[:-1] += l2_penalty * weights[:-1]
    return loss, gradient.ravel()

  start = np.zeros(width * num_classes) if initial is None else initial.ravel()
  result = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B",
                    options={"maxiter": 3000})
  return result.x.reshape(width, num_classes)


def cross_validated_scores(features, labels, penalties, folds, seed=0):
  """{penalty: float32 [n, C] held-out sigmoid scores}; each fold warm-starts down the penalties."""
  fold_of = np.random.default_rng(seed).permutation(len(features)) % folds
  scores = {penalty: np.zeros(labels.shape, np.float32) for penalty in penalties}
  for fold in range(folds):
    held_out = fold_of == fold
    weights = None
    for penalty in sorted(penalties, reverse=True):
      started = time.monotonic()
      weights = fit_logistic(features[~held_out], labels[~held_out], penalty, weights)
      logits = features[held_out] @ weights
      scores[penalty][held_out] = 1.0 / (1.0 + np.exp(-logits))
      print(f"fold {fold + 1}/{folds}, L2 {penalty:g}: {time.monotonic() - started:.0f} s",
            file=sys.stderr, flush=True)
  return scores


def main():
  from soundscope.models.training import metrics
  from soundscope.models.training import train
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--assets", default=str(REPO.parent / "shared" / "assets"))
  parser.add_argument("--cache-dir", default="/tmp/soundscope-cache")
  parser.add_argument("--l2", type=float, nargs="+", default=[3e-3, 1e-3, 3e-4])
  parser.add_argument("--folds", type=int, default=5)
  args = parser.parse_args()
  config = train.TrainConfig(train_data=f"{args.assets}/audioset/bal_train/*.tfrecord",
                             train_dir="", cache_dir=args.cache_dir)
  data = train.load_data(config.train_data, config, "train")
  features = mean_pooled_with_bias(data)
  scores = cross_validated_scores(features, data.labels.astype(np.float64), args.l2, args.folds)
  print(f"| L2 | hit@1 (+- s.e.) | mAP | GAP@20 |  ({len(features)} records, {args.folds} folds)")
  print("|---|---|---|---|")
  for penalty in args.l2:
    summary, *_ = metrics.summary(scores[penalty], data.labels)
    hits = data.labels[np.arange(len(features)), scores[penalty].argmax(axis=1)]
    print(f"| {penalty:g} | {summary['hit_at_one']:.4f} +- {hits.std() / np.sqrt(len(hits)):.4f} "
          f"| {summary['map']:.4f} | {summary['gap']:.4f} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
