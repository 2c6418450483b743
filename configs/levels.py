"""The quiet-window rule (models/scoring.py; levels themselves: transforms/levels.py, with
their floor for silence in configs/monitoring.py LEVEL_FLOOR_DBFS)."""

import dataclasses
import typing

from soundscope.configs.fields import flag


@dataclasses.dataclass(frozen=True)
class LevelOptions:
  """Which windows are classified.

  Attributes:
    min_level_dbfs: a window whose RMS level (dBFS, of its 16 kHz samples) is
      under this is too quiet: not classified (no predictions or scores), not
      pooled into the clip's scores, never part of an event.  None: every window
      is classified.  At most 0 dBFS.
  """
  min_level_dbfs: typing.Optional[float] = dataclasses.field(default=None, metadata=flag(
      "--min-level", "windows whose RMS level is under this are too quiet: not classified "
      "(no predictions), left out of the clip's scores and of events", unit="dBFS",
      metavar="DBFS"))

  def __post_init__(self):
    if self.min_level_dbfs is not None and not self.min_level_dbfs <= 0.0:
      raise ValueError(f"min_level_dbfs is a level in dBFS, at most 0, not {self.min_level_dbfs}")
