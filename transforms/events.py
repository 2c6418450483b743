"""Sound events from per-window label scores: the one event layer of batch and live.

Per label, over windows in time order (docs/events.md):

  0. competition: a window whose label score is under EventRules.compete x the
     best of all labels' scores in that window counts as no score (NaN) for the
     label (compete 0, the default: labels are independent);
  1. tail: a window cut at the audio's end (ends - starts < window_seconds, the
     model's window length; models/scoring.py ends such a window where the
     audio ends) counts, by EventRules.tail, with its score x (real / full
     span) ('weight', the default), not at all ('drop') or as is ('keep');
  2. hysteresis: an event starts at a window scoring >= enter and goes on
     while windows score >= exit (a NaN score counts as under exit);
  3. merge: events of one label whose gap (next start - previous end, seconds)
     is < merge_gap_seconds become one (overlapping ones always do);
  4. minimum duration: events with end - start < min_duration_seconds are dropped;
  5. mean competition: an event whose label's mean (tail-weighted) score over
     its span's windows (its own and those of the gaps merged over) is under
     EventRules.compete_mean x the best mean of all labels over the same
     windows is dropped (compete_mean 0, the default: none is; with compete c,
     a compete_mean <= c drops none but for the gaps' windows);
  6. exclusive: an event of a label with EventRules.exclusive is dropped when
     an event of another label (one standing after step 5) overlaps it with a
     higher peak score (give_way).

A window's bounds are its own, or with EventRules.bounds 'centre' (and
'level') its middle part (centre_bounds: a quarter of the model's window in
from each side, cut at the window's end); steps 3 and 4 and the events use
those ('level' events then move to their loud audio: transforms/level_bounds.py,
which needs the audio).  An Event spans the
start of its first window to the end of its last (the latest end of its
windows); its peak and mean are over its windows' (tail-weighted) scores,
`windows` counts them (a merged event: the windows of its parts, not those of
the gaps).

  detect(starts, ends, scores, labels, rules, window_seconds)   whole arrays
  detect_each(..., rules, ...)   the same with L per-label rules (a label set's own)
  competed(scores, rules)        step 0 over [w, L] scores
  give_way(events, exclusive)    step 6 over one input's events
  EventStream(labels, rules, window_seconds)   .push(start, end, scores) per
      window as it comes, events as they close; .flush() at the end.
      Every window pushed then flush() gives exactly detect()'s events.

Pure numpy: no model code.
"""

import dataclasses
import math

import numpy as np

from soundscope.configs import events as E
from soundscope.configs.events import EventRules  # noqa: F401  (re-exported)

CUT_TOLERANCE_SECONDS = 1e-6   # A window shorter than the model's by more than this is cut.


class EventInputError(ValueError):
  """Window scores that events cannot be made from; one line saying what is wrong."""


@dataclasses.dataclass(frozen=True)
class Event:
  """One sound event of one label.

  Attributes:
    label: the label's name.
    start_seconds, end_seconds: start of its first window, end of its last
      (under EventRules.bounds), seconds from the start of the input.
    peak_score, mean_score: max and mean of its windows' (tail-weighted) scores.
    windows: how many windows it holds.
  """
  label: str
  start_seconds: float
  end_seconds: float
  peak_score: float
  mean_score: float
  windows: int

  @property
  def duration_seconds(self):
    return self.end_seconds - self.start_seconds

  def as_dict(self):
    """{label, start_seconds, end_seconds, peak_score, mean_score, windows} (JSON-ready)."""
    return dataclasses.asdict(self)


def event_order(event):
  """Sort key of events: by start, end, then label (detect()'s order)."""
  return (event.start_seconds, event.end_seconds, event.label)


def _event(label, start, end, values):
  """An Event of float64 [n] scores (the same numpy reductions in both forms)."""
  values = np.asarray(values, np.float64)
  return Event(str(label), float(start), float(end), float(values.max()), float(values.mean()),
               int(values.size))


def _long_enough(event, rules):
  return event.end_seconds - event.start_seconds >= rules.min_duration_seconds


def tail_weights(starts, ends, window_seconds, tail):
  """(weights, kept) of windows under the tail rule: a weight multiplies a window's scores.

  Args:
    starts, ends: float64 [w] window bounds, seconds (ends cut at the audio's end).
    window_seconds: the model's full window length, seconds.
    tail: 'weight', 'drop' or 'keep'.

  Returns:
    (float64 [w] weights, bool [w] kept): a whole window (or any, with 'keep') 1 and
    kept; a cut one real/full span with 'weight', not kept with 'drop'.
  """
  spans = ends - starts
  whole = (spans >= window_seconds - CUT_TOLERANCE_SECONDS) | (tail == E.TAIL_KEEP)
  if tail == E.TAIL_DROP:
    return np.ones(spans.shape), whole
  weights = np.where(whole, 1.0, np.minimum(1.0, np.maximum(0.0, spans / window_seconds)))
  return weights, np.ones(spans.shape, bool)


