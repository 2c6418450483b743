"""Sound-event rules, with their units (transforms/events.py applies them; docs/events.md).

An event of one label is a stretch of analysis windows whose score (in [0, 1])
rises to ENTER and stays at EXIT or more; events of one label whose gap is
under MERGE_GAP_SECONDS merge; events shorter than MIN_DURATION_SECONDS are
dropped.  TAIL says what the last windows count for when they run past the
audio's end (their real span is shorter than the model's window).  BOUNDS says
which part of its windows an event spans: the whole windows, or their centres
(a window's score tells mostly of the sound in its middle), or the audio
around those centres whose level is near the event's loudest (LEVEL_*).
COMPETE lets a window count for a label only when the label's score is near
the best of all labels' in that window (so that a sound heard as rain does not
also start a fire event); COMPETE_MEAN keeps an event only when its label is
near the best on average over the event's windows.  EXCLUSIVE makes a label
give way where events overlap: for label sets whose labels do not sound at
once (one ESC-10 category at a time), the stronger of two overlapping events
of different labels is the one heard.
"""

import dataclasses

from soundscope.configs.fields import flag

ENTER = 0.5                  # Score (in [0, 1]) at which an event starts.
EXIT = 0.3                   # Score under which it ends (at most ENTER: hysteresis).
MIN_DURATION_SECONDS = 0.0   # Shorter events are dropped, seconds (start of first window to
                             # end of last; one YAMNet window is 0.975 s).
MERGE_GAP_SECONDS = 0.5      # Events of one label closer than this merge, seconds.
TAIL_WEIGHT = "weight"       # A cut last window's score times its real/full length.
TAIL_DROP = "drop"           # Cut windows are ignored.
TAIL_KEEP = "keep"           # Cut windows count like full ones.
TAILS = (TAIL_WEIGHT, TAIL_DROP, TAIL_KEEP)
BOUNDS_WINDOW = "window"     # An event spans its windows whole: first start to last end.
BOUNDS_CENTRE = "centre"     # An event spans its windows' centres (CENTRE_FRACTION of each).
BOUNDS_LEVEL = "level"       # Found as 'centre', then spans the audio near it that is loud
                             # enough (transforms/level_bounds.py, the LEVEL_* values below).
BOUNDS = (BOUNDS_WINDOW, BOUNDS_CENTRE, BOUNDS_LEVEL)
CENTRE_FRACTION = 0.5        # With 'centre', a window stands for the middle half of the model's
                             # window: from a quarter window after its start to a quarter before
                             # its end (YAMNet: 0.244-0.731 s of 0.975 s, about its 0.48 s hop),
                             # cut at the audio's end.
LEVEL_FRAME_SECONDS = 0.02   # The level track's frames (RMS dBFS of each), s: 320 samples.
LEVEL_MARGIN_SECONDS = 0.75  # With 'level', an event's bounds move at most this far out of its
                             # windows' centres, s (under a YAMNet window, so that live has the
                             # audio when the event closes); they may move in without limit.
LEVEL_BELOW_PEAK_DB = 20.0   # A frame belongs to the event when within this of the loudest
                             # frame between its centre bounds, dB...
LEVEL_ABOVE_FLOOR_DB = 10.0  # ... and at least this above the background floor, dB.
LEVEL_FLOOR_SECONDS = 2.0    # The floor: LEVEL_FLOOR_PERCENTILE of the frames around the event:
                             # from this long before its start, and up to LEVEL_MARGIN_SECONDS
                             # after its end, s...
LEVEL_FLOOR_MIN_SECONDS = 0.2   # ... or, with less than this of them (at a stream's start),
                                # of those and the event's own, s.
LEVEL_FLOOR_PERCENTILE = 10.0
COMPETE = 0.0                # A window counts for a label only when its score is at least this
                             # x the best label's score in the window (0: labels independent;
                             # 1: only the window's top label).
COMPETE_MEAN = 0.0           # An event is kept only when its label's mean score over its windows
                             # is at least this x the best label's mean over those windows (0:
                             # every event is kept; 1: only where its label is the top one).
EXCLUSIVE = False            # An event is dropped when an event of another label overlaps it
                             # with a higher peak score (False: labels may sound at once).


