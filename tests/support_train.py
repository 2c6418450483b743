"""Shared helpers of the training tests: slices of the real AudioSet embeddings.

The slices are whole groups of release files (named by the first two characters
of the YouTube id), so they are real records read by the real readers.
"""

import functools

from conftest import asset

TRAIN_SLICE = "audioset/bal_train/a*.tfrecord"        # ~64 files, ~350 records.
VALIDATION_SLICE = "audioset/bal_train/b*.tfrecord"   # Disjoint from TRAIN_SLICE.
EVAL_SLICE = "audioset/eval/c*.tfrecord"

# Tiny versions of every model: seconds per epoch on a CPU.
TINY_MODELS = {
    "FrameLevelLogisticModel": {},
    "DbofModel": {"iterations": 6, "cluster_size": 64, "hidden_size": 32},
    "LstmModel": {"lstm_size": 16},
    "AttentionPoolingModel": {"hidden_units": 32},
    "MultiLevelAttentionModel": {"hidden_units": 32},
    "PooledMlpModel": {"hidden_units": 32},
}


def slice_glob(relative):
  """Absolute glob of a slice (skips when the assets are absent)."""
  folder = asset(relative.rsplit("/", 1)[0])
  return str(folder / relative.rsplit("/", 1)[1])


@functools.lru_cache(maxsize=None)
def _load(pattern):
  from soundscope.models import readers
  return readers.load_records(pattern)


def load_slice(relative):
  """readers.FrameData of a slice, decoded once per test session."""
  return _load(slice_glob(relative))


def class_labels_csv():
  return asset("audioset/class_labels_indices.csv")