def centre_bounds(starts, ends, window_seconds):
  """The middle parts of windows: EventRules.bounds 'centre'.

  Args:
    starts, ends: float [w] (or scalar) window bounds, seconds (ends cut at the audio's end).
    window_seconds: the model's full window length, seconds.

  Returns:
    (starts, ends) float64 like the inputs: from start + q to min(start + window_seconds
    - q, end), q = (1 - CENTRE_FRACTION) / 2 x window_seconds; a window cut before its
    middle part begins gives the empty span (end, end).
  """
  starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
  quarter = (1.0 - E.CENTRE_FRACTION) / 2.0 * window_seconds
  middle_ends = np.minimum(starts + (window_seconds - quarter), ends)
  return np.minimum(starts + quarter, middle_ends), middle_ends


def _event_bounds(starts, ends, window_seconds, rules):
  """(starts, ends) of windows as events span them under rules.bounds."""
  if rules.bounds in (E.BOUNDS_CENTRE, E.BOUNDS_LEVEL):
    return centre_bounds(starts, ends, window_seconds)
  return starts, ends


# ------------------------------------------------------------ whole arrays

def _checked(starts, ends, scores, labels):
  starts = np.asarray(starts, np.float64).reshape(-1)
  ends = np.asarray(ends, np.float64).reshape(-1)
  scores = np.asarray(scores, np.float32)
  if scores.ndim != 2 or scores.shape != (starts.size, len(labels)) or ends.size != starts.size:
    raise EventInputError(f"window scores must be [w, {len(labels)}] with w starts and ends, "
                          f"not scores {scores.shape}, {starts.size} starts, {ends.size} ends")
  if np.any(ends < starts) or np.any(np.diff(starts) < 0):
    raise EventInputError("windows must be in time order (starts non-decreasing) with "
                          "end >= start")
  return starts, ends, scores


def full_window_seconds(starts, ends):
  """The longest window's span, seconds: the model's window length when it is not known."""
  spans = np.asarray(ends, np.float64) - np.asarray(starts, np.float64)
  return float(spans.max()) if spans.size else 1.0


def _weighted(starts, ends, scores, rules, window_seconds, everyone):
  """(starts, ends, float64 [w', L] scores, float64 [w', L] everyone's) of the windows the
  tail rule keeps, bounds as events span them (rules.bounds)."""
  weights, kept = tail_weights(starts, ends, window_seconds, rules.tail)
  weights = weights.reshape(-1, 1)

  def weighted(values):
    return (np.asarray(values, np.float32).astype(np.float64) * weights)[kept]
  starts, ends = _event_bounds(starts[kept], ends[kept], window_seconds, rules)
  return starts, ends, weighted(scores), weighted(everyone)


def hysteresis_runs(values, enter, exit_):
  """[(first, stop)] window index ranges of events in float [w] scores, before merging.

  Within each maximal run of windows scoring >= exit_, an event goes from the
  first window scoring >= enter to the run's end.
  """
  above = np.asarray(values) >= exit_
  edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
  entered = np.asarray(values) >= enter
  runs = []
  for first, stop in zip(edges[0::2], edges[1::2]):
    hits = np.flatnonzero(entered[first:stop])
    if hits.size:
      runs.append((int(first + hits[0]), int(stop)))
  return runs


def _merged(runs, starts, ends, gap_seconds):
  """[(window indices, end seconds)]: runs whose gap is under gap_seconds joined."""
  groups = []
  for first, stop in runs:
    indices, end = list(range(first, stop)), float(ends[first:stop].max())
    if groups and starts[first] - groups[-1][1] < gap_seconds:
      groups[-1] = (groups[-1][0] + indices, max(groups[-1][1], end))
    else:
      groups.append((indices, end))
  return groups


