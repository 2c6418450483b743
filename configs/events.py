"""Sound-event rules, with their units (transforms/events.py applies them; docs/events.md).

An event of one label is a stretch of analysis windows whose score (in [0, 1])
rises to ENTER and stays at EXIT or more; events of one label whose gap is
under MERGE_GAP_SECONDS merge; events shorter than MIN_DURATION_SECONDS are
dropped.  TAIL says what the last windows count for when they run past the
audio's end (their real span is shorter than the model's window).
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
