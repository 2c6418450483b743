"""The archive report's settings (`soundscope report`, soundscope/report/; docs/report.md).

The report summarises an events table per label: counts, durations, activity
by hour of day and by date (in TIMEZONE, UTC by default), and each label's
TOP_EVENTS highest-peak events with links to the audio.
"""

import dataclasses
import typing
import zoneinfo

from soundscope.configs.fields import flag

TOP_EVENTS = 10             # Highest-peak events listed per label.
MAX_TOP_EVENTS = 1000       # At most this many per label (the page holds them all).
TIMEZONE = "UTC"            # IANA name of the zone of the hour-of-day and date charts.
CHART_LABELS = 8            # Labels drawn together in the archive-wide charts (most events first).
OFFSET_BINS = 60            # At most this many bins in the by-offset-in-file charts, used when
                            # no event has an absolute time.
OFFSET_BIN_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600,
                      43200, 86400)   # Bin widths the offset charts pick from, seconds.
MAX_CALENDAR_DAYS = 3660    # A date chart spanning more days shows only the days with events.
EVENTS_GLOB = "*events.parquet"   # The files a folder argument stands for (predict --events
                                  # writes <prefix>-events.parquet).


@dataclasses.dataclass(frozen=True)
class ArchiveReport:
  """What `soundscope report` puts on its page.

  Attributes:
    top_events: highest-peak events listed per label, 1 to MAX_TOP_EVENTS.
    timezone: IANA zone name (e.g. "Europe/Paris") of the hour-of-day and date
      charts and the times shown; "UTC" by default.
    title: the page's title, or None for "Sound events: <first input's name>" (and how
      many more inputs).
  """
  top_events: int = dataclasses.field(default=TOP_EVENTS, metadata=flag(
      "--top-events", "highest-peak events listed per label", metavar="N"))
  timezone: str = dataclasses.field(default=TIMEZONE, metadata=flag(
      "--timezone", "IANA time zone of the hour-of-day and date charts and of the times shown",
      metavar="ZONE"))
  title: typing.Optional[str] = dataclasses.field(default=None, metadata=flag(
      "--title", "the page's title (default: 'Sound events: ' and the first input's name)"))

  def __post_init__(self):
    if not 1 <= self.top_events <= MAX_TOP_EVENTS:
      raise ValueError(f"top_events must be in [1, {MAX_TOP_EVENTS}], not {self.top_events}")
    try:
      zoneinfo.ZoneInfo(self.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
      raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone name "
                       f"(e.g. UTC, Europe/Paris, America/New_York)") from None