def competed(scores, rules):
  """Label competition (EventRules.compete) within each window.

  Args:
    scores: float32 [w, L] label scores.
    rules: L EventRules, index-aligned with the labels.

  Returns:
    float32 [w, L]: `scores` with NaN (under any exit) where a label's score is
    under its rules' compete x the best of the window's L scores; `scores`
    itself when no label competes.
  """
  ratios = np.array([label_rules.compete for label_rules in rules], np.float64)
  if not ratios.any():
    return scores
  values = np.asarray(scores, np.float64)
  best = np.fmax.reduce(values, axis=-1, initial=-np.inf)[..., None]
  with np.errstate(invalid="ignore"):
    lost = values < ratios * best
  return np.where(lost, np.float32(np.nan), scores).astype(np.float32)


def per_label(rules, labels):
  """L EventRules: one for every label, or a label set's own (checked)."""
  if isinstance(rules, EventRules):
    return (rules,) * len(labels)
  if len(rules) != len(labels):
    raise EventInputError(f"{len(rules)} event rules for {len(labels)} labels")
  return tuple(rules)


def _groups(rules):
  """[(EventRules, [label indices])] of labels sharing rules (L of them), in first-label
  order."""
  groups = {}
  for index, label_rules in enumerate(rules):
    groups.setdefault(label_rules, []).append(index)
  return list(groups.items())


def detect(starts, ends, scores, labels, rules=EventRules(), window_seconds=None):
  """Events of every label in one input's window scores.

  Args:
    starts, ends: float [w] window bounds, seconds, in time order (ends cut at
      the audio's end, as models/scoring.py gives them).
    scores: float [w, L] label scores in [0, 1].
    labels: L label names.
    rules: EventRules.
    window_seconds: the model's window length, seconds (None: the longest
      window's span; give it for a clip shorter than one window).

  Returns:
    [Event], sorted by event_order.

  Raises:
    EventInputError: shapes that disagree, windows out of order.
  """
  return detect_each(starts, ends, scores, labels, rules, window_seconds)


def holds_own(rows, index, rules):
  """Step 5: whether an event's label keeps up with the others over its span.

  Args:
    rows: float64 [n, L] (tail-weighted) scores of every label in the n windows from
      the event's first to its last (or n rows of L; rows of windows too quiet to
      classify are NaN and left out), n >= 1; not looked at without compete_mean.
    index: the event's label's column.
    rules: the label's EventRules.
  """
  if not rules.compete_mean:
    return True
  means = np.nanmean(np.asarray(rows, np.float64), axis=0)
  return bool(means[index] >= rules.compete_mean * np.fmax.reduce(means, initial=-np.inf))


def _detect(starts, ends, values, everyone, indices, labels, rules):
  """detect()'s events of the labels `indices` (sharing rules), over the windows the tail
  rule keeps (_weighted): `values` their competed scores [w', len(indices)], `everyone`
  all L labels' [w', L]."""
  events = []
  # Only labels with a window at enter or more can hold an event (most of 521 classes have none).
  reached = np.flatnonzero(np.fmax.reduce(values, axis=0, initial=-np.inf) >= rules.enter)
  for j in reached:
    label = labels[indices[j]]
    for group, end in _merged(hysteresis_runs(values[:, j], rules.enter, rules.exit), starts,
                              ends, rules.merge_gap_seconds):
      event = _event(label, starts[group[0]], end, values[group, j])
      if _long_enough(event, rules) and holds_own(everyone[group[0]:group[-1] + 1],
                                                  indices[j], rules):
        events.append(event)
  return sorted(events, key=event_order)


def detect_each(starts, ends, scores, labels, rules, window_seconds=None):
  """detect() with each label under its own rules.

  Args:
    rules: one EventRules for every label, or L of them, index-aligned with
      labels (a label set's own rules: models/label_sets.event_rules).
    Others: as detect().

  Returns:
    [Event], sorted by event_order: for each label, its events under its rules
    (competing, EventRules.compete, with all L labels).
  """
  rules = per_label(rules, labels)
  starts, ends, everyone = _checked(starts, ends, scores, labels)
  scores = competed(everyone, rules)
  window_seconds = window_seconds or full_window_seconds(starts, ends)
  events, weighted = [], {}
  for label_rules, indices in _groups(rules):
    key = (label_rules.tail, label_rules.bounds)   # What _weighted depends on.
    if key not in weighted:
      weighted[key] = _weighted(starts, ends, scores, label_rules, window_seconds, everyone)
    kept_starts, kept_ends, values, kept_everyone = weighted[key]
    events += _detect(kept_starts, kept_ends, values[:, indices], kept_everyone, indices, labels,
                      label_rules)
  return sorted(give_way(events, _exclusive(labels, rules)), key=event_order)


