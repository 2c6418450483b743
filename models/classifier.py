"""The interface every classifier exposes, and the article's output format.

A Classifier turns 16 kHz mono audio (or precomputed embeddings) into scores
for its labels.  YAMNet (models/yamnet.py) and VGGish + a trained head
(models/heads) both implement it, and the batch pipelines, `soundscope
classify` and the live runtime all go through it, which is what makes batch
and live give the same scores for the same audio.
"""

import collections

import numpy as np

Prediction = collections.namedtuple("Prediction", ["label", "index", "score"])

WindowScores = collections.namedtuple("WindowScores", ["starts", "ends", "scores"])
WindowScores.__doc__ = """Per-window scores of one clip.

  starts, ends: float64 [w] window bounds in seconds from the clip start.
  scores: float32 [w, num_classes].
"""

AGGREGATIONS = ("mean", "max")
DEFAULT_TOP_K = 3          # Labels reported per clip or window, as in the article's output.
DEFAULT_THRESHOLD = 0.0    # Minimum score of a reported label.


class Classifier:
  """Base class.  Subclasses set `name`, `version`, `labels` and implement window_scores.

  Attributes:
    name: model name in the store (e.g. "yamnet").
    version: model version string.
    labels: list of display names, index-aligned with the scores.
    default_aggregation: "mean" or "max", how clip_scores pools windows by default.
  """
  name = "classifier"
  version = "0"
  labels = ()
  default_aggregation = "mean"

  def window_scores(self, waveform_16k):
    """Scores every analysis window of a clip.

    Args:
      waveform_16k: float [n] mono samples at 16 kHz in [-1, 1].

    Returns:
      WindowScores.
    """
    raise NotImplementedError

  def embedding_scores(self, quantized_frames):
    """Clip scores from AudioSet-format embeddings (heads on VGGish only).

    Args:
      quantized_frames: uint8 [frames, 128], one row per 0.96 s frame, as in
        the release records.

    Returns:
      float32 [num_classes].
    """
    raise NotImplementedError(f"model {self.name!r} does not read AudioSet embeddings")

  def clip_scores(self, waveform_16k, aggregation=None):
    """float32 [num_classes] scores of a whole clip, pooling windows by mean or max."""
    return aggregate(self.window_scores(waveform_16k).scores,
                     aggregation or self.default_aggregation)


def aggregate(window_scores, aggregation):
  """Pools [w, C] window scores into [C] clip scores ('mean' or 'max')."""
  if aggregation not in AGGREGATIONS:
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {aggregation!r}")
  scores = np.asarray(window_scores, np.float32)
  if len(scores) == 0:
    raise ValueError("no windows to aggregate")
  return scores.mean(axis=0) if aggregation == "mean" else scores.max(axis=0)


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


def add_arguments(parser, aggregation=True):
  """The options that choose a classifier and what of its scores to report.

  Shared by `soundscope classify`, `capture`/`serve` and `predict`, so the three
  read the same flags with the same defaults.

  Args:
    parser: an argparse parser or argument group.
    aggregation: also add --aggregation (for commands that pool windows into clips).
  """
  parser.add_argument("--model", default=None,
                      help="model in the store: 'yamnet' or a trained head's name "
                           "(default: yamnet when present, else a trained VGGish head)")
  parser.add_argument("--model-dir", default=None,
                      help="model store (default: $SOUNDSCOPE_MODEL_DIR or "
                           "~/.cache/soundscope/models)")
  parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K,
                      help="labels reported per clip or window (default %(default)s)")
  parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                      help="only labels scoring at least this (default %(default)s)")
  if aggregation:
    parser.add_argument("--aggregation", choices=AGGREGATIONS, default=None,
                        help="how window scores pool into clip scores "
                             "(default: the model's; YAMNet: mean, see docs/models.md)")
  return parser
