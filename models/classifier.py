"""The interface every classifier exposes, and the article's output format.

A Classifier turns 16 kHz mono audio (or precomputed embeddings) into scores
for its labels.  YAMNet (models/networks/yamnet.py) and VGGish + a trained head
(models/networks/heads.py) both implement it, and the batch pipelines, `soundscope
classify` and the live runtime all go through it, which is what makes batch
and live give the same scores for the same audio.
"""

import collections

import numpy as np

from soundscope.configs import params as P

Prediction = collections.namedtuple("Prediction", ["label", "index", "score"])

WindowScores = collections.namedtuple("WindowScores", ["starts", "ends", "scores"])
WindowScores.__doc__ = """Per-window scores of one clip.

  starts, ends: float64 [w] window bounds in seconds from the clip start.
  scores: float32 [w, num_classes].
"""

Framing = collections.namedtuple("Framing", ["hop_samples", "span_samples"])
Framing.__doc__ = """Where a classifier's windows sit on a 16 kHz clip (16 kHz samples).

  hop_samples: window i starts at sample i * hop_samples.
  span_samples: window i's scores depend only on samples
    [i * hop_samples, i * hop_samples + span_samples) (and on zero padding past
    the clip's end).
  Declaring a framing promises, for any cut at a multiple c of hop_samples:
  window_scores(clip[:c + span - hop]) gives exactly the windows that start
  before c, and window_scores(clip[c:]), when it holds at least span samples,
  gives exactly those that start at or after c.  stream_window_scores relies
  on this to score long audio piece by piece.
"""

AGGREGATIONS = P.AGGREGATIONS