def _exclusive(labels, rules):
  """The labels whose rules (L of them) say exclusive."""
  return frozenset(label for label, label_rules in zip(labels, rules) if label_rules.exclusive)


def _beats(a, b):
  """Whether event `a` is of another label than `b`, overlaps it, and peaks higher."""
  return (a.label != b.label and a.peak_score > b.peak_score
          and min(a.end_seconds, b.end_seconds) > max(a.start_seconds, b.start_seconds))


def _outscored(event, others):
  """Whether an event among `others` beats `event` (_beats)."""
  return any(_beats(other, event) for other in others)


def give_way(events, exclusive):
  """Step 6: `events` less those of the labels in `exclusive` that an event of another
  label overlaps with a higher peak score (equal peaks: both stay).

  Args:
    events: [Event] of one input (after steps 1-5), any order.
    exclusive: set of label names.

  Returns:
    [Event] in the given order.
  """
  if not exclusive:
    return list(events)
  dropped, active = set(), []
  for i in sorted(range(len(events)), key=lambda k: events[k].start_seconds):
    event = events[i]
    active = [j for j in active if events[j].end_seconds > event.start_seconds]
    for j in active:     # Each overlapping pair once, when the later-starting one comes.
      if event.label in exclusive and _beats(events[j], event):
        dropped.add(i)
      if events[j].label in exclusive and _beats(event, events[j]):
        dropped.add(j)
    active.append(i)
  return [event for i, event in enumerate(events) if i not in dropped]


# ------------------------------------------------------------------ streaming

class _Track:
  """One label's state: the event being built (open while inside hysteresis,
  else waiting to see whether the next one merges into it)."""

  def __init__(self):
    self.inside = False
    self.start = self.end = None
    self.values = []
    self.rows = []        # Every label's scores in its span's windows (with compete_mean).
    self.waiting = []     # ... in the windows since its last one, until it merges or ends.

  def pending(self):
    return bool(self.values)

  def take(self, label, index, rules):
    """(the built event or None, whether it stands: long enough, holds its own); the track
    empties."""
    event = _event(label, self.start, self.end, self.values) if self.values else None
    stands = event is not None and _long_enough(event, rules) and holds_own(self.rows, index,
                                                                            rules)
    self.inside, self.start, self.end, self.values, self.rows = False, None, None, [], []
    self.waiting = []
    return event, stands

  def add(self, start, end, value, row):
    if not self.values:
      self.start = start
    self.end = end if self.end is None else max(self.end, end)
    self.inside = True
    self.values.append(value)
    if row is not None:
      self.rows += self.waiting + [row]
      self.waiting = []

  def wait(self, row):
    """A window after the event's last one (it counts if the event merges on)."""
    if row is not None:
      self.waiting.append(row)


