"""An event's bounds from the audio's level: EventRules.bounds 'level' (docs/events.md).

A model window's score says a sound is in it, not where: an event found on its
windows' centres (transforms/events.py) still starts and ends up to a quarter
window off the sound.  With bounds 'level' the event then spans the audio it
stands for, on the level track of 20 ms frames (configs.events.LEVEL_*):

  1. peak: the loudest frame between its centre bounds;
  2. floor: the LEVEL_FLOOR_PERCENTILE of the frames around it (the background:
     LEVEL_FLOOR_SECONDS before its start and LEVEL_MARGIN_SECONDS after its
     end; with less than LEVEL_FLOOR_MIN_SECONDS of those, those and its own);
  3. its new bounds: the first and the last frame, from LEVEL_MARGIN_SECONDS
     before its start to as far after its end, within LEVEL_BELOW_PEAK_DB of the
     peak and at least LEVEL_ABOVE_FLOOR_DB above the floor; as found when its
     peak itself is not that far above the floor (so the new bounds always hold
     its peak frame).

Only the bounds move: scores, window counts and the events found stay those of
the centre bounds (merge gaps and durations were measured on them).  Batch
(models/file_events.py) refines with the whole file's track, live
(runtime/live_events.py) with the track so far when an event closes, which
reaches past its margin (a whole window has come after it) but at a stream's
end, where both have the same audio.

  FRAME_SAMPLES                     16 kHz samples of one frame
  refined(event, track)             one Event with its bounds from the level track
  refine(events, labels, rules, track)   [Event]: those whose label's rules say 'level', refined
  LevelTrack(first_seconds)         one stream's frame levels, kept as its samples come

Pure numpy: no model code.
"""

import dataclasses
import math

import numpy as np

from soundscope.configs import events as E
from soundscope.configs import params as P
from soundscope.transforms import events as events_lib
from soundscope.transforms import levels as levels_lib

FRAME_SAMPLES = int(round(E.LEVEL_FRAME_SECONDS * P.SAMPLE_RATE_HZ))   # 320.
FRAME_SECONDS = FRAME_SAMPLES / float(P.SAMPLE_RATE_HZ)


class LevelTrack:
  """The frame levels of one stream (16 kHz samples from first_seconds on).

  Attributes:
    levels: float64 [k] RMS dBFS of the frames kept (transforms/levels.frame_levels).
    first_frame: the stream's frame index of levels[0] (frames before it were let go).
    first_seconds: the stream's start, seconds.
  """

  def __init__(self, first_seconds=0.0):
    self.first_seconds = float(first_seconds)
    self.first_frame = 0
    self._frames = levels_lib.FrameLevels(FRAME_SAMPLES)
    self._pieces = [np.zeros(0, np.float64)]   # Joined when read: a long file's track grows
                                               # block by block without copying each time.

  @property
  def levels(self):
    if len(self._pieces) > 1:
      self._pieces = [np.concatenate(self._pieces)]
    return self._pieces[0]

  @classmethod
  def of(cls, samples, first_seconds=0.0):
    """The track of a whole stretch of 16 kHz samples."""
    track = cls(first_seconds)
    track.add(samples)
    return track

  @classmethod
  def of_levels(cls, levels, first_seconds=0.0):
    """The track of frame levels measured already (float [k] dBFS from first_seconds)."""
    track = cls(first_seconds)
    track._pieces = [np.asarray(levels, np.float64).reshape(-1)]
    return track

  def add(self, samples):
    """float [n] 16 kHz samples that follow those added before."""
    self._pieces.append(self._frames.add(samples))

  def forget_before(self, seconds):
    """Lets go of the frames that end before `seconds`."""
    drop = int(math.floor(self.index(seconds))) - self.first_frame
    if drop > 0:
      self._pieces = [self.levels[drop:]]
      self.first_frame += drop

  def index(self, seconds):
    """The stream's frame index (fractional) at `seconds`."""
    return (float(seconds) - self.first_seconds) / FRAME_SECONDS

  def seconds(self, frame):
    """The start of the stream's frame `frame`, seconds."""
    return self.first_seconds + int(frame) * FRAME_SECONDS

  def frames(self, start_seconds, end_seconds):
    """(first frame index, float64 levels) of the kept frames overlapping [start, end) s."""
    first = max(self.first_frame, int(math.floor(self.index(start_seconds))))
    stop = min(self.first_frame + self.levels.size, int(math.ceil(self.index(end_seconds))))
    stop = max(stop, first)
    return first, self.levels[first - self.first_frame:stop - self.first_frame]


def refined(event, track):
  """One Event with its bounds moved to its loud audio (the module docstring).

  Args:
    event: transforms.events.Event found with centre bounds, seconds of the stream.
    track: the stream's LevelTrack, holding at least its frames from
      LEVEL_FLOOR_SECONDS before its start to LEVEL_MARGIN_SECONDS after its end
      (fewer at the stream's edges).

  Returns:
    The Event with new start_seconds and end_seconds (multiples of 20 ms from
    the stream's start, around its peak frame), or `event` itself when its peak
    is not LEVEL_ABOVE_FLOOR_DB over the floor.
  """
  _, inside = track.frames(event.start_seconds, event.end_seconds)
  if not inside.size:
    return event
  first, near = track.frames(event.start_seconds - E.LEVEL_MARGIN_SECONDS,
                             event.end_seconds + E.LEVEL_MARGIN_SECONDS)
  floor = float(np.percentile(_background(event, track), E.LEVEL_FLOOR_PERCENTILE))
  peak = float(inside.max())
  threshold = max(peak - E.LEVEL_BELOW_PEAK_DB, floor + E.LEVEL_ABOVE_FLOOR_DB)
  if peak < threshold:      # Its own audio does not stand out: no louder sound nearby is it.
    return event
  loud = np.flatnonzero(near >= threshold)
  return dataclasses.replace(event, start_seconds=track.seconds(first + loud[0]),
                             end_seconds=track.seconds(first + loud[-1] + 1))


def _background(event, track):
  """float64 levels of the frames around an event (step 2)."""
  _, before = track.frames(event.start_seconds - E.LEVEL_FLOOR_SECONDS, event.start_seconds)
  _, after = track.frames(event.end_seconds, event.end_seconds + E.LEVEL_MARGIN_SECONDS)
  around = np.concatenate([before, after])
  if around.size * FRAME_SECONDS < E.LEVEL_FLOOR_MIN_SECONDS:
    _, around = track.frames(event.start_seconds - E.LEVEL_FLOOR_SECONDS,
                             event.end_seconds + E.LEVEL_MARGIN_SECONDS)
  return around


def refine(events, labels, rules, track):
  """[Event] with those whose label's rules have bounds 'level' refined (the others as
  they are), sorted by transforms.events.event_order.

  Args:
    events: [transforms.events.Event] of one stream.
    labels: the L label names.
    rules: one EventRules, or L (index-aligned with labels: transforms.events.detect_each).
    track: the stream's LevelTrack.
  """
  rules_of = dict(zip(labels, events_lib.per_label(rules, labels)))
  return sorted((refined(event, track) if rules_of[event.label].bounds == E.BOUNDS_LEVEL
                 else event for event in events), key=events_lib.event_order)


def needs_levels(rules):
  """Whether any of `rules` (one EventRules, or several) has bounds 'level'."""
  rules = (rules,) if isinstance(rules, E.EventRules) else tuple(rules)
  return any(r.bounds == E.BOUNDS_LEVEL for r in rules)
