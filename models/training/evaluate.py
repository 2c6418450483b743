"""Evaluation of a trained head on release-format records.

`evaluate(model, data)` scores every record and computes models/metrics'
summary; `write_reports` writes the JSON summary and the per-class CSV
(index, name, AP, AUC, positives).
"""

import csv
import json
import os
import time

import numpy as np

from soundscope.configs import model_specs as S
from soundscope.models.training import metrics as metrics_lib
from soundscope.util import json_values
from soundscope.models import readers

PER_CLASS_FIELDS = ("index", "name", "AP", "AUC", "positives")


class NonFiniteScoresError(ValueError):
  """A head gave NaN or infinite scores (a diverged training): no metric is computed."""


def resolve_head_dir(model, model_dir=None):
  """Directory of a head given by store name or directory path.

  Args:
    model: a directory holding model.json (or a train dir holding model.keras),
      or the name of a head in the model store.
    model_dir: store root (None: the store's default).

  Returns:
    pathlib-compatible path string.
  """
  if os.path.isdir(model):
    return model
  try:
    from soundscope.models.store import files as store
  except ImportError:
    raise FileNotFoundError(f"{model}: no such head directory (and no model store)") from None
  model_store = store.ModelStore(model_dir)
  path = model_store.path(model)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"model {model!r} is neither a directory nor in the model store "
                            f"{model_store.root}")
  model_store.check_digests(model)   # A file changed in place: one line, as classify gives.
  return str(path)


def load_keras_model(model_path):
  """Keras head of a head directory (head.keras), a train dir (model.keras) or a .keras file."""
  import keras
  from soundscope.models.networks import ensemble_layers  # noqa: F401  (registers every custom layer)
  from soundscope.models.networks import heads
  candidates = [model_path] if str(model_path).endswith(".keras") else [
      os.path.join(model_path, heads.HEAD_FILE), os.path.join(model_path, S.TRAINED_MODEL_FILE)]
  for candidate in candidates:
    if os.path.isfile(candidate):
      try:
        return keras.models.load_model(candidate, compile=False)
      except Exception as exc:   # Keras raises many kinds for a broken archive.
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{candidate}: cannot be loaded as a Keras model "
                         f"({first_line})") from None
  raise FileNotFoundError(f"{model_path}: holds neither {heads.HEAD_FILE} nor "
                          f"{S.TRAINED_MODEL_FILE}")


def score(model, data, batch_size=256):
  """float32 [n, C] scores of a Keras head on FrameData."""
  inputs = readers.dequantized_inputs(data)
  outputs = [np.asarray(model({key: value[i:i + batch_size] for key, value in inputs.items()},
                              training=False), np.float32)
             for i in range(0, len(data.frames), batch_size)]
  return np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]),
                                                          np.float32)


def evaluate(model, data):
  """Scores FrameData with a Keras head and computes every metric.

  Returns:
    (summary dict, per-class AP [C], per-class AUC [C], positives [C]); the
    summary also holds scoring seconds, and the files the figures leave out
    because they could not be read (unreadable_files, when there are any).

  Raises:
    NonFiniteScoresError: a score is NaN or infinite.
  """
  started = time.monotonic()
  scores = score(model, data)
  scoring_seconds = time.monotonic() - started
  broken = int(np.count_nonzero(~np.isfinite(scores).all(axis=1)))
  if broken:
    raise NonFiniteScoresError(f"the model gives NaN or infinite scores for {broken} of "
                               f"{len(scores)} records (did its training diverge?)")
  summary, aps, aucs, positives = metrics_lib.summary(scores, data.labels)
  summary["scoring_seconds"] = scoring_seconds
  if data.unreadable:
    summary["unreadable_files"] = readers.unreadable_report(data)
  return summary, aps, aucs, positives


def write_reports(summary, aps, aucs, positives, class_names, json_path=None, csv_path=None):
  """Writes the JSON summary and the per-class CSV (NaN written as empty cells / null)."""
  if json_path:
    with open(json_path, "w") as out:
      json.dump(json_values.jsonable(summary), out, indent=2, sort_keys=True)
  if csv_path:
    with open(csv_path, "w", newline="") as out:
      writer = csv.writer(out)
      writer.writerow(PER_CLASS_FIELDS)
      for index, name in enumerate(class_names):
        writer.writerow([index, name,
                         "" if np.isnan(aps[index]) else f"{aps[index]:.6f}",
                         "" if np.isnan(aucs[index]) else f"{aucs[index]:.6f}",
                         int(positives[index])])
