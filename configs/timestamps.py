"""Absolute start times of audio files (transforms/timestamps.py; docs/events.md).

`--start-time` is a file-name pattern (strftime-like: %Y %y %m %d %H %M %S %j,
`*` for any text, matched against the whole file name without its extension),
one of the NAMED_PATTERNS below, or a CSV file `path,start_utc`.  Times read
from names are in `--timezone` (an IANA name), then converted to UTC.
"""

import dataclasses
import typing
import zoneinfo

from soundscope.configs.fields import flag

DEFAULT_TIMEZONE = "UTC"
# Built-in file-name patterns of common recorders (the name without its extension).
NAMED_PATTERNS = {
    # AudioMoth: 20240501_053000.WAV (UTC unless the recorder was set to local time).
    "audiomoth": "%Y%m%d_%H%M%S",
    # Wildlife Acoustics Song Meter (SM4, SM Mini, ...): SITE_20240501_053000.wav,
    # S4A01234_20240501_053000.wav (the recorder's local time: give --timezone).
    "wildlife-acoustics": "*_%Y%m%d_%H%M%S",
    "songmeter": "*_%Y%m%d_%H%M%S",
}
# The CSV form: a header line naming these two columns (others are ignored).
CSV_PATH_COLUMN = "path"
CSV_START_COLUMN = "start_utc"
CSV_SUFFIX = ".csv"


@dataclasses.dataclass(frozen=True)
class StartTimeOptions:
  """Where the files' start times come from.

  Attributes:
    start_time: a file-name pattern, a NAMED_PATTERNS name or a CSV path
      (ends in .csv); None: start times unknown (no UTC times).
    timezone: IANA time-zone name of the times in file names (and of CSV times
      without an offset).
  """
  start_time: typing.Optional[str] = dataclasses.field(default=None, metadata=flag(
      "--start-time", "each file's start time, for UTC times of windows and events: a "
      "file-name pattern (%%Y%%m%%d_%%H%%M%%S, * for any text), a built-in pattern ("
      + ", ".join(NAMED_PATTERNS) + ") or a CSV file with columns path,start_utc",
      metavar="PATTERN|CSV"))
  timezone: str = dataclasses.field(default=DEFAULT_TIMEZONE, metadata=flag(
      "--timezone", "time zone of the times in file names (IANA name, e.g. Europe/Paris)",
      metavar="ZONE"))

  def __post_init__(self):
    try:
      zoneinfo.ZoneInfo(self.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
      raise ValueError(f"timezone {self.timezone!r} is not an IANA time-zone name "
                       f"(e.g. UTC, Europe/Paris)") from None
    if self.start_time is not None and not self.start_time.strip():
      raise ValueError("start_time is empty: give a pattern, a built-in name or a CSV file")
