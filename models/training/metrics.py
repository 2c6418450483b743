"""Evaluation metrics of multi-label classifiers: YouTube-8M's and AudioSet's.

All functions take `scores` float [n, C] (higher = more likely) and `labels`
[n, C] multi-hot (nonzero = positive).

  hit_at_one       YouTube-8M eval_util.calculate_hit_at_one (the article's
                   "average hit"): fraction of examples whose top class is a
                   positive.
  gap              YouTube-8M eval_util.calculate_gap, global average precision
                   over each example's top-k (20) predictions, pooled over all
                   classes, normalised by the total number of positives.  Its
                   pooled ranking goes through average_precision, so tied
                   scores share one threshold there too (the original shuffles
                   them at random; sharing is deterministic and independent of
                   the examples' order).  Ties at an example's k-th place keep
                   the lower class indices (the original's argpartition picks
                   arbitrarily).
  average_precision  AveragePrecisionCalculator.ap: the sum, over positives in
                   descending score order, of the precision at each, divided
                   by the number of positives.  Tied scores are one threshold,
                   as in scikit-learn's average_precision_score: every
                   positive of a run of equal scores gets the precision at the
                   run's end (the original breaks ties by a random shuffle;
                   without ties the two agree).
  per_class_ap / mean_ap   AP per class; mAP is the macro mean over classes
                   that have positives (AudioSet's standard).
  per_class_auc / mean_auc ROC AUC per class by the rank statistic (ties get
                   average ranks); mean over classes with both positives and
                   negatives.
  d_prime          sqrt(2) * Phi^-1(AUC), as the AudioSet papers report.
"""

import math
import statistics

import numpy as np

GAP_TOP_K = 20   # YouTube-8M's --top_k.


def _as_arrays(scores, labels):
  scores = np.asarray(scores, np.float64)
  labels = np.asarray(labels) > 0
  if scores.shape != labels.shape or scores.ndim != 2:
    raise ValueError(f"scores {scores.shape} and labels {labels.shape} must both be [n, C]")
  return scores, labels


def hit_at_one(scores, labels):
  """float: mean over examples of labels[argmax(scores)] (0 when n == 0)."""
  scores, labels = _as_arrays(scores, labels)
  if not len(scores):
    return 0.0
  top = np.argmax(scores, axis=1)
  return float(np.mean(labels[np.arange(len(scores)), top]))


def average_precision(scores, positives, num_positives=None):
  """AP of one ranking (YouTube-8M AveragePrecisionCalculator.ap, ties as scikit-learn).

  Precision and recall are evaluated only at distinct score thresholds: a run
  of tied scores counts as one step, whose positives all get the precision of
  the whole run (hits up to its end / items up to its end).

  Args:
    scores: float [m].
    positives: bool [m].
    num_positives: denominator; defaults to positives.sum() (more positives than
      the ranking holds lower the AP, as in GAP).

  Returns:
    float in [0, 1]; 0 when there are no positives.
  """
  scores = np.asarray(scores, np.float64)
  positives = np.asarray(positives) > 0
  if num_positives is None:
    num_positives = int(positives.sum())
  if num_positives <= 0 or not scores.size:
    return 0.0
  order = np.argsort(-scores, kind="stable")
  ranked = scores[order]
  run_ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # Last index of each score.
  hits_to_end = np.cumsum(positives[order])[run_ends]
  hits_in_run = np.diff(hits_to_end, prepend=0)
  return float(np.sum(hits_in_run * (hits_to_end / (run_ends + 1.0))) / num_positives)


def gap(scores, labels, top_k=GAP_TOP_K):
  """YouTube-8M global average precision over each example's top_k predictions."""
  scores, labels = _as_arrays(scores, labels)
  top_k = min(top_k, scores.shape[1])
  top = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
  rows = np.arange(len(scores))[:, None]
  return average_precision(scores[rows, top].ravel(), labels[rows, top].ravel(),
                           int(labels.sum()))


def per_class_ap(scores, labels):
  """float64 [C] AP per class (NaN where the class has no positives)."""
  scores, labels = _as_arrays(scores, labels)
  return np.array([average_precision(scores[:, c], labels[:, c]) if labels[:, c].any()
                   else np.nan for c in range(scores.shape[1])])


def _average_ranks(values):
  """1-based ranks of values, ties sharing their average rank."""
  order = np.argsort(values, kind="stable")
  sorted_values = values[order]
  starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
  group = np.cumsum(starts) - 1
  first = np.flatnonzero(starts)
  last = np.r_[first[1:], len(values)]
  average = (first + last + 1) / 2.0   # mean of ranks first+1 .. last
  ranks = np.empty(len(values))
  ranks[order] = average[group]
  return ranks


def auc(scores, positives):
  """ROC AUC of one class (Mann-Whitney U / (P * N)); NaN without both classes."""
  scores = np.asarray(scores, np.float64)
  positives = np.asarray(positives) > 0
  num_pos = int(positives.sum())
  num_neg = len(positives) - num_pos
  if num_pos == 0 or num_neg == 0:
    return float("nan")
  ranks = _average_ranks(scores)
  return float((ranks[positives].sum() - num_pos * (num_pos + 1) / 2.0) / (num_pos * num_neg))


def per_class_auc(scores, labels):
  """float64 [C] AUC per class (NaN where undefined)."""
  scores, labels = _as_arrays(scores, labels)
  return np.array([auc(scores[:, c], labels[:, c]) for c in range(scores.shape[1])])


def d_prime(auc_value):
  """sqrt(2) * inverse normal CDF of the AUC (inf at 1, -inf at 0)."""
  if math.isnan(auc_value):
    return float("nan")
  if auc_value >= 1.0:
    return float("inf")
  if auc_value <= 0.0:
    return float("-inf")
  return math.sqrt(2.0) * statistics.NormalDist().inv_cdf(auc_value)


def summary(scores, labels, top_k=GAP_TOP_K):
  """Every metric at once.

  Returns:
    (dict with hit_at_one, gap, map, mean_auc, d_prime, num_examples,
     num_classes_with_positives; per_class_ap [C]; per_class_auc [C];
     positives int [C]).
  """
  scores, labels = _as_arrays(scores, labels)
  aps = per_class_ap(scores, labels)
  aucs = per_class_auc(scores, labels)
  mean_auc = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
  result = {
      "num_examples": int(len(scores)),
      "num_classes_with_positives": int(np.isfinite(aps).sum()),
      "hit_at_one": hit_at_one(scores, labels),
      "gap": gap(scores, labels, top_k),
      "map": float(np.nanmean(aps)) if np.isfinite(aps).any() else float("nan"),
      "mean_auc": mean_auc,
      "d_prime": d_prime(mean_auc),
  }
  return result, aps, aucs, labels.sum(axis=0).astype(np.int64)
