"""One path from audio to scores, taken by `soundscope classify`, `predict` and the live loop.

  score_file(classifier, path, params, ...)   decodes a file in blocks (any rate,
                                              mono mix, kaiser_best), applies the
                                              short-clip policy and scores it as it
                                              is decoded
  score_waveform(classifier, waveform, ...)   the same for 16 kHz samples in memory
                                              (a live window)
  score_embeddings(scores, num_frames, ...)   the same result shape for AudioSet
                                              records already scored by a head

Each returns Scores: the clip's pooled scores, its windows when asked (a window
that runs into the padding past the audio's end ends where the audio ends), its
duration, and the sound levels (RMS and peak dBFS, transforms/levels.py) of
each window and of the whole clip, measured on the 16 kHz samples the model
hears, over the window's real audio (never the padding), and with the windows
the level track of the samples (RMS dBFS of each 20 ms frame:
transforms/levels.frame_levels, which the 'level' event bounds follow:
transforms/level_bounds.py). With min_level_dbfs, a window whose RMS level is
under it is too quiet: its scores are NaN (not classified), it is left out of
the pooled scores, and a clip whose windows are all too quiet has NaN pooled
scores. Because all three callers go through here, batch and live give the same
numbers, window times included, for the same audio. Memory: one decoded block,
one score segment (and its samples, for the levels) and either every window's
scores (per_window) or one [C] vector, whatever the file's length.
"""

import collections

import numpy as np

from soundscope.configs import memory as M
from soundscope.configs import params as P
from soundscope.models import classifier as classifier_lib
from soundscope.transforms import level_bounds
from soundscope.transforms import levels as levels_lib

Scores = collections.namedtuple("Scores", ["clip", "windows", "seconds", "levels", "level",
                                         "frame_levels"], defaults=(None, None, None))
Scores.__doc__ = """What a clip scored.

  clip: float32 [C], the windows pooled by the aggregation asked for (NaN when
    every window was too quiet).
  windows: classifier.WindowScores of every analysis window (starts, ends
    float64 [w] seconds from the clip's start, scores float32 [w, C]; NaN rows
    for windows too quiet to classify), or None when windows were not asked for.
  seconds: the clip's duration, 16 kHz samples / 16000 before any short-clip
    padding (embeddings: frames x 0.96 s).
  levels: Levels of each window (aligned with windows), or None without windows
    or audio (embeddings).
  level: Levels of the whole clip (arrays of one value), or None without audio.
  frame_levels: float64 [n // 320] RMS dBFS of each whole 20 ms frame of the
    16 kHz samples from the clip's start (configs.events.LEVEL_FRAME_SECONDS), or
    None without windows or audio.
"""
Levels = collections.namedtuple("Levels", ["rms_dbfs", "peak_dbfs"])
Levels.__doc__ = """Sound levels, float64 [w] dBFS each (transforms/levels.py; floor for
silence): RMS and peak of the 16 kHz samples of each window's real audio."""


class _Tap:
  """Passes 16 kHz blocks through, counting their samples and keeping those that
  windows still to be measured need (levels_of drops the rest)."""

  def __init__(self, frames=False):
    self.samples = 0
    self._held, self._first = [], 0   # Blocks kept, and the sample index of their first.
    self._square_sum, self._peak = 0.0, 0.0
    # The level track, when windows are asked for.
    self.track = level_bounds.LevelTrack() if frames else None

  def passing(self, blocks):
    for block in blocks:
      block = np.asarray(block, np.float32)
      self.samples += len(block)
      self._held.append(block)
      if self.track is not None:
        self.track.add(block)
      if len(block):
        wide = block.astype(np.float64)
        self._square_sum += levels_lib.square_sum(wide)
        self._peak = max(self._peak, levels_lib.peak(block))
      yield block

  def levels_of(self, starts, ends):
    """Levels of windows [start, end) seconds already passed (the samples past the
    audio's end are not there: a cut window is measured on its real audio); the
    samples before the last window's start are let go."""
    held = np.concatenate(self._held) if self._held else np.zeros(0, np.float32)
    levels = Levels(*levels_lib.of_windows(held, starts, ends, P.SAMPLE_RATE_HZ, self._first))
    first = np.rint(np.asarray(starts, np.float64) * P.SAMPLE_RATE_HZ).astype(np.int64)
    keep = int(first.max()) - self._first if first.size else 0
    if keep > 0:
      self._held, self._first = [held[keep:]], self._first + keep
    return levels

  def clip_level(self):
    """Levels of every sample passed (one value each)."""
    rms = np.sqrt(self._square_sum / self.samples) if self.samples else 0.0
    return Levels(np.array([levels_lib.dbfs(rms)]), np.array([levels_lib.dbfs(self._peak)]))


def score_blocks(classifier, blocks, per_window=False, aggregation=None,
                 score_block_seconds=P.SCORE_BLOCK_SECONDS, min_level_dbfs=None):
  """Scores a clip that arrives as consecutive float [m] 16 kHz blocks.

  Args:
    classifier: a classifier.Classifier.
    blocks: iterable of float [m] arrays in [-1, 1], the clip cut anywhere.
    per_window: also return every window's scores.
    aggregation: 'mean' or 'max' (None: the classifier's default).
    score_block_seconds: audio scored per classifier call, seconds.
    min_level_dbfs: windows whose RMS level is under this (dBFS) are too quiet
      (NaN scores, not pooled); None: every window is classified.

  Returns:
    Scores; the pooled scores equal classifier.aggregate over all (loud enough)
    windows exactly.
  """
  tap = _Tap(frames=per_window)
  return _ending_with_the_audio(_scored(classifier, tap.passing(blocks), tap, per_window,
                                        aggregation, score_block_seconds, min_level_dbfs))