class EventStream:
  """detect() for windows that arrive one at a time (the live loop).

  Usage:
    stream = EventStream(labels, rules, window_seconds)   # rules: one, or L (detect_each)
    for start, end, scores in windows:    # in time order
      for event in stream.push(start, end, scores): ...
    for event in stream.flush(): ...      # at the end of the input

  An event comes out once no later window can extend or merge into it.  All
  events pushed out, then flushed, sorted by event_order, equal detect()'s.
  An event built but not standing when it closes (too short, or not holding its
  own: step 5) comes out of take_dropped() instead: one that was seen open
  (e.g. announced live) is not an event after all.  An event of an exclusive
  label (step 6) is held until every event that can overlap it has closed,
  then comes out, or goes to take_dropped() when one of them outscores it.
  """

  def __init__(self, labels, rules=EventRules(), window_seconds=None):
    """rules: one EventRules, or L (each label's own, as detect_each; labels
    compete, EventRules.compete, among this stream's labels); window_seconds:
    the model's window length, seconds (required: a stream cannot look at its
    windows in advance)."""
    if not window_seconds or not window_seconds > 0:
      raise EventInputError(f"window_seconds must be a positive number of seconds, not "
                            f"{window_seconds!r}")
    self.labels = tuple(str(label) for label in labels)
    self.rules = rules
    self._per_label = per_label(rules, self.labels)
    self._groups = _groups(self._per_label)
    self.window_seconds = float(window_seconds)
    self._tracks = [_Track() for _ in self.labels]
    self._last_start = -math.inf
    self._dropped = []
    self._exclusive = _exclusive(self.labels, self._per_label)
    self._frontier = -math.inf   # No later event starts before this (the last window's), s.
    self._held = []              # Events of exclusive labels, closed, not yet decided.
    self._recent = []            # Closed standing events that may overlap an undecided one.

  def push(self, start, end, scores):
    """Adds one window: bounds in seconds, float [L] label scores.

    Returns:
      [Event] closed by this window (possibly empty), sorted by event_order.

    Raises:
      EventInputError: a window before the previous one, end < start, wrong length.
    """
    start, end = float(start), float(end)
    everyone = np.asarray(scores, np.float32).reshape(-1)
    self._check(start, end, everyone)
    scores = competed(everyone.reshape(1, -1), self._per_label)[0]
    out, bound_starts = [], []
    for rules, indices in self._groups:
      bounds = tuple(float(x) for x in _event_bounds(start, end, self.window_seconds, rules))
      bound_starts.append(bounds[0])
      weights, kept = tail_weights(np.array([start]), np.array([end]), self.window_seconds,
                                   rules.tail)
      if not kept[0]:
        continue
      values = scores[indices].astype(np.float64) * weights[0]
      row = everyone.astype(np.float64) * weights[0] if rules.compete_mean else None
      out += [self._step(self._tracks[i], i, rules, *bounds, value, row)
              for i, value in zip(indices, values)]
    self._frontier = min(bound_starts)   # Later windows' bounds start there or later.
    return self._settled([event for event in out if event is not None])

  def push_windows(self, starts, ends, scores):
    """push() of each window of float [w] starts, ends and [w, L] scores; all closed events."""
    closed = []
    for start, end, row in zip(starts, ends, np.asarray(scores, np.float32)):
      closed.extend(self.push(start, end, row))
    return sorted(closed, key=event_order)

  def flush(self):
    """The events still open or waiting, at the end of the input; the stream starts afresh."""
    out = [self._release(index, rules) for index, rules in enumerate(self._per_label)]
    self._frontier = math.inf      # No later window: every held event is decided.
    out = self._settled([event for event in out if event is not None])
    self._last_start = self._frontier = -math.inf
    self._recent = []
    return out

  def undecided_starts(self):
    """Starts (seconds) of the events built so far and not yet given out: open, waiting to
    merge, or held (exclusive labels)."""
    return self._open_starts() + [event.start_seconds for event in self._held]

  def _open_starts(self):
    """Starts (seconds) of the labels' events being built: open or waiting to merge."""
    return [float(track.start) for track in self._tracks if track.pending()]

  def _settled(self, released):
    """The events to give out now, of the standing events just released: all but those of
    exclusive labels, which wait until no undecided or later event can overlap them (step
    6 then keeps them or drops them); sorted by event_order."""
    if not self._exclusive:
      return sorted(released, key=event_order)
    self._recent += released
    self._held += [event for event in released if event.label in self._exclusive]
    out = [event for event in released if event.label not in self._exclusive]
    horizon = min([self._frontier] + self._open_starts())
    waiting = []
    for event in self._held:
      if event.end_seconds > horizon:
        waiting.append(event)
      elif _outscored(event, self._recent):
        self._dropped.append(event)
      else:
        out.append(event)
    self._held = waiting
    floor = min([horizon] + [event.start_seconds for event in waiting])
    self._recent = [event for event in self._recent if event.end_seconds > floor]
    return sorted(out, key=event_order)

  def take_dropped(self):
    """[Event] built but not standing when they closed (see the class), since the last
    call, in the order they closed."""
    dropped, self._dropped = self._dropped, []
    return dropped

  def _release(self, index, rules):
    """The event of label `index` as it closes: it, when it stands; else None (and a built
    one goes to take_dropped)."""
    event, stands = self._tracks[index].take(self.labels[index], index, rules)
    if event is not None and not stands:
      self._dropped.append(event)
    return event if stands else None

  def _check(self, start, end, scores):
    if scores.size != len(self.labels):
      raise EventInputError(f"a window has {scores.size} scores, not one per label "
                            f"({len(self.labels)})")
    if end < start or start < self._last_start:
      raise EventInputError(f"window {start}-{end} s is out of time order (previous start "
                            f"{self._last_start} s) or ends before it starts")
    self._last_start = start

  def _step(self, track, index, rules, start, end, value, row):
    """One label's window under its rules; returns an Event that can no longer grow, or None."""
    if track.inside:
      if value >= rules.exit:
        track.add(start, end, value, row)
      else:
        track.inside = False
        track.wait(row)
      return None
    released = None
    if track.pending() and not start - track.end < rules.merge_gap_seconds:
      released = self._release(index, rules)
    if value >= rules.enter:
      track.add(start, end, value, row)
    elif track.pending():
      track.wait(row)
    return released
