"""Sound events from live audio: the batch event layer applied window by window.

The loop's runtime/listening.Listener turns the capture windows into one
continuous 16 kHz stream and scores each of its model windows once, the way
`classify` and `predict` score a file (models/scoring.py), so that the model
windows, their times and scores equal the batch ones for the same audio.
`LiveEvents` takes those windows (runtime.listening.Heard), maps them to the
label set (models/label_sets.label_scores), applies the volume gate (a window
whose RMS is under --gate-dbfs has no score, like batch's --min-level) and
pushes them into one transforms/events.EventStream of every label, each under
its own rules (runtime/rules.py), as batch's detect_each: the events equal
`classify --events` of the same audio.  Labels whose rules have bounds 'level'
keep the stream's level track (Heard.samples, then the Ending's) and their
events move to their loud audio when they close (transforms/level_bounds.py),
as batch moves them on the file's track.

An event is announced twice, as runtime.prediction.EventNotice: "start" once
it is open and long enough (min_duration), "end" once no later window can
extend or merge into it (with 'level' bounds, the start of the "end" notice is
the refined one).  An announced event that does not stand when it closes
(EventRules.compete_mean, exclusive) gets "cancel" instead of "end": it is not
an event.  An event of an exclusive label ends once every event that can
overlap it has closed.  When the stream restarts (audio lost, a source
reconnected) the events open so far end with the old stream.  Times: seconds
of audio since the capture started, and UTC through the windows' pieces
(runtime/windows.AudioClock: a time inside a piece lies between its UTC start
and end, scaled when the capture squeezed the window onto the wall clock), so
an event never ends before it starts and never lies outside its windows.
"""

import collections
import logging

import numpy as np

from soundscope.configs import events as E
from soundscope.configs import monitoring as M
from soundscope.configs import params as P
from soundscope.models import label_sets
from soundscope.runtime import prediction
from soundscope.runtime import windows
from soundscope.transforms import events as events_lib
from soundscope.transforms import level_bounds

log = logging.getLogger(__name__)


class _Clock:
  """Seconds of audio -> UTC through the windows' pieces (runtime/windows.AudioClock: a
  time inside a piece lies between its UTC start and end), and the saved files."""

  def __init__(self):
    self._clock = windows.AudioClock(M.WINDOW_MEMORY)
    self._saved = collections.deque(maxlen=M.WINDOW_MEMORY)

  def add(self, start_seconds, end_seconds, start_utc, end_utc, record_path):
    self._clock.add(start_seconds, end_seconds, start_utc, end_utc)
    self._saved.append((start_seconds, end_seconds, record_path))

  def utc(self, seconds):
    return self._clock.utc(seconds)

  def saved(self, start, end):
    """Saved window files overlapping [start, end] seconds (end None: open)."""
    return tuple(path for s, e, path in self._saved
                 if path and e > start and (end is None or s < end))


class _Stream(events_lib.EventStream):
  """An EventStream that also shows the events still open (for "start" notices)."""

  def open_events(self):
    """[Event] of the labels whose event is open or waiting to merge, so far."""
    return [events_lib.Event(label, float(track.start), float(track.end),
                             float(np.max(track.values)), float(np.mean(track.values)),
                             len(track.values))
            for track, label in zip(self._tracks, self.labels) if track.pending()]