def _scored(classifier, blocks, tap, per_window, aggregation, score_block_seconds,
            min_level_dbfs):
  """score_blocks before the windows are cut at the audio's end; `tap` has seen the
  clip's real samples (upstream of any padding in `blocks`)."""
  aggregation = aggregation or classifier.default_aggregation
  # float32, as the classifiers were always given audio.
  parts = classifier.stream_window_scores(
      (np.asarray(block, np.float32) for block in blocks), score_block_seconds)
  pooled = classifier_lib.RunningAggregate(aggregation)
  kept, measured, classes = [], [], 0
  for part in parts:
    levels = tap.levels_of(part.starts, part.ends)
    scores = np.asarray(part.scores, np.float32)
    classes = scores.shape[-1]
    if min_level_dbfs is not None:
      quiet = levels.rms_dbfs < min_level_dbfs
      scores = np.where(quiet[:, np.newaxis], np.float32(np.nan), scores)
      pooled.add(scores[~quiet])
    else:
      pooled.add(scores)
    if per_window:
      kept.append(part._replace(scores=scores))
      measured.append(levels)
  windows = levels = None
  if per_window:
    windows = classifier_lib.WindowScores(
        np.concatenate([np.asarray(p.starts, np.float64) for p in kept]),
        np.concatenate([np.asarray(p.ends, np.float64) for p in kept]),
        np.concatenate([p.scores for p in kept]))
    levels = Levels(*(np.concatenate(column) for column in zip(*measured)))
  clip = pooled.result() if pooled.count else np.full(classes, np.nan, np.float32)
  frame_levels = tap.track.levels if tap.track is not None else None
  return Scores(clip, windows, tap.samples / float(P.SAMPLE_RATE_HZ), levels, tap.clip_level(),
                frame_levels)


def _ending_with_the_audio(scores):
  """Scores whose windows end no later than the audio (seconds): a window that runs
  into the zero padding past the end (YAMNet's last 0.975 s window, a short
  clip padded to one example) ends where the audio ends."""
  if scores.windows is None:
    return scores
  starts, ends, values = scores.windows
  ends = np.minimum(np.asarray(ends, np.float64), np.maximum(scores.seconds, starts))
  return scores._replace(windows=classifier_lib.WindowScores(starts, ends, values))


def keep_freed_memory():
  """Call once in a process that scores file after file (a pipeline worker, `classify`):
  freed heap memory is kept for the next file rather than faulted in again
  (soundscope/util/heap.py, configs/memory.py).  Returns heap.keep_freed_memory's."""
  from soundscope.util import heap
  return heap.keep_freed_memory(M.HEAP_MMAP_THRESHOLD_BYTES, M.HEAP_TRIM_THRESHOLD_BYTES)


def score_file(classifier, path, params=P.VggishParams(), per_window=False, aggregation=None,
               score_block_seconds=P.SCORE_BLOCK_SECONDS, min_level_dbfs=None):
  """Decodes an audio file block by block and scores it (see score_blocks).

  Args:
    path: an audio file soundfile reads (wav, flac, ogg, ...).
    params: VggishParams: resample_filter, read_block_seconds, short_clip_policy.
    Others: as score_blocks.

  Returns:
    Scores; seconds counts the decoded samples, before short-clip padding, and
    the levels are those of the decoded samples.

  Raises:
    transforms.errors.AudioInputError: the file cannot be read, has no samples
      (EmptyFileError), or is too short under the 'error' policy.
  """
  from soundscope.transforms import audio, errors, vggish_input
  tap = _Tap(frames=per_window)
  decoded = _not_empty(tap.passing(audio.stream_mono(path, params)), tap, path, errors)
  blocks = vggish_input.pad_short_stream(decoded, path, params)
  # The windows end with the decoded audio, not with its short-clip padding.
  return _ending_with_the_audio(_scored(classifier, blocks, tap, per_window, aggregation,
                                        score_block_seconds, min_level_dbfs))


def _not_empty(blocks, count, path, errors):
  """Passes blocks through; EmptyFileError when the file held no samples at all."""
  yield from blocks
  if count.samples == 0:
    raise errors.EmptyFileError(path, "has no audio samples (0 frames)")


def score_waveform(classifier, waveform_16k, per_window=False, aggregation=None,
                   min_level_dbfs=None):
  """Scores float [n] 16 kHz samples held in memory, e.g. one live window (see score_blocks)."""
  return score_blocks(classifier, [waveform_16k], per_window, aggregation,
                      min_level_dbfs=min_level_dbfs)


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


def clip_levels(scores):
  """The Levels of clip_windows(scores)' windows (the windows', or the clip's), or None."""
  return scores.levels if scores.windows is not None else scores.level


def without_windows(scores):
  """Scores without their windows (and their levels): what a per-clip output reports."""
  return scores._replace(windows=None, levels=None, frame_levels=None)
