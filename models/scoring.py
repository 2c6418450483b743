"""One path from audio to scores, taken by `soundscope classify`, `predict` and the live loop.

  score_file(classifier, path, params, ...)   decodes a file in blocks (any rate,
                                              mono mix, kaiser_best), applies the
                                              short-clip policy and scores it as it
                                              is decoded
  score_waveform(classifier, waveform, ...)   the same for 16 kHz samples in memory
                                              (a live window)
  score_embeddings(scores, num_frames, ...)   the same result shape for AudioSet
                                              records already scored by a head

Each returns Scores: the clip's pooled scores, its windows when asked (a
window that runs into the padding past the audio's end ends where the audio
ends), and its duration.  Because all three callers go through here, batch and live give the
same numbers, window times included, for the same audio.  Memory: one decoded
block, one score segment and either every window's scores (per_window) or one
[C] vector, whatever the file's length.
"""

import collections

import numpy as np

from soundscope.configs import params as P
from soundscope.models import classifier as classifier_lib

Scores = collections.namedtuple("Scores", ["clip", "windows", "seconds"])
Scores.__doc__ = """What a clip scored.

  clip: float32 [C], the windows pooled by the aggregation asked for.
  windows: classifier.WindowScores of every analysis window (starts, ends
    float64 [w] seconds from the clip's start, scores float32 [w, C]), or None
    when windows were not asked for.
  seconds: the clip's duration, 16 kHz samples / 16000 before any short-clip
    padding (embeddings: frames x 0.96 s).
"""


class _SampleCount:
  """Passes blocks through, counting their samples."""

  def __init__(self):
    self.samples = 0

  def passing(self, blocks):
    for block in blocks:
      self.samples += len(block)
      yield block


def score_blocks(classifier, blocks, per_window=False, aggregation=None,
                 score_block_seconds=P.SCORE_BLOCK_SECONDS):
  """Scores a clip that arrives as consecutive float [m] 16 kHz blocks.

  Args:
    classifier: a classifier.Classifier.
    blocks: iterable of float [m] arrays in [-1, 1], the clip cut anywhere.
    per_window: also return every window's scores.
    aggregation: 'mean' or 'max' (None: the classifier's default).
    score_block_seconds: audio scored per classifier call, seconds.

  Returns:
    Scores; the pooled scores equal classifier.aggregate over all windows exactly.
  """
  return _ending_with_the_audio(
      _scored(classifier, blocks, per_window, aggregation, score_block_seconds))


def _scored(classifier, blocks, per_window, aggregation, score_block_seconds):
  """score_blocks before the windows are cut at the audio's end (seconds: every sample given)."""
  aggregation = aggregation or classifier.default_aggregation
  count = _SampleCount()
  # float32, as the classifiers were always given audio.
  parts = classifier.stream_window_scores(
      (np.asarray(block, np.float32) for block in count.passing(blocks)), score_block_seconds)
  pooled = classifier_lib.RunningAggregate(aggregation)
  kept = []
  for part in parts:
    pooled.add(part.scores)
    if per_window:
      kept.append(part)
  windows = None
  if per_window:
    windows = classifier_lib.WindowScores(
        np.concatenate([np.asarray(p.starts, np.float64) for p in kept]),
        np.concatenate([np.asarray(p.ends, np.float64) for p in kept]),
        np.concatenate([np.asarray(p.scores, np.float32) for p in kept]))
  return Scores(pooled.result(), windows, count.samples / float(P.SAMPLE_RATE_HZ))


def _ending_with_the_audio(scores):
  """Scores whose windows end no later than the audio (seconds): a window that runs
  into the zero padding past the end (YAMNet's last 0.975 s window, a short
  clip padded to one example) ends where the audio ends."""
  if scores.windows is None:
    return scores
  starts, ends, values = scores.windows
  ends = np.minimum(np.asarray(ends, np.float64), np.maximum(scores.seconds, starts))
  return scores._replace(windows=classifier_lib.WindowScores(starts, ends, values))


def score_file(classifier, path, params=P.VggishParams(), per_window=False, aggregation=None,
               score_block_seconds=P.SCORE_BLOCK_SECONDS):
  """Decodes an audio file block by block and scores it (see score_blocks).

  Args:
    path: an audio file soundfile reads (wav, flac, ogg, ...).
    params: VggishParams: resample_filter, read_block_seconds, short_clip_policy.
    Others: as score_blocks.

  Returns:
    Scores; seconds counts the decoded samples, before short-clip padding.

  Raises:
    transforms.errors.AudioInputError: the file cannot be read, has no samples
      (EmptyFileError), or is too short under the 'error' policy.
  """
  from soundscope.transforms import audio, errors, vggish_input
  count = _SampleCount()
  decoded = _not_empty(count.passing(audio.stream_mono(path, params)), count, path, errors)
  blocks = vggish_input.pad_short_stream(decoded, path, params)
  scores = _scored(classifier, blocks, per_window, aggregation, score_block_seconds)
  # The windows end with the decoded audio, not with its short-clip padding.
  return _ending_with_the_audio(scores._replace(seconds=count.samples / float(P.SAMPLE_RATE_HZ)))


def _not_empty(blocks, count, path, errors):
  """Passes blocks through; EmptyFileError when the file held no samples at all."""
  yield from blocks
  if count.samples == 0:
    raise errors.EmptyFileError(path, "has no audio samples (0 frames)")


def score_waveform(classifier, waveform_16k, per_window=False, aggregation=None):
  """Scores float [n] 16 kHz samples held in memory, e.g. one live window (see score_blocks)."""
  return score_blocks(classifier, [waveform_16k], per_window, aggregation)


def score_embeddings(scores, num_frames, per_window):
  """Scores of an AudioSet record from a head's embedding_batch_scores result.

  Args:
    scores: float32 [num_frames, C] (per_window: each 0.96 s frame alone) or
      [C] (the whole record).
    num_frames: the record's frames.
    per_window: which of the two `scores` is.

  Returns:
    Scores.  Per window, the clip scores are the frames' mean; otherwise there
    is one window spanning the record.
  """
  scores = np.asarray(scores, np.float32)
  seconds = num_frames * P.EXAMPLE_HOP_SECONDS
  if per_window:
    starts = np.arange(num_frames) * P.EXAMPLE_HOP_SECONDS
    windows = classifier_lib.WindowScores(starts, starts + P.EXAMPLE_HOP_SECONDS, scores)
    return Scores(classifier_lib.aggregate(scores, "mean"), windows, seconds)
  return Scores(scores, None, seconds)


def clip_windows(scores):
  """The rows a per-file output writes: one window spanning the clip, or every window.

  Returns:
    classifier.WindowScores: scores.windows when present, else one window
    [0, seconds) holding the pooled scores.
  """
  if scores.windows is not None:
    return scores.windows
  return classifier_lib.WindowScores(np.array([0.0]), np.array([scores.seconds]),
                                     scores.clip[np.newaxis])
