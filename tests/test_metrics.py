"""models/metrics: hand-computed cases and scikit-learn as an independent reference."""

import math

import numpy as np
import pytest

from soundscope.models.training import metrics


def test_hit_at_one_counts_examples_whose_top_class_is_positive():
  scores = [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.3]]
  labels = [[1, 0, 0], [1, 0, 1], [0, 0, 1]]
  assert metrics.hit_at_one(scores, labels) == pytest.approx(2 / 3)


def test_average_precision_by_hand():
  # Ranking: p(0.9) n(0.8) p(0.7) n(0.6) p(0.5): precisions at hits 1, 2/3, 3/5.
  scores = [0.5, 0.9, 0.6, 0.7, 0.8]
  positives = [1, 1, 0, 1, 0]
  assert metrics.average_precision(scores, positives) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
  # A denominator larger than the hits (GAP's num_positives) scales it down.
  assert metrics.average_precision(scores, positives, 6) == pytest.approx(
      (1 + 2 / 3 + 3 / 5) / 6)
  assert metrics.average_precision(scores, [0] * 5) == 0.0


def test_gap_pools_each_examples_top_k_over_all_positives():
  scores = np.array([[0.9, 0.8, 0.1], [0.3, 0.95, 0.2]])
  labels = np.array([[0, 1, 1], [0, 1, 0]])
  # top-2 per example: (0.9,n) (0.8,p) | (0.95,p) (0.3,n) -> sorted:
  # 0.95 p, 0.9 n, 0.8 p, 0.3 n; precisions at hits 1, 2/3; 3 positives in all.
  assert metrics.gap(scores, labels, top_k=2) == pytest.approx((1 + 2 / 3) / 3)
  # With top_k covering every class it equals the AP of the flattened matrix.
  assert metrics.gap(scores, labels, top_k=3) == pytest.approx(
      metrics.average_precision(scores.ravel(), labels.ravel()))


def test_auc_by_hand_with_ties():
  # Positives 0.8, 0.4; negatives 0.4, 0.1: pairs won 1+1+0.5+1 = 3.5 of 4.
  assert metrics.auc([0.8, 0.4, 0.4, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)
  assert math.isnan(metrics.auc([0.1, 0.2], [1, 1]))


def test_d_prime_of_known_aucs():
  assert metrics.d_prime(0.5) == pytest.approx(0.0)
  # Phi^-1(0.841344746) = 1.
  assert metrics.d_prime(0.8413447460685429) == pytest.approx(math.sqrt(2.0), rel=1e-6)
  assert metrics.d_prime(1.0) == math.inf


def test_summary_skips_classes_without_positives():
  scores = np.array([[0.9, 0.2, 0.5], [0.1, 0.8, 0.5], [0.6, 0.3, 0.5]])
  labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
  summary, aps, aucs, positives = metrics.summary(scores, labels)
  assert summary["num_classes_with_positives"] == 2
  assert np.isnan(aps[2]) and np.isnan(aucs[2])
  assert summary["map"] == pytest.approx(1.0)
  assert summary["mean_auc"] == pytest.approx(1.0)
  assert list(positives) == [2, 1, 0]


@pytest.fixture(scope="module")
def random_problem():
  rng = np.random.default_rng(7)
  labels = (rng.random((400, 30)) < 0.08).astype(np.float32)
  labels[:, 5] = 0  # A class with no positives.
  scores = np.clip(labels * 0.3 + rng.random((400, 30)), 0, None).astype(np.float32)
  return scores, labels


def test_per_class_ap_and_auc_match_scikit_learn(random_problem):
  sklearn_metrics = pytest.importorskip("sklearn.metrics")
  scores, labels = random_problem
  aps = metrics.per_class_ap(scores, labels)
  aucs = metrics.per_class_auc(scores, labels)
  for c in range(scores.shape[1]):
    if labels[:, c].any():
      assert aps[c] == pytest.approx(
          sklearn_metrics.average_precision_score(labels[:, c], scores[:, c]), abs=1e-9)
      assert aucs[c] == pytest.approx(
          sklearn_metrics.roc_auc_score(labels[:, c], scores[:, c]), abs=1e-9)
    else:
      assert np.isnan(aps[c]) and np.isnan(aucs[c])
  with_positives = labels.any(axis=0)
  assert metrics.summary(scores, labels)[0]["map"] == pytest.approx(
      sklearn_metrics.average_precision_score(labels[:, with_positives],
                                              scores[:, with_positives], average="macro"))


def test_auc_matches_scikit_learn_with_many_ties():
  sklearn_metrics = pytest.importorskip("sklearn.metrics")
  rng = np.random.default_rng(3)
  positives = rng.random(500) < 0.3
  scores = np.round(rng.random(500) + positives * 0.2, 1)  # Few distinct values.
  assert metrics.auc(scores, positives) == pytest.approx(
      sklearn_metrics.roc_auc_score(positives, scores), abs=1e-12)


def _tied_problems():
  """(scores, positives) rankings with heavy ties: 1-decimal scores, quantized logits."""
  rng = np.random.default_rng(21)
  problems = []
  for seed in range(20):
    positives = rng.random(300) < 0.05 + 0.02 * seed
    noisy = rng.random(300) + positives * 0.3
    problems.append((np.round(noisy, 1), positives))
    # Sigmoid scores quantized to 64 levels (a coarse quantized output): few distinct values.
    logits = rng.normal(-2.0, 1.5, 300) + positives * 1.5
    problems.append((np.round(63 / (1 + np.exp(-logits))) / 63, positives))
  return problems


def test_average_precision_with_ties_matches_scikit_learn():
  sklearn_metrics = pytest.importorskip("sklearn.metrics")
  for scores, positives in _tied_problems():
    assert len(np.unique(scores)) < len(scores) // 4   # Many tied runs.
    assert metrics.average_precision(scores, positives) == pytest.approx(
        sklearn_metrics.average_precision_score(positives, scores), abs=1e-12)
  # By hand: p 0.9 | n p n 0.5 (tied) | p 0.1: precisions 1, 2/4 (shared), 3/5.
  assert metrics.average_precision([0.5, 0.9, 0.5, 0.1, 0.5], [0, 1, 1, 1, 0]) == pytest.approx(
      (1 + 2 / 4 + 3 / 5) / 3, abs=1e-15)


def test_map_and_gap_with_ties_do_not_depend_on_the_examples_order():
  sklearn_metrics = pytest.importorskip("sklearn.metrics")
  rng = np.random.default_rng(22)
  labels = rng.random((300, 12)) < 0.15
  scores = np.round(rng.random((300, 12)) + labels * 0.4, 1)
  expected_map = np.mean([sklearn_metrics.average_precision_score(labels[:, c], scores[:, c])
                          for c in range(12)])
  assert metrics.summary(scores, labels)[0]["map"] == pytest.approx(expected_map, abs=1e-12)
  # With top_k = C, GAP ranks every score against every positive: sklearn's AP of the whole.
  expected_gap = sklearn_metrics.average_precision_score(labels.ravel(), scores.ravel())
  for rows in (np.arange(300), rng.permutation(300), rng.permutation(300)):
    assert metrics.gap(scores[rows], labels[rows], top_k=12) == pytest.approx(
        expected_gap, abs=1e-12)


def test_shape_mismatch_is_an_error():
  with pytest.raises(ValueError, match="must both be"):
    metrics.summary(np.zeros((3, 2)), np.zeros((3, 3)))
