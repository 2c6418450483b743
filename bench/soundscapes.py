"""Synthetic soundscapes from real ESC-10 clips, with their ground-truth events.

A soundscape is a 16 kHz mono float32 waveform of `minutes` minutes: a
background (pink noise at BACKGROUND_NOISE_DBFS RMS, or digital silence) with
ESC-10 clips of one fold laid one after another at random gaps, each clip
scaled so that its peak sits at a level drawn from `levels` (dBFS).  Each
placed clip is one ground-truth event (category, start, end), seconds from the
soundscape's start, spanning the ACTIVE part of the clip from its own energy
envelope (not from the mix): from the first to the last 20 ms frame whose RMS
is within ACTIVE_BELOW_MAX_DB of the clip's loudest frame (ESC-10 clips are 5 s,
some with silence before or after the sound).

  make_soundscape(seed, minutes, fold, ...)  (waveform, 16000, [(label, start, end)])
  background(seed, seconds, kind)            float32 [n]: the background alone
  detect_events(classifier, resolved, waveform, rules[, scores])
                                             the events `soundscope classify --labels ...
                                             --events` finds (scoring, label set,
                                             models/file_events.py)
  evaluate(pairs, labels)                    sed_eval's event- and segment-based scores

Used by tests/test_events_soundscape.py, bench/bench_sed.py,
bench/experiments/events_tuning.py and the live-vs-batch replay test.
"""

import csv
import functools

import numpy as np

from bench import common
from soundscope.configs import params as P

RATE = P.SAMPLE_RATE_HZ                # Hz.
LEVELS_DBFS = (-10.0, -20.0, -30.0)    # A placed clip's peak, dBFS.
BACKGROUND_NOISE_DBFS = -50.0          # Pink noise background, RMS dBFS.
NOISE = "noise"
SILENCE = "silence"
BACKGROUNDS = (NOISE, SILENCE)
GAP_SECONDS = (2.0, 10.0)              # Pause between placed clips, uniform in this range, s.
FRAME_SECONDS = 0.02                   # Energy-envelope frame, s.
ACTIVE_BELOW_MAX_DB = 20.0             # A frame is active within this of the clip's loudest.
T_COLLAR_SECONDS = 1.0                 # sed_eval event-based onset (and offset) collar, s.
OFFSET_LENGTH_FRACTION = 0.5           # ... or this fraction of the event's length.
SEGMENT_SECONDS = 1.0                  # sed_eval segment-based resolution, s.


def esc10_dir():
  return common.require_asset("audio/esc10")


@functools.lru_cache(maxsize=None)
def fold_clips(fold):
  """[(category, file name)] of one ESC-10 fold (1..5), in esc10.csv order."""
  with open(esc10_dir() / "esc10.csv", newline="") as stream:
    return tuple((row["category"], row["filename"]) for row in csv.DictReader(stream)
                 if int(row["fold"]) == int(fold))


@functools.lru_cache(maxsize=None)
def clip_audio(file_name):
  """float32 [n] 16 kHz mono samples of an ESC-10 clip (kaiser_best, as classify decodes)."""
  from soundscope.transforms import audio
  return audio.load_mono(esc10_dir() / file_name).astype(np.float32)


