"""Accuracy check: YAMNet on the 400 ESC-10 clips, through the built-in label set esc10
(configs/label_sets/esc10.yaml, resolved and applied by models/label_sets.py, the
mapping `soundscope classify --labels esc10` uses).

This is the proof that decoding, resampling (kaiser_best), windowing (0.975 s
every 0.48 s) and pooling are right: the official model classifies ESC-10's
ten categories at least 95 % correctly only when all of them are.  It decodes
and resamples 400 x 5 s of 44.1 kHz audio (about a minute on two cores).
"""

import concurrent.futures
import csv

import numpy as np
import pytest

from conftest import asset
from support_store import yamnet_store
from soundscope.models import label_sets
from soundscope.transforms import audio

MIN_ACCURACY = 0.95
MIN_LABEL_SET_ACCURACY = 0.97   # classify --labels esc10 with YAMNet's default (mean) pooling.


pytestmark = pytest.mark.slow


def esc10_clip_scores(classifier, aggregations):
  """{aggregation: [(category, clip scores [521])]} for the 400 ESC-10 clips."""
  directory = asset("audio/esc10")
  with open(directory / "esc10.csv", newline="") as stream:
    rows = list(csv.DictReader(stream))
  assert len(rows) == 400 and len({r["category"] for r in rows}) == 10

  def score(row):
    wave = audio.load_mono(directory / row["filename"])
    return row["category"], classifier.window_scores(wave).scores

  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    scored = list(pool.map(score, rows))
  return {agg: [(cat, windows.mean(0) if agg == "mean" else windows.max(0))
                for cat, windows in scored] for agg in aggregations}


def predict_categories(scores, resolved):
  """The ESC-10 categories (top-1 labels of the esc10 set) of float [n, C] clip scores."""
  mapped, names = label_sets.label_scores(scores, resolved)
  return [names[i] for i in np.argmax(mapped, axis=-1)]


def test_mapping_names_real_classes_once():
  from soundscope.models.networks import yamnet
  mids, labels = yamnet.load_class_map(asset("yamnet/yamnet_class_map.csv"))
  esc10 = label_sets.load("esc10")
  written = {label.name: [ref.text for ref in label.classes] for label in esc10.labels}
  names = [name for group in written.values() for name in group]
  assert set(names) <= set(labels) and len(names) == len(set(names))
  # Resolving the set gives exactly the classes written for each category.
  resolved = label_sets.resolve(esc10, labels, mids)
  assert list(resolved.labels) == list(written)
  assert [tuple(labels[i] for i in group) for group in resolved.class_indices] == [
      tuple(sorted(group, key=labels.index)) for group in written.values()]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
  from soundscope.models.store import registry
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  classifier = registry.load_classifier("yamnet", root)
  return (label_sets.for_classifier("esc10", classifier),
          esc10_clip_scores(classifier, ("mean", "max")))


def accuracy_of(resolved, scored):
  """(fraction, count) of [(category, clip scores [C])] whose top-1 label is the category."""
  categories = [category for category, _ in scored]
  predicted = predict_categories(np.stack([scores for _, scores in scored]), resolved)
  hits = sum(p == c for p, c in zip(predicted, categories))
  return hits / len(scored), hits


@pytest.mark.parametrize("aggregation", ["mean", "max"])
def test_esc10_accuracy(results, aggregation):
  resolved, by_aggregation = results
  accuracy, hits = accuracy_of(resolved, by_aggregation[aggregation])
  print(f"ESC-10 accuracy with {aggregation} pooling: {accuracy:.4f} ({hits}/400)")
  assert accuracy >= MIN_ACCURACY


def test_classify_labels_esc10_top1_is_the_category_on_97_percent(results):
  """`classify --labels esc10`'s top-1 label (default mean pooling) on all 400 clips."""
  resolved, by_aggregation = results
  accuracy, hits = accuracy_of(resolved, by_aggregation["mean"])
  print(f"classify --labels esc10 top-1 accuracy: {accuracy:.4f} ({hits}/400)")
  assert accuracy >= MIN_LABEL_SET_ACCURACY
