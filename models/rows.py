"""The one serialisation of predictions: the field names of JSON, Parquet and the live API.

Every output that reports what was heard uses these fields (docs/outputs.md):

  source          the input: a file's path, or the live input's name
  model           the classifier's name in the store (e.g. "yamnet")
  model_version   its version string
  start_seconds   window (or clip) start, seconds from the start of the input
  end_seconds     window (or clip) end, seconds from the start of the input
  predictions     the top-k labels, best first: [{"label", "index", "score"}];
                  None for a window too quiet to classify (under --min-level)
  scores          (optional) every class's score, index-aligned with the labels
                  (None when too quiet)
  rms_dbfs        the window's RMS level, dBFS (models/scoring.py; audio only)
  peak_dbfs       its peak level, dBFS
  start_utc       (when the input's start time is known) window start, an aware
  end_utc         UTC datetime (JSON: transforms/timestamps.iso_utc), and its end

Outputs add what only they have: Parquet rows an `id`, a `record` number and
`run_time`; `classify --json` a `duration_seconds`, the `aggregation` and its
`windows` (rows of the same fields); live windows a `sequence` and their
absolute bounds `start_utc`/`end_utc` (ISO 8601, UTC).
"""

import datetime

import numpy as np

from soundscope.models import classifier as classifier_lib


def prediction_dicts(predictions):
  """[classifier.Prediction] -> [{"label", "index", "score"}], best first."""
  return [{"label": str(p.label), "index": int(p.index), "score": float(p.score)}
          for p in predictions]


def model_fields(classifier):
  """{"model", "model_version"} of a classifier.Classifier."""
  return {"model": str(classifier.name), "model_version": str(classifier.version)}


def window_row(start, end, scores, labels, top_k, threshold, with_scores=False, level=None,
               start_utc=None):
  """One window's (or clip's) row.

  Args:
    start, end: bounds in seconds from the start of the input.
    scores: float [C] class scores (all NaN: a window too quiet to classify).
    labels: C display names.
    top_k, threshold: the labels reported (k best scoring at least threshold).
    with_scores: also keep every class's score.
    level: (rms_dbfs, peak_dbfs) of the window, or None (no audio: no level fields).
    start_utc: aware datetime of the input's start, or None (no UTC fields).

  Returns:
    dict with start_seconds, end_seconds, predictions (and scores, rms_dbfs,
    peak_dbfs, start_utc, end_utc).
  """
  scores = np.asarray(scores, np.float32)
  quiet = too_quiet(scores)
  row = {"start_seconds": float(start), "end_seconds": float(end), "predictions": None}
  if not quiet:
    row["predictions"] = prediction_dicts(classifier_lib.top_k(scores, labels, top_k, threshold))
  if with_scores:
    row["scores"] = None if quiet else scores.tolist()
  if level is not None:
    row["rms_dbfs"], row["peak_dbfs"] = float(level[0]), float(level[1])
  if start_utc is not None:
    row["start_utc"] = utc_at(start_utc, start)
    row["end_utc"] = utc_at(start_utc, end)
  return row


def too_quiet(scores):
  """Whether float [C] scores are those of a window not classified (all NaN: under the
  minimum level, models/scoring.py)."""
  scores = np.asarray(scores)
  return bool(scores.size) and bool(np.isnan(scores).all())


def window_rows(windows, labels, top_k, threshold, with_scores=False, levels=None,
                start_utc=None):
  """window_row of every window of a classifier.WindowScores, in time order.

  levels: scoring.Levels aligned with the windows, or None.
  """
  levels = zip(*levels) if levels is not None else [None] * len(windows.starts)
  return [window_row(start, end, scores, labels, top_k, threshold, with_scores, level,
                     start_utc)
          for start, end, scores, level in zip(windows.starts, windows.ends, windows.scores,
                                               levels)]


def utc_at(start_utc, seconds):
  """The aware UTC datetime `seconds` after start_utc, to the microsecond."""
  return (start_utc + datetime.timedelta(seconds=float(seconds))).astimezone(datetime.timezone.utc)