class Classifier:
  """Base class.  Subclasses set `name`, `version`, `labels` and implement window_scores.

  Attributes:
    name: model name in the store (e.g. "yamnet").
    version: model version string.
    labels: list of display names, index-aligned with the scores.
    default_aggregation: "mean" or "max", how clip_scores pools windows by default.
    framing: Framing of the windows, or None when the classifier needs whole
      clips (stream_window_scores then gathers the clip).
  """
  name = "classifier"
  version = "0"
  labels = ()
  default_aggregation = "mean"
  framing = None

  def window_scores(self, waveform_16k):
    """Scores every analysis window of a clip.

    Args:
      waveform_16k: float [n] mono samples at 16 kHz in [-1, 1].

    Returns:
      WindowScores.
    """
    raise NotImplementedError

  def stream_window_scores(self, blocks, segment_seconds=P.SCORE_BLOCK_SECONDS):
    """Scores a clip that arrives in pieces, holding about one segment at a time.

    With a framing, the clip is scored in segments of whole hops (about
    segment_seconds each), each extended by the span - hop samples its last
    window needs; a segment is scored only once the samples after it can hold
    a whole window, so the last one is never shorter than a window (or is the
    whole clip).  Memory: one segment, one window and one block of samples.

    Args:
      blocks: iterable of float [m] arrays, consecutive pieces of one 16 kHz
        mono clip in [-1, 1] (what window_scores would get, cut anywhere).
      segment_seconds: audio scored per window_scores call, seconds (rounded
        down to whole hops, at least one).

    Yields:
      WindowScores of consecutive runs of windows, times in seconds from the
      clip's start.  Together they are the windows of window_scores(whole clip):
      the same scores, times equal up to float rounding of the offsets (< 1e-9 s).
    """
    if self.framing is None:
      yield self.window_scores(_concatenate(blocks))
      return
    hop, span = self.framing
    segment = max(1, int(segment_seconds * P.SAMPLE_RATE_HZ) // hop) * hop
    pending, held, offset = [], 0, 0
    for block in blocks:
      pending.append(np.asarray(block))
      held += len(block)
      if held < segment + span:
        continue
      buffer = np.concatenate(pending)
      # Score a segment only when what follows it still holds one whole window.
      while len(buffer) >= segment + span:
        yield _shifted(self.window_scores(buffer[:segment + span - hop]), offset)
        buffer = buffer[segment:]
        offset += segment
      pending, held = [buffer], len(buffer)
    yield _shifted(self.window_scores(_concatenate(pending)), offset)

  def embedding_scores(self, quantized_frames):
    """Clip scores from AudioSet-format embeddings (heads on VGGish only).

    Args:
      quantized_frames: uint8 [frames, 128], one row per 0.96 s frame, as in
        the release records.

    Returns:
      float32 [num_classes].
    """
    raise NotImplementedError(f"model {self.name!r} does not read AudioSet embeddings")

  def embedding_batch_scores(self, records, per_frame=False):
    """Scores many AudioSet-format records; subclasses may batch the model calls.

    Args:
      records: list of uint8 [frames, 128] arrays (release-format embeddings).
      per_frame: score each 0.96 s frame alone instead of each whole record.

    Returns:
      list, one item per record: float32 [frames, C] (per_frame) or [C]
      scores, or the exception that stopped that record (the others go on).
    """
    results = []
    for quantized in records:
      try:
        quantized = np.asarray(quantized, np.uint8)
        if per_frame:
          if len(quantized) == 0:
            raise ValueError("no embedding frames to score")
          scores = np.stack([self.embedding_scores(quantized[i:i + 1])
                             for i in range(len(quantized))])
        else:
          scores = self.embedding_scores(quantized)
        results.append(np.asarray(scores, np.float32))
      except Exception as exc:  # pylint: disable=broad-except
        results.append(exc)
    return results

  def clip_scores(self, waveform_16k, aggregation=None):
    """float32 [num_classes] scores of a whole clip, pooling windows by mean or max."""
    return aggregate(self.window_scores(waveform_16k).scores,
                     aggregation or self.default_aggregation)


def _concatenate(blocks):
  """One array of all the blocks (empty float32 [0] when there are none)."""
  blocks = [np.asarray(block) for block in blocks]
  return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _shifted(windows, offset_samples):
  """WindowScores moved later by offset_samples 16 kHz samples."""
  if offset_samples == 0:
    return windows
  shift = offset_samples / P.SAMPLE_RATE_HZ
  return WindowScores(np.asarray(windows.starts, np.float64) + shift,
                      np.asarray(windows.ends, np.float64) + shift, windows.scores)


def aggregate(window_scores, aggregation):
  """Pools [w, C] window scores into [C] clip scores ('mean' or 'max')."""
  if aggregation not in AGGREGATIONS:
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {aggregation!r}")
  scores = np.asarray(window_scores, np.float32)
  if len(scores) == 0:
    raise ValueError("no windows to aggregate")
  return scores.mean(axis=0) if aggregation == "mean" else scores.max(axis=0)


class RunningAggregate:
  """Pools window scores as they arrive: aggregate() without holding every window.

  Keeps one float32 [C] vector.  'mean' adds the windows one by one in float32
  and divides by their count at the end, which is how numpy's mean over axis 0
  of a float32 [w, C] array computes, so result() equals aggregate() of all
  the windows exactly (tests/test_pipelines_predict.py checks it); 'max' keeps
  the running maximum.

  Args:
    aggregation: 'mean' or 'max'.
  """

  def __init__(self, aggregation):
    if aggregation not in AGGREGATIONS:
      raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {aggregation!r}")
    self.aggregation = aggregation
    self.count = 0
    self._pooled = None

  def add(self, window_scores):
    """Adds float [w, C] window scores, in clip order."""
    for row in np.asarray(window_scores, np.float32):
      if self._pooled is None:
        self._pooled = row.copy()
      elif self.aggregation == "mean":
        self._pooled += row
      else:
        np.maximum(self._pooled, row, out=self._pooled)
      self.count += 1

  def result(self):
    """float32 [C] pooled scores of every window added."""
    if self.count == 0:
      raise ValueError("no windows to aggregate")
    if self.aggregation == "max":
      return self._pooled.copy()
    # numpy's mean divides the float32 sum by an intp count (a float64 division).
    return np.true_divide(self._pooled, np.intp(self.count), out=np.empty_like(self._pooled),
                          casting="unsafe")


def top_k(scores, labels, k=3, threshold=0.0):
  """The k best labels with score >= threshold, best first.

  Args:
    scores: float [C].
    labels: C display names.
    k: how many at most.
    threshold: minimum score kept.

  Returns:
    list of Prediction(label, index, score).
  """
  scores = np.asarray(scores)
  order = np.argsort(-scores, kind="stable")[:max(0, int(k))]
  return [Prediction(labels[i], int(i), float(scores[i])) for i in order
          if scores[i] >= threshold]


def format_predictions(predictions):
  """The article's line: 'Speech: 0.75, Music: 0.12, Inside, large room or hall: 0.03'."""
  return ", ".join(f"{p.label}: {p.score:.2f}" for p in predictions)
