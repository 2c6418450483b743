"""Accuracy check: YAMNet on the 400 ESC-10 clips, through the mapping in configs/esc10_yamnet.py.

This is the proof that decoding, resampling (kaiser_best), windowing (0.975 s
every 0.48 s) and pooling are right: the official model classifies ESC-10's
ten categories at least 95 % correctly only when all of them are.  It decodes
and resamples 400 x 5 s of 44.1 kHz audio (about a minute on two cores).
"""

import concurrent.futures
import csv

import numpy as np
import pytest

from soundscope.configs.esc10_yamnet import ESC10_TO_YAMNET
from conftest import asset
from support_store import yamnet_store
from soundscope.transforms import audio

MIN_ACCURACY = 0.95


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


def predict_category(scores, labels):
  """The ESC-10 category whose mapped YAMNet classes score highest."""
  index = {label: i for i, label in enumerate(labels)}
  mapped = {category: max(scores[index[name]] for name in names)
            for category, names in ESC10_TO_YAMNET.items()}
  return max(mapped, key=mapped.get)


def test_mapping_names_real_classes_once():
  from soundscope.models.networks import yamnet
  labels = set(yamnet.load_class_map(asset("yamnet/yamnet_class_map.csv"))[1])
  names = [name for group in ESC10_TO_YAMNET.values() for name in group]
  assert set(names) <= labels and len(names) == len(set(names))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
  from soundscope.models.store import registry
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  classifier = registry.load_classifier("yamnet", root)
  return classifier.labels, esc10_clip_scores(classifier, ("mean", "max"))


@pytest.mark.parametrize("aggregation", ["mean", "max"])
def test_esc10_accuracy(results, aggregation):
  labels, by_aggregation = results
  outcomes = [predict_category(scores, labels) == category
              for category, scores in by_aggregation[aggregation]]
  accuracy = float(np.mean(outcomes))
  print(f"ESC-10 accuracy with {aggregation} pooling: {accuracy:.4f} ({sum(outcomes)}/400)")
  assert accuracy >= MIN_ACCURACY
