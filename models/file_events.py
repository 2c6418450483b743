"""One file's window scores -> its sound events: the one step of classify --events and
predict --events (docs/events.md).

  window_seconds(classifier)              the model's window length, seconds (or None)
  file_events(classifier, scores, resolved, rules)   [Event] of one file
  window_events(starts, ends, scores, labels, rules, window_seconds, frame_levels)
                                          the same from window label scores
  event_rows(source, events, start_utc, classifier, label_set, label_set_hash)
                                          rows of the events table (transforms/event_tables.py)
  label_set_hash(spec)                    sha256 hex of a label set file's bytes

Events are over the label set's labels (the max of their classes, before any
reporting threshold: the rules decide) or, without one, the model's classes.
A window too quiet to classify (NaN scores, models/scoring.py min_level_dbfs)
counts as under every threshold: it ends an event and starts none.  Events of
labels whose rules have bounds 'level' then move to their loud audio, on the
file's level track (scores.frame_levels: transforms/level_bounds.py).
"""

import hashlib

from soundscope.configs import params as P
from soundscope.models import label_sets
from soundscope.models import rows as rows_lib
from soundscope.transforms import event_tables
from soundscope.transforms import events as events_lib
from soundscope.transforms import level_bounds


def window_seconds(classifier):
  """The classifier's window length in seconds (its framing's span), or None when it
  does not declare one (events_lib.detect then takes the longest window)."""
  framing = getattr(classifier, "framing", None)
  return framing.span_samples / P.SAMPLE_RATE_HZ if framing else None


def file_events(classifier, scores, resolved, rules):
  """[Event] of one file's per-window scores.

  Args:
    classifier: the classifier.Classifier that scored.
    scores: scoring.Scores with windows, over the classifier's classes.
    resolved: a label_sets.ResolvedLabelSet, or None for the classes.
    rules: configs.events.EventRules (a label set's labels with their own `events:`
      follow those: label_sets.event_rules).

  Returns:
    [transforms.events.Event], sorted by start, end and label.

  Raises:
    transforms.events.EventInputError: 'level' bounds without the level track
      (scores of embeddings, not audio).
  """
  if resolved is not None:
    scores = label_sets.relabel(scores, resolved)
  windows = scores.windows
  return window_events(windows.starts, windows.ends, windows.scores,
                       label_sets.label_names(resolved, classifier),
                       label_sets.event_rules(resolved, rules), window_seconds(classifier),
                       scores.frame_levels)


def window_events(starts, ends, scores, labels, rules, window_seconds, frame_levels=None):
  """[Event] of one input's window label scores: transforms.events.detect_each, then
  the events of labels with 'level' bounds moved on the input's level track.

  Args:
    starts, ends, scores, labels, rules, window_seconds: as detect_each.
    frame_levels: float [n] RMS dBFS of the input's 20 ms frames (Scores.frame_levels),
      or None.

  Raises:
    transforms.events.EventInputError: 'level' bounds without frame_levels.
  """
  found = events_lib.detect_each(starts, ends, scores, labels, rules, window_seconds)
  if not level_bounds.needs_levels(rules):
    return found
  if frame_levels is None:
    raise events_lib.EventInputError("event bounds 'level' need the audio's level track "
                                     "(scores of audio, with their windows)")
  return level_bounds.refine(found, labels, rules, level_bounds.LevelTrack.of_levels(
      frame_levels))


def event_rows(source, events, start_utc, classifier, label_set=None, label_set_hash=None):
  """The rows of events_lib Events of one file in the events table (event_tables.EVENTS_NAMES).

  Args:
    source: the input's path as given.
    events: [Event].
    start_utc: aware datetime of the file's start, or None (null UTC times).
    classifier: the classifier that scored (model, model_version).
    label_set, label_set_hash: the set's name and its file's sha256, or None.
  """
  model = rows_lib.model_fields(classifier)
  return [event_tables.event_row(
      source, event, **model, label_set=label_set, label_set_hash=label_set_hash,
      start_utc=None if start_utc is None else rows_lib.utc_at(start_utc, event.start_seconds),
      end_utc=None if start_utc is None else rows_lib.utc_at(start_utc, event.end_seconds))
          for event in events]


def label_set_hash(spec):
  """sha256 hex digest of the bytes of a label set's file (a path or a built-in name)."""
  return hashlib.sha256(label_sets.path_of(spec).read_bytes()).hexdigest()