@dataclasses.dataclass(frozen=True)
class EventRules:
  """How per-window label scores become events (transforms/events.py).

  Attributes:
    enter: score in (0, 1] at which an event starts.
    exit: score under which an event ends, in [0, enter].
    min_duration_seconds: events shorter than this are dropped, seconds >= 0.
    merge_gap_seconds: events of one label whose gap (next start - previous end)
      is under this merge, seconds >= 0.
    tail: a window cut at the audio's end: 'weight' (score x real/full span),
      'drop' (ignored) or 'keep' (as is).
    bounds: the part of a window an event spans: 'window' (all of it),
      'centre' (its middle CENTRE_FRACTION of the model's window length, cut at
      the window's end) or 'level' (found as 'centre', then moved to the audio
      whose 20 ms level is near the event's loudest and above the background:
      transforms/level_bounds.py; needs the audio's level track); merge gaps and
      durations are over the window or centre bounds.
    compete: ratio in [0, 1]: a window counts for a label (its score is as
      if absent: under exit) unless the label's score is at least this x the
      best score of all labels in that window; 0 makes labels independent.
    compete_mean: ratio in [0, 1]: an event is dropped when its label's mean
      (tail-weighted) score over its windows is under this x the best mean of
      all labels over the same windows; 0 keeps every event.
    exclusive: an event is dropped when an event of another label overlaps it
      (their bounds as found, before 'level' moves them) with a higher peak
      score, whatever that label's rules; False: labels may sound at once.
  """
  enter: float = dataclasses.field(default=ENTER, metadata=flag(
      "--event-enter", "an event starts when a window's label score reaches this",
      metavar="SCORE"))
  exit: float = dataclasses.field(default=EXIT, metadata=flag(
      "--event-exit", "an event goes on while its scores stay at this or more (at most "
      "--event-enter)", metavar="SCORE"))
  min_duration_seconds: float = dataclasses.field(default=MIN_DURATION_SECONDS, metadata=flag(
      "--event-min-duration", "shorter events are dropped", unit="s", metavar="SECONDS"))
  merge_gap_seconds: float = dataclasses.field(default=MERGE_GAP_SECONDS, metadata=flag(
      "--event-merge-gap", "events of one label closer than this merge", unit="s",
      metavar="SECONDS"))
  tail: str = dataclasses.field(default=TAIL_WEIGHT, metadata=flag(
      "--event-tail", "a last window cut at the audio's end: its score weighted by its real "
      "length, dropped, or kept as is", choices=TAILS))
  bounds: str = dataclasses.field(default=BOUNDS_WINDOW, metadata=flag(
      "--event-bounds", "an event spans its windows whole (window), their middle halves "
      "(centre: a window's score tells mostly of its middle), or the audio near those that is "
      "within 20 dB of the event's loudest 20 ms and above the background (level)",
      choices=BOUNDS))
  compete: float = dataclasses.field(default=COMPETE, metadata=flag(
      "--event-compete", "a window counts for a label only when its score is at least this "
      "times the best label's score in that window (0: labels independent, 1: only the top "
      "label)", metavar="RATIO"))
  compete_mean: float = dataclasses.field(default=COMPETE_MEAN, metadata=flag(
      "--event-compete-mean", "an event is kept only when its label's mean score over its "
      "windows is at least this times the best label's mean over them (0: every event)",
      metavar="RATIO"))
  exclusive: bool = dataclasses.field(default=EXCLUSIVE, metadata=flag(
      "--event-exclusive", "one sound at a time: an event is dropped when an event of another "
      "label overlaps it with a higher peak score"))

  def __post_init__(self):
    if not 0.0 < self.enter <= 1.0:
      raise ValueError(f"enter must be in (0, 1], not {self.enter}")
    if not 0.0 <= self.exit <= self.enter:
      raise ValueError(f"exit must be in [0, enter] (enter is {self.enter}), not {self.exit}")
    if not self.min_duration_seconds >= 0.0:
      raise ValueError(f"min_duration_seconds must be at least 0 s, not "
                       f"{self.min_duration_seconds}")
    if not self.merge_gap_seconds >= 0.0:
      raise ValueError(f"merge_gap_seconds must be at least 0 s, not {self.merge_gap_seconds}")
    if self.tail not in TAILS:
      raise ValueError(f"tail must be one of {', '.join(TAILS)}, not {self.tail!r}")
    if self.bounds not in BOUNDS:
      raise ValueError(f"bounds must be one of {', '.join(BOUNDS)}, not {self.bounds!r}")
    if not 0.0 <= self.compete <= 1.0:
      raise ValueError(f"compete must be a ratio in [0, 1], not {self.compete}")
    if not 0.0 <= self.compete_mean <= 1.0:
      raise ValueError(f"compete_mean must be a ratio in [0, 1], not {self.compete_mean}")
    if not isinstance(self.exclusive, bool):
      raise ValueError(f"exclusive must be true or false, not {self.exclusive!r}")