class LiveEvents:
  """Turns the live model windows into EventNotices.

  Args:
    classifier: the Classifier.
    label_set: models.label_sets.ResolvedLabelSet, or None (the model's classes).
    rules: runtime.rules.Rules over the reported labels.
    source: the input's name, reported with every notice.
  """

  def __init__(self, classifier, label_set, rules, source):
    self.classifier = classifier
    self.label_set = label_set
    self.labels = tuple(label_sets.label_names(label_set, classifier))
    if tuple(rules.labels) != self.labels:
      raise ValueError("the rules are not over the reported labels")
    self.rules = rules
    self._rule = dict(zip(self.labels, rules.per_label))   # label -> its LabelRules.
    self.source = source
    framing = getattr(classifier, "framing", None)
    self.window_seconds = (framing.span_samples / float(P.SAMPLE_RATE_HZ) if framing
                           else None)
    self._clock = _Clock()
    self._per_label = tuple(rule.events for rule in rules.per_label)
    self._stream = None           # The EventStream of every label, made at the first windows.
    self._levels = level_bounds.needs_levels(self._per_label)
    self._track = None            # The stream's level track (with 'level' bounds only).
    self._announced = {}          # label -> (start seconds, announced) of its open event
                                  # once long enough (announced False: cooling down).
    self._last_end = {}           # label -> end seconds of its last announced event.
    self.suppressed = 0           # Events not announced because of a cooldown.
    self.events = 0               # Events ended and announced.
    self._last_window = 0.0       # Start of the last window pushed, seconds.
    self._started = False

  def _ensure_stream(self, window_seconds):
    if self._stream is None:
      # One stream of every label, each under its own rules: labels compete
      # (EventRules.compete) with all the others, as in batch (transforms.events.detect_each).
      self._stream = _Stream(self.labels, self._per_label, window_seconds)

  def add(self, heard, record_path=None):
    """One capture window as heard (runtime.listening.Heard) -> [(EventNotice, sinks or None)].

    Args:
      heard: its samples' times and the model windows they completed; when a
        stream starts there (heard.restarted), the old stream's last windows
        (heard.ended) close it first and the events open so far end.
      record_path: its saved file, or None.
    """
    notices = []
    # Known first: the old stream's last times (its held-back end) stop at this start.
    self._clock.add(heard.start_seconds, heard.end_seconds, heard.start_utc, heard.end_utc,
                    record_path)
    if heard.restarted:
      if self._started:
        notices += self._finish_stream(heard.ended)
      self._started = True
      self._last_window = heard.start_seconds
      if self._levels:
        self._track = level_bounds.LevelTrack(heard.start_seconds)
    if self._track is not None:
      self._track.add(heard.samples)
    return notices + self._push(heard.windows, heard.levels)

  def finish(self, ended=None):
    """At the end of the source: the stream's end (runtime.listening.Ending, from
    Listener.finish, or None), then every open event ends."""
    return self._finish_stream(ended) if self._started else []

  def _finish_stream(self, ended):
    """The stream's Ending (or None: nothing held back) goes in, then its events end."""
    windows = levels = None
    if ended is not None:
      windows, levels = ended.windows, ended.levels
      if self._track is not None:
        self._track.add(ended.samples)
    notices = self._push(windows, levels)
    if self._stream is not None:
      closed = self._refined(self._stream.flush())
      notices += self._cancelled() + self._ended(closed)
    return notices

  def _refined(self, events):
    """Closed events, those with 'level' bounds moved to their loud audio; the level
    track then lets go of the frames that no event can need any more."""
    if self._track is None:
      return events
    events = level_bounds.refine(events, self.labels, self._per_label, self._track)
    undecided = self._stream.undecided_starts()     # Open, or held (exclusive labels).
    self._track.forget_before(min(undecided + [self._last_window]) - E.LEVEL_FLOOR_SECONDS
                              - E.LEVEL_MARGIN_SECONDS)
    return events

  def _push(self, windows, window_levels):
    if windows is None or not len(windows.starts):
      return []
    scores = np.asarray(windows.scores, np.float32)
    if self.label_set is not None:
      scores = label_sets.label_scores(scores, self.label_set)[0]
    if self.rules.gate_dbfs is not None:
      # Too quiet: no score at all (NaN: never starts, extends or joins an event), as
      # batch scoring's --min-level leaves such windows unclassified (models/scoring.py).
      scores = np.where((window_levels < self.rules.gate_dbfs)[:, None], np.float32(np.nan),
                        scores)
    self._ensure_stream(self.window_seconds or events_lib.full_window_seconds(
        windows.starts, windows.ends))
    closed = self._stream.push_windows(windows.starts, windows.ends, scores)
    self._last_window = float(windows.starts[-1])
    return self._cancelled() + self._ended(self._refined(closed)) + self._opened()

  def _opened(self):
    notices = []
    for event in self._stream.open_events():
      rules = self._rule[event.label].events
      if event.label in self._announced or event.duration_seconds < rules.min_duration_seconds:
        continue
      announced = not self._cooling(event)
      self._announced[event.label] = (event.start_seconds, announced)
      if announced:
        notices.append(self._notice("start", event))
    return notices

  def _cooling(self, event):
    rule = self._rule[event.label]
    last = self._last_end.get(event.label)
    cooling = last is not None and event.start_seconds - last < rule.cooldown_seconds
    if cooling:
      self.suppressed += 1
    return cooling

  def _cancelled(self):
    """"cancel" notices of announced events that did not stand when they closed.

    EventRules.compete_mean (another label outscored it over its whole span,
    merged gaps included) and exclusive (an overlapping event of another label
    peaked higher) drop an event after its start; batch has no such event.
    Taken before the closed events: a label's later event in the same windows
    is then announced afresh.
    """
    notices = []
    for event in self._stream.take_dropped():
      start, announced = self._announced.get(event.label, (None, False))
      if start == event.start_seconds:
        del self._announced[event.label]
        if announced:
          notices.append(self._notice("cancel", event))
    return notices

  def _ended(self, events):
    notices = []
    for event in events:
      if event.label not in self._announced:    # Closed in the window that opened it.
        if self._cooling(event):
          continue
        notices.append(self._notice("start", event))
      elif not self._announced[event.label][1]:   # Cooling down: never announced.
        del self._announced[event.label]
        continue
      self._announced.pop(event.label, None)
      self._last_end[event.label] = event.end_seconds
      self.events += 1
      notices.append(self._notice("end", event))
    return notices

  def _notice(self, kind, event):
    ended = kind != "start"
    rule = self._rule[event.label]
    notice = prediction.EventNotice(
        kind=kind, label=event.label, source=self.source, model=self.classifier.name,
        model_version=str(self.classifier.version),
        label_set=self.label_set.name if self.label_set is not None else None,
        start_seconds=event.start_seconds, end_seconds=event.end_seconds if ended else None,
        start_utc=self._clock.utc(event.start_seconds),
        end_utc=self._clock.utc(event.end_seconds) if ended else None,
        peak_score=event.peak_score, mean_score=event.mean_score, windows=event.windows,
        saved_audio=self._clock.saved(event.start_seconds,
                                      event.end_seconds if ended else None))
    return notice, rule.sinks
