"""Defaults of the live history (SQLite), the saved windows' retention and the page's access.

Commands expose the ones a user may want to change as flags (HistoryOptions,
PageOptions); the rest are here so that no number hides in the code.
"""

import dataclasses

from soundscope.configs.fields import flag

# History (SQLite in the state folder, WAL mode).
HISTORY_FILE = "history.sqlite3"
WINDOW_DAYS = 30.0              # Windows (top labels, level) older than this are deleted.
EVENT_DAYS = 365.0              # Events older than this are deleted (they are small).
HISTORY_MAX_MB = 1000.0         # Past this the oldest windows, then the oldest events, go.
HISTORY_TOP_LABELS = 5          # Labels kept per window (the window's best, any score).
BYTES_PER_MB = 1_000_000
SECONDS_PER_DAY = 86400.0
PRUNE_BATCH_ROWS = 5000         # Rows deleted per statement while pruning (short write locks).
BUSY_TIMEOUT_SECONDS = 5.0      # A reader or writer waits this long for SQLite's lock.

# Saved windows (--save-path): record_<UTC>.wav, 32 kB/s at 16 kHz 16-bit (2.8 GB a day).
SAVE_MAX_DAYS = 7.0             # Saved windows older than this are deleted.
SAVE_MAX_MB = 5000.0            # Past this total the oldest saved windows are deleted.
RETENTION_INTERVAL_SECONDS = 300.0  # How often the session applies both retentions (a pass
                                    # over a week of saved windows, ~120,000 files, stats each).

# Page queries.
EVENTS_PAGE_SIZE = 50           # Events per page of the history list.
EVENTS_PAGE_MAX = 500           # The most a client may ask for at once.
TIMELINE_MINUTES = 60.0         # The timeline's default span.
TIMELINE_MAX_MINUTES = 7 * 24 * 60.0   # The longest span a client may ask for (a week).
TIMELINE_POINTS = 600           # Time buckets at most per timeline answer (max score, max level).
TIMELINE_LANES = 12             # Label lanes at most (the labels with the highest scores).
TIMELINE_MARGIN_SECONDS = 1.0   # A timeline ends this long after now (or after the latest window).

# Page files: their URLs carry a digest of their contents, so browsers may keep them.
STATIC_MAX_AGE_SECONDS = 86400

# Page access.
PAGE_PASSWORD_ENV = "SOUNDSCOPE_PAGE_PASSWORD"       # The page password, when not in a file.
PAGE_USER = "soundscope"        # The HTTP Basic user name the browser shows (any name is accepted).


@dataclasses.dataclass(frozen=True)
class HistoryOptions:
  """What the live history keeps, and for how long (`soundscope serve`'s flags).

  Attributes:
    history_window_days: windows (top labels, level) are kept this long, days.
    history_event_days: events are kept this long, days.
    history_max_mb: the history file's size cap, MB (10^6 bytes): past it the
      oldest windows, then the oldest events, are deleted.
    save_max_days: saved windows (--save-path) are kept this long, days.
    save_max_mb: total size cap of the saved windows, MB (10^6 bytes).
    no_history: keep no history (the page then shows only the live windows).
  """
  history_window_days: float = dataclasses.field(default=WINDOW_DAYS, metadata=flag(
      "--history-window-days", "keep windows (top labels, level) in the history this long",
      unit="days", metavar="DAYS"))
  history_event_days: float = dataclasses.field(default=EVENT_DAYS, metadata=flag(
      "--history-event-days", "keep events in the history this long", unit="days",
      metavar="DAYS"))
  history_max_mb: float = dataclasses.field(default=HISTORY_MAX_MB, metadata=flag(
      "--history-max-mb", "history size cap: past it the oldest windows, then events, go",
      unit="MB", metavar="MB"))
  save_max_days: float = dataclasses.field(default=SAVE_MAX_DAYS, metadata=flag(
      "--save-max-days", "delete saved windows (--save-path) older than this", unit="days",
      metavar="DAYS"))
  save_max_mb: float = dataclasses.field(default=SAVE_MAX_MB, metadata=flag(
      "--save-max-mb", "delete the oldest saved windows past this total size", unit="MB",
      metavar="MB"))
  no_history: bool = dataclasses.field(default=False, metadata=flag(
      "--no-history", "keep no history of windows and events"))

  def __post_init__(self):
    for name in ("history_window_days", "history_event_days", "history_max_mb",
                 "save_max_days", "save_max_mb"):
      value = getattr(self, name)
      if not value > 0:
        raise ValueError(f"{name} must be positive, not {value}")


@dataclasses.dataclass(frozen=True)
class PageOptions:
  """Who may reach the page (`soundscope serve`'s flags).

  Attributes:
    allow_remote: serve the page on a non-loopback --host (then a page
      password is required).
    page_password_file: file whose first line is the page password (HTTP
      Basic; any user name); else $SOUNDSCOPE_PAGE_PASSWORD.
  """
  allow_remote: bool = dataclasses.field(default=False, metadata=flag(
      "--allow-remote", "allow a --host other than loopback (needs a page password)"))
  page_password_file: str = dataclasses.field(default=None, metadata=flag(
      "--page-password-file", f"file holding the page password (else ${PAGE_PASSWORD_ENV}); "
      "the page then asks for it (HTTP Basic)", metavar="FILE"))