def active_span(samples, rate=RATE):
  """(start, end) seconds of a clip's active part (see the module docstring)."""
  frame = int(round(FRAME_SECONDS * rate))
  count = max(1, len(samples) // frame)
  frames = np.resize(np.asarray(samples, np.float64), count * frame).reshape(count, frame)
  level = 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
  active = np.flatnonzero(level >= level.max() - ACTIVE_BELOW_MAX_DB)
  return active[0] * FRAME_SECONDS, (active[-1] + 1) * FRAME_SECONDS


def pink_noise(rng, samples):
  """float64 [samples] pink (1/f power) noise with unit RMS."""
  spectrum = np.fft.rfft(rng.standard_normal(samples))
  frequencies = np.arange(spectrum.size, dtype=np.float64)
  frequencies[0] = 1.0
  noise = np.fft.irfft(spectrum / np.sqrt(frequencies), samples)
  return noise / np.sqrt(np.mean(noise ** 2))


def background(seed, seconds, kind=NOISE):
  """float32 [seconds x 16000] background: pink noise at BACKGROUND_NOISE_DBFS RMS, or zeros."""
  samples = int(round(seconds * RATE))
  if kind == SILENCE:
    return np.zeros(samples, np.float32)
  if kind != NOISE:
    raise ValueError(f"background must be one of {BACKGROUNDS}, not {kind!r}")
  gain = 10.0 ** (BACKGROUND_NOISE_DBFS / 20.0)
  return (gain * pink_noise(np.random.default_rng(seed), samples)).astype(np.float32)


def make_soundscape(seed, minutes, fold, background_kind=NOISE, levels=LEVELS_DBFS,
                    gap_seconds=GAP_SECONDS):
  """A soundscape of ESC-10 clips of one fold over a background, with its truth.

  Args:
    seed: int, makes the background, the clips' order, gaps and levels.
    minutes: the soundscape's length, minutes.
    fold: ESC-10 fold (1..5) the clips come from.
    background_kind: 'noise' or 'silence'.
    levels: the placed clips' peak levels to draw from, dBFS.
    gap_seconds: (low, high) range of the pauses before each clip, seconds.

  Returns:
    (float32 [minutes x 60 x 16000] waveform in [-1, 1], 16000,
     [(category, start, end)] ground-truth events sorted by start, seconds).
  """
  rng = np.random.default_rng([seed, fold])
  waveform = background(seed, minutes * 60.0, background_kind).astype(np.float64)
  clips = fold_clips(fold)
  order = rng.permutation(len(clips))
  truth, position, placed = [], 0.0, 0
  while True:
    position += rng.uniform(*gap_seconds)
    category, file_name = clips[order[placed % len(clips)]]
    samples = clip_audio(file_name)
    first = int(round(position * RATE))
    if first + samples.size > waveform.size:
      break
    peak = float(np.max(np.abs(samples))) or 1.0
    gain = 10.0 ** (rng.choice(levels) / 20.0) / peak
    waveform[first:first + samples.size] += gain * samples
    start = first / RATE
    active_start, active_end = active_span(samples)
    truth.append((category, start + active_start, start + active_end))
    position = (first + samples.size) / RATE
    placed += 1
  return np.clip(waveform, -1.0, 1.0).astype(np.float32), RATE, sorted(truth, key=lambda e: e[1])


def label_window_scores(classifier, resolved, waveform):
  """(starts, ends, float32 [w, L] label scores, window seconds, float64 [f] frame levels)
  of a 16 kHz waveform, through classify's scoring path (models/scoring.py) and label set."""
  from soundscope.models import label_sets
  from soundscope.models import scoring
  scores = label_sets.relabel(scoring.score_waveform(classifier, waveform, per_window=True),
                              resolved)
  framing = getattr(classifier, "framing", None)
  window_seconds = framing.span_samples / P.SAMPLE_RATE_HZ if framing else None
  windows = scores.windows
  return windows.starts, windows.ends, windows.scores, window_seconds, scores.frame_levels


def events_from_scores(scored, labels, rules):
  """[(label, start, end)] of label_window_scores' result under `rules` (one EventRules,
  or one per label: transforms.events.detect_each; 'level' bounds moved on the frame
  levels, as models/file_events.py moves them)."""
  from soundscope.models import file_events
  starts, ends, scores, window_seconds = scored[:4]
  frame_levels = scored[4] if len(scored) > 4 else None
  return [(e.label, e.start_seconds, e.end_seconds) for e in file_events.window_events(
      starts, ends, scores, labels, rules, window_seconds, frame_levels)]


def detect_events(classifier, resolved, waveform, rules, scores=None):
  """[(label, start, end)] seconds: the events `classify --labels ... --events` gives
  (models/scoring.py, then models/file_events.py with the label set's own rules);
  `scores`: the waveform's scoring.score_waveform(..., per_window=True), when made already."""
  from soundscope.models import file_events
  from soundscope.models import scoring
  if scores is None:
    scores = scoring.score_waveform(classifier, waveform, per_window=True)
  return [(e.label, e.start_seconds, e.end_seconds)
          for e in file_events.file_events(classifier, scores, resolved, rules)]


def _event_list(events, name):
  return [{"file": name, "event_label": label, "onset": float(start), "offset": float(end)}
          for label, start, end in events]


def evaluate(pairs, labels):
  """sed_eval's scores over files.

  Args:
    pairs: [(truth events, found events, file seconds)], events [(label, start, end)].
    labels: the label names.

  Returns:
    {'event_f1', 'segment_f1', 'event', 'segment'}: overall F-measures in [0, 1] and the
    sed_eval metrics objects (event-based: onset collar T_COLLAR_SECONDS, offset
    collar the larger of it and OFFSET_LENGTH_FRACTION of the length; segment-based:
    SEGMENT_SECONDS segments).
  """
  import sed_eval
  event_based = sed_eval.sound_event.EventBasedMetrics(
      list(labels), t_collar=T_COLLAR_SECONDS, percentage_of_length=OFFSET_LENGTH_FRACTION)
  segment_based = sed_eval.sound_event.SegmentBasedMetrics(
      list(labels), time_resolution=SEGMENT_SECONDS)
  for number, (truth, found, seconds) in enumerate(pairs):
    name = f"soundscape-{number}.wav"
    reference, estimated = _event_list(truth, name), _event_list(found, name)
    event_based.evaluate(reference, estimated)
    segment_based.evaluate(reference, estimated, evaluated_length_seconds=seconds)
  return {"event_f1": event_based.results_overall_metrics()["f_measure"]["f_measure"],
          "segment_f1": segment_based.results_overall_metrics()["f_measure"]["f_measure"],
          "event": event_based, "segment": segment_based}


def yamnet_classifier(model_dir):
  """The official YAMNet of ../shared/assets imported into a store at `model_dir`, loaded."""
  from soundscope.models.store import files as store
  from soundscope.models.store import registry
  store.ModelStore(model_dir).import_path(common.require_asset("yamnet"))
  return registry.load_classifier("yamnet", model_dir)
