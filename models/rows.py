"""The one serialisation of predictions: the field names of JSON, Parquet and the live API.

Every output that reports what was heard uses these fields (docs/outputs.md):

  source          the input: a file's path, or the live input's name
  model           the classifier's name in the store (e.g. "yamnet")
  model_version   its version string
  start_seconds   window (or clip) start, seconds from the start of the input
  end_seconds     window (or clip) end, seconds from the start of the input
  predictions     the top-k labels, best first: [{"label", "index", "score"}]
  scores          (optional) every class's score, index-aligned with the labels

Outputs add what only they have: Parquet rows an `id`, a `record` number and
`run_time`; `classify --json` a `duration_seconds`, the `aggregation` and its
`windows` (rows of the same fields); live windows a `sequence` and their
absolute bounds `start_utc`/`end_utc` (ISO 8601, UTC).
"""

import numpy as np

from soundscope.models import classifier as classifier_lib


def prediction_dicts(predictions):
  """[classifier.Prediction] -> [{"label", "index", "score"}], best first."""
  return [{"label": str(p.label), "index": int(p.index), "score": float(p.score)}
          for p in predictions]


def model_fields(classifier):
  """{"model", "model_version"} of a classifier.Classifier."""
  return {"model": str(classifier.name), "model_version": str(classifier.version)}


def window_row(start, end, scores, labels, top_k, threshold, with_scores=False):
  """One window's (or clip's) row.

  Args:
    start, end: bounds in seconds from the start of the input.
    scores: float [C] class scores.
    labels: C display names.
    top_k, threshold: the labels reported (k best scoring at least threshold).
    with_scores: also keep every class's score.

  Returns:
    dict with start_seconds, end_seconds, predictions (and scores).
  """
  best = classifier_lib.top_k(scores, labels, top_k, threshold)
  row = {"start_seconds": float(start), "end_seconds": float(end),
         "predictions": prediction_dicts(best)}
  if with_scores:
    row["scores"] = np.asarray(scores, np.float32).tolist()
  return row


def window_rows(windows, labels, top_k, threshold, with_scores=False):
  """window_row of every window of a classifier.WindowScores, in time order."""
  return [window_row(start, end, scores, labels, top_k, threshold, with_scores)
          for start, end, scores in zip(windows.starts, windows.ends, windows.scores)]
