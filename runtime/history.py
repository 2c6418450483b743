"""The live history: windows (top labels, level) and sound events in SQLite.

One file in the state folder (configs/history.py HISTORY_FILE), in WAL mode so
that the page reads while the loop writes, kept across restarts.  Times are
stored as UTC seconds since the epoch (REAL) and given back as ISO-8601 UTC
strings ending in 'Z', as runtime/prediction.py writes them.

  windows        one row per classified window: bounds, source, level (rms and
                 peak dBFS), saved audio; window_labels holds its top labels.
  events         one row per sound event: inserted by its start notice, updated
                 by later notices and its end (kind "end"); an event still open
                 when the process stopped is marked "interrupted" at the next open.

Retention (prune) deletes windows and events by age, then the oldest windows
(then events) while the file's used pages exceed the size cap; freed pages go
back to the file system (auto_vacuum incremental).  HistorySink feeds it from
the loop; the query functions serve the page (runtime/web).
"""

import contextlib
import datetime
import json
import logging
import math
import sqlite3
import threading
import time

from soundscope.configs import history as H
from soundscope.configs import monitoring as M
from soundscope.runtime import sinks

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
  id INTEGER PRIMARY KEY,
  start_time REAL NOT NULL,          -- UTC seconds since the epoch.
  end_time REAL NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  rms_dbfs REAL,                     -- NULL when the window's level is unknown.
  peak_dbfs REAL,
  saved_audio TEXT                   -- The saved wav's path, or NULL.
);
CREATE INDEX IF NOT EXISTS windows_end ON windows (end_time);
CREATE TABLE IF NOT EXISTS window_labels (
  window_id INTEGER NOT NULL,
  end_time REAL NOT NULL,            -- The window's, for range scans without a join.
  label TEXT NOT NULL,
  score REAL NOT NULL,
  PRIMARY KEY (end_time, window_id, label)
) WITHOUT ROWID;                     -- Stored in time order: a timeline is one range scan.
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  label TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  model TEXT, model_version TEXT, label_set TEXT,
  start_seconds REAL, end_seconds REAL,
  start_time REAL NOT NULL,
  end_time REAL,                     -- NULL while the event lasts.
  peak_score REAL, mean_score REAL, windows INTEGER,
  saved_audio TEXT NOT NULL DEFAULT '[]',   -- JSON list of saved window paths.
  state TEXT NOT NULL,               -- open | closed | interrupted.
  UNIQUE (source, label, start_time)
);
CREATE INDEX IF NOT EXISTS events_start ON events (start_time);
CREATE INDEX IF NOT EXISTS events_label_start ON events (label, start_time);
"""

_EVENT_FIELDS = ("label", "source", "model", "model_version", "label_set", "start_seconds",
                 "end_seconds", "start_time", "end_time", "peak_score", "mean_score", "windows",
                 "saved_audio", "state")
# A source's open event of a label (a label has one at a time); parameters: source, label.
_OPEN_EVENT = "source = ? AND label = ? AND state = 'open'"


# The layout this code writes, kept in the file's `PRAGMA user_version` (0: a file made
# before layouts were numbered, the same tables as 1).  A file of a newer layout is
# refused; an older one is brought up by MIGRATIONS[v] (SQL from layout v to v + 1).
LAYOUT_VERSION = 1
MIGRATIONS = {0: ""}


class HistoryError(Exception):
  """The history file cannot be opened (not SQLite, no permission, a newer layout)."""


def epoch_seconds(iso):
  """'2026-11-26T17:05:01.123Z' (or a datetime) -> UTC seconds since the epoch; None stays None."""
  if iso is None:
    return None
  moment = iso if isinstance(iso, datetime.datetime) else datetime.datetime.fromisoformat(
      str(iso).replace("Z", "+00:00"))
  if moment.tzinfo is None:
    moment = moment.replace(tzinfo=datetime.timezone.utc)
  return moment.timestamp()


def iso_utc(seconds):
  """UTC seconds since the epoch -> '2026-11-26T17:05:01.123Z'; None stays None."""
  if seconds is None:
    return None
  moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
  return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _level(value):
  """A dBFS level for storage: None stays None; -inf and below the floor become the floor."""
  if value is None:
    return None
  value = float(value)
  if math.isnan(value):
    return None
  return max(value, M.LEVEL_FLOOR_DBFS)


class History:
  """The history file: writes from the loop's thread, reads from the page's threads.

  Args:
    path: the SQLite file (made when absent).
    options: configs.history.HistoryOptions (ages and size cap).

  Raises:
    HistoryError: the file cannot be used.
  """

  def __init__(self, path, options=H.HistoryOptions()):
    self.path = path
    self.options = options
    self._lock = threading.Lock()
    try:
      self._db = self._connect()
      self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")   # Only takes effect on a new file.
      self._db.execute("PRAGMA journal_mode = WAL")
      self._db.execute(f"PRAGMA journal_size_limit = {8 * H.BYTES_PER_MB}")
      layout = self._db.execute("PRAGMA user_version").fetchone()[0]
      if layout > LAYOUT_VERSION:
        raise HistoryError(f"history {path}: written by a newer soundscope (layout {layout}; "
                           f"this one reads up to {LAYOUT_VERSION}): upgrade soundscope, or "
                           f"give another --state-dir")
      with self._db:
        self._db.executescript(_SCHEMA)
        for version in range(layout, LAYOUT_VERSION):
          self._db.executescript(MIGRATIONS[version])
        self._db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")
        self.interrupted = self._db.execute(
            "UPDATE events SET state = 'interrupted' WHERE state = 'open'").rowcount
    except sqlite3.DatabaseError as exc:
      raise HistoryError(f"history {path}: {exc}") from None

  def _connect(self):
    db = sqlite3.connect(self.path, timeout=H.BUSY_TIMEOUT_SECONDS, check_same_thread=False,
                         isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")   # WAL: a killed process loses nothing committed.
    return db

  @contextlib.contextmanager
  def _reading(self):
    """A connection of the calling thread's own (WAL readers never wait for the writer)."""
    db = self._connect()
    db.execute("PRAGMA query_only = ON")
    try:
      yield db
    finally:
      db.close()

  def close(self):
    with self._lock:
      self._db.close()

  # -- writing -----------------------------------------------------------------

  def add_window(self, window):
    """Stores one window: a PredictionEvent.to_dict() (its top labels and level)."""
    start, end = epoch_seconds(window["start_utc"]), epoch_seconds(window["end_utc"])
    labels = sorted(window.get("predictions") or [], key=lambda p: -p["score"])
    with self._lock, self._db:
      row = self._db.execute(
          "INSERT INTO windows (start_time, end_time, source, rms_dbfs, peak_dbfs, saved_audio) "
          "VALUES (?, ?, ?, ?, ?, ?)",
          (start, end, window.get("source") or "", _level(window.get("rms_dbfs")),
           _level(window.get("peak_dbfs")), window.get("saved_audio"))).lastrowid
      self._db.executemany(
          "INSERT OR REPLACE INTO window_labels (window_id, end_time, label, score) "
          "VALUES (?, ?, ?, ?)",
          [(row, end, p["label"], float(p["score"])) for p in labels[:H.HISTORY_TOP_LABELS]])

  def add_event(self, notice):
    """Stores an EventNotice.to_dict(): a start makes the row, later notices update it.

    An end updates its label's open event of the same source (a label has one event
    at a time), whose start it may move (EventRules.bounds 'level' refines the
    bounds when the event closes); with none open (no start came), it makes the row.
    A cancel deletes its label's open event of the source: it was no event.
    """
    if notice.get("kind") == "cancel":
      with self._lock, self._db:
        self._db.execute(f"DELETE FROM events WHERE {_OPEN_EVENT}",
                         (notice.get("source") or "", notice.get("label")))
      return
    row = dict(notice)
    row["start_time"] = epoch_seconds(row.get("start_utc"))
    if row["start_time"] is None:
      raise ValueError(f"event {row.get('label')!r} has no start_utc")
    row["end_time"] = epoch_seconds(row.get("end_utc"))
    row["state"] = "closed" if row.get("kind") == "end" else "open"
    row["saved_audio"] = json.dumps(list(row.get("saved_audio") or []))
    row["source"] = row.get("source") or ""
    values = [row.get(name) for name in _EVENT_FIELDS]
    updated = ", ".join(f"{name} = excluded.{name}" for name in _EVENT_FIELDS
                        if name not in ("label", "source", "start_time"))
    with self._lock, self._db:
      if row["state"] == "closed" and self._close_open_event(row):
        return
      self._db.execute(
          f"INSERT INTO events ({', '.join(_EVENT_FIELDS)}) "
          f"VALUES ({', '.join('?' * len(_EVENT_FIELDS))}) "
          f"ON CONFLICT (source, label, start_time) DO UPDATE SET {updated}", values)

  def _close_open_event(self, row):
    """Updates the open event of row's source and label with row; whether there was one."""
    names = [name for name in _EVENT_FIELDS if name not in ("label", "source")]
    return self._db.execute(
        f"UPDATE events SET {', '.join(f'{name} = ?' for name in names)} "
        f"WHERE {_OPEN_EVENT}",
        [row.get(name) for name in names] + [row["source"], row["label"]]).rowcount > 0

  def prune(self, now=None):
    """Applies retention: ages, then the size cap.  Returns {"windows": n, "events": n} deleted.

    Deletes in batches of PRUNE_BATCH_ROWS, so the loop's writes wait little.
    """
    now = time.time() if now is None else now
    deleted = {"windows": 0, "events": 0}
    window_cutoff = now - self.options.history_window_days * H.SECONDS_PER_DAY
    event_cutoff = now - self.options.history_event_days * H.SECONDS_PER_DAY
    while self._delete_windows_before(window_cutoff, deleted):
      pass
    while self._delete_events_before(event_cutoff, deleted):
      pass
    cap = self.options.history_max_mb * H.BYTES_PER_MB
    while (used := self.used_bytes()) > cap:
      rows = self._rows_over(used, cap)
      if not (self._delete_windows_before(math.inf, deleted, rows)
              or self._delete_events_before(math.inf, deleted, rows)):
        break
    with self._lock:
      self._db.execute("PRAGMA incremental_vacuum")
      self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")   # Never waits for the page's readers.
    return deleted

  def _rows_over(self, used, cap):
    """About how many of the oldest rows to delete to bring `used` bytes under `cap`."""
    with self._lock:
      rows = sum(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                 for table in ("windows", "window_labels", "events"))
    share = (used - cap) / used
    return int(min(max(math.ceil(rows * share / 2), 1), H.PRUNE_BATCH_ROWS))

  def _delete_windows_before(self, cutoff, deleted, rows=H.PRUNE_BATCH_ROWS):
    """Deletes up to `rows` of the oldest windows ending before cutoff; True if any went."""
    with self._lock, self._db:
      last = self._db.execute(
          "SELECT MAX(end_time) FROM (SELECT end_time FROM windows WHERE end_time < ? "
          "ORDER BY end_time LIMIT ?)", (cutoff, rows)).fetchone()[0]
      if last is None:
        return False
      self._db.execute("DELETE FROM window_labels WHERE end_time <= ?", (last,))
      deleted["windows"] += self._db.execute("DELETE FROM windows WHERE end_time <= ?",
                                             (last,)).rowcount
    return True

  def _delete_events_before(self, cutoff, deleted, rows=H.PRUNE_BATCH_ROWS):
    """Deletes up to `rows` of the oldest events starting before cutoff; True if any went."""
    with self._lock, self._db:
      count = self._db.execute(
          "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE start_time < ? "
          "ORDER BY start_time LIMIT ?)", (cutoff, rows)).rowcount
    deleted["events"] += count
    return count > 0

  def used_bytes(self):
    """Bytes of the file's pages in use (the file itself may hold free pages until vacuumed)."""
    with self._lock:
      pages, free, size = (self._db.execute(f"PRAGMA {name}").fetchone()[0]
                           for name in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size

  # -- reading -----------------------------------------------------------------

  def events(self, label=None, since=None, until=None, offset=0, limit=H.EVENTS_PAGE_SIZE):
    """Events newest first, filtered by label and by start time in [since, until).

    Args:
      label: exact label, or None for all.
      since, until: UTC seconds since the epoch, or None (no bound).
      offset, limit: the page: skip `offset` events, give at most `limit`.

    Returns:
      {"events": [dict per event], "total": events matching}.
    """
    where, values = [], []
    if label:
      where.append("label = ?")
      values.append(label)
    if since is not None:
      where.append("start_time >= ?")
      values.append(since)
    if until is not None:
      where.append("start_time < ?")
      values.append(until)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with self._reading() as db:
      total = db.execute(f"SELECT COUNT(*) FROM events {clause}", values).fetchone()[0]
      rows = db.execute(
          f"SELECT id, {', '.join(_EVENT_FIELDS)} FROM events {clause} "
          f"ORDER BY start_time DESC, id DESC LIMIT ? OFFSET ?",
          values + [int(limit), int(offset)]).fetchall()
    return {"events": [_event_dict(row) for row in rows], "total": total}

  def event(self, event_id):
    """One event by id, or None."""
    with self._reading() as db:
      row = db.execute(f"SELECT id, {', '.join(_EVENT_FIELDS)} FROM events WHERE id = ?",
                       (int(event_id),)).fetchone()
    return _event_dict(row) if row else None

  def labels(self):
    """Labels that have events, sorted."""
    with self._reading() as db:
      # One seek of the (label, start_time) index per label, not a scan of every event.
      rows = db.execute(
          "WITH RECURSIVE found(label) AS (SELECT MIN(label) FROM events UNION ALL "
          "SELECT (SELECT MIN(label) FROM events WHERE label > found.label) FROM found "
          "WHERE found.label IS NOT NULL) "
          "SELECT label FROM found WHERE label IS NOT NULL").fetchall()
    return [row[0] for row in rows]

  def timeline(self, since, until, points=H.TIMELINE_POINTS, lanes=H.TIMELINE_LANES):
    """Windows in [since, until) in at most `points` time buckets, for the page's chart.

    Each bucket holds the maximum score of each label and the maximum levels of
    its windows; the labels given are the `lanes` with the highest scores.

    Returns:
      {"since", "until" (ISO UTC), "bucket_seconds",
       "start", "end": [n] bucket's first window start and last window end (UTC seconds),
       "rms_dbfs", "peak_dbfs": [n] (None when unknown),
       "labels": [L], "scores": [L][n] (None where the label was not among a window's top)}.
    """
    bucket = max((until - since) / max(int(points), 1), 1e-3)
    with self._reading() as db:
      level_rows = db.execute(
          "SELECT CAST((end_time - ?1) / ?2 AS INTEGER) AS b, MIN(start_time), MAX(end_time), "
          "MAX(rms_dbfs), MAX(peak_dbfs) FROM windows WHERE end_time >= ?1 AND end_time < ?3 "
          "GROUP BY b ORDER BY b", (since, bucket, until)).fetchall()
      score_rows = db.execute(
          "SELECT CAST((end_time - ?1) / ?2 AS INTEGER) AS b, label, MAX(score) "
          "FROM window_labels WHERE end_time >= ?1 AND end_time < ?3 GROUP BY b, label",
          (since, bucket, until)).fetchall()
    position = {row[0]: n for n, row in enumerate(level_rows)}
    best = {}
    for _, label, score in score_rows:
      best[label] = max(best.get(label, 0.0), score)
    labels = sorted(best, key=lambda label: (-best[label], label))[:int(lanes)]
    lane = {label: n for n, label in enumerate(labels)}
    scores = [[None] * len(level_rows) for _ in labels]
    for b, label, score in score_rows:
      if label in lane and b in position:
        scores[lane[label]][position[b]] = round(score, 4)
    return {"since": iso_utc(since), "until": iso_utc(until), "bucket_seconds": bucket,
            "start": [row[1] for row in level_rows], "end": [row[2] for row in level_rows],
            "rms_dbfs": [row[3] for row in level_rows],
            "peak_dbfs": [row[4] for row in level_rows],
            "labels": labels, "scores": scores}

  def last_window_end(self):
    """UTC seconds since the epoch of the latest window's end, or None without windows."""
    with self._reading() as db:
      return db.execute("SELECT MAX(end_time) FROM windows").fetchone()[0]

  def counts(self):
    """{"windows": n, "events": n} stored."""
    with self._reading() as db:
      return {"windows": db.execute("SELECT COUNT(*) FROM windows").fetchone()[0],
              "events": db.execute("SELECT COUNT(*) FROM events").fetchone()[0]}


def _event_dict(row):
  event = dict(zip(("id",) + _EVENT_FIELDS, row))
  event["start_utc"] = iso_utc(event.pop("start_time"))
  event["end_utc"] = iso_utc(event.pop("end_time"))
  event["saved_audio"] = json.loads(event["saved_audio"] or "[]")
  return event


class HistorySink(sinks.Sink):
  """Writes every window and event notice to a History.

  A write that fails (disk full, a locked file) raises to the SinkSet, which
  counts and shows it; the next write is tried anew.
  """
  name = "history"

  def __init__(self, history):
    self.history = history
    self.windows = 0
    self.events = 0

  def emit(self, event):
    self.history.add_window(event.to_dict())
    self.windows += 1

  def event(self, notice):
    self.history.add_event(notice.to_dict())
    self.events += 1

  def status(self):
    return {"path": self.history.path, "windows_written": self.windows,
            "events_written": self.events}

  def close(self):
    self.history.close()
