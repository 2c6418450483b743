"""A bounded, ordered queue of notifications kept on disk (sqlite3, stdlib).

Every notification is written here before anyone tries to deliver it, and
removed only once the server has accepted it, so a network outage, a server
restart or a restart of soundscope loses nothing up to the bound.  Past the
bound the OLDEST are dropped, and counted (the count survives restarts too).
Delivery order is insertion order (an INTEGER PRIMARY KEY AUTOINCREMENT never
reuses a key, even after deletions).

The entry being sent is claimed first (`claim`): the bound never drops it while
the request is in flight, and an entry dropped before its claim is never sent.
Without the claim, a notification read just before the bound dropped it could
still reach the server and be counted as both dropped and delivered.  Claims
live in this process, so one process at a time may open an outbox: the file
`<outbox>.lock` is locked (flock) while it is open, and a second soundscope on
the same state folder is refused instead of sending the same notifications.
"""

import fcntl
import json
import os
import sqlite3
import threading

from soundscope.configs import runtime as S

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
"""


class OutboxError(Exception):
  """The outbox cannot be used: in use by another process, or not an outbox file."""


class Outbox:
  """Persistent FIFO of JSON objects, at most `capacity` of them.

  Thread-safe: the loop puts, the delivery thread peeks and acknowledges.

  Args:
    path: sqlite3 file (created with mode 0600; its parent is created).
    capacity: most notifications kept; the oldest beyond it are dropped.
  """

  def __init__(self, path, capacity=S.OUTBOX_MAX_NOTIFICATIONS):
    if capacity < 1:
      raise ValueError("the outbox must hold at least one notification")
    self.path = path
    self.capacity = int(capacity)
    self._lock = threading.Lock()
    self._claimed = None   # seq of the entry being sent, which the bound must not drop.
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    self._lock_fd = os.open(path + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
      fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(self._lock_fd)
      raise OutboxError(f"{path} is in use by another soundscope process "
                        f"(one soundscope serve per state folder)") from None
    if not os.path.exists(path):
      os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    self._db = None
    try:
      self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
      self._db.execute("PRAGMA journal_mode=WAL")
      self._db.execute("PRAGMA synchronous=FULL")  # A put() survives power loss.
      self._db.executescript(_SCHEMA)
    except sqlite3.Error as exc:
      self.close()
      raise OutboxError(f"{path}: not a usable outbox ({exc})") from None

  def put(self, body):
    """Appends a JSON-serialisable object; drops the oldest past the bound.

    Returns:
      int, the number dropped by this call (0 normally).
    """
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    with self._lock, self._db:
      self._db.execute("BEGIN IMMEDIATE")
      self._db.execute("INSERT INTO outbox (body) VALUES (?)", (text,))
      (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
      excess = count - self.capacity
      if excess > 0:
        self._db.execute(
            "DELETE FROM outbox WHERE seq IN "
            "(SELECT seq FROM outbox WHERE seq IS NOT ? ORDER BY seq LIMIT ?)",
            (self._claimed, excess))
        self._bump("dropped", excess)
      return max(0, excess)

  def peek(self, limit=1):
    """The oldest `limit` entries as [(seq, body)], oldest first; they stay queued."""
    with self._lock:
      rows = self._db.execute("SELECT seq, body FROM outbox ORDER BY seq LIMIT ?",
                              (int(limit),)).fetchall()
    return [(seq, json.loads(body)) for seq, body in rows]

  def claim(self, seq):
    """Marks entry `seq` as being sent, so the bound keeps it until ack/reject/release.

    Returns:
      False if the entry is gone (dropped by the bound since it was peeked): do not send it.
    """
    with self._lock:
      present = self._db.execute("SELECT 1 FROM outbox WHERE seq = ?", (seq,)).fetchone()
      self._claimed = seq if present else None
      return present is not None

  def release(self, seq):
    """Ends the claim on `seq` (its send failed; it stays queued and droppable)."""
    with self._lock:
      if self._claimed == seq:
        self._claimed = None

  def ack(self, seq):
    """Removes a delivered entry and counts it as sent (no-op if already gone)."""
    self._remove(seq, "sent")

  def reject(self, seq):
    """Removes an entry the server refused for good (e.g. 400) and counts it."""
    self._remove(seq, "rejected")

  def discard(self, seqs):
    """Removes entries that must not be sent (meant for another destination) in one
    transaction and counts them as dropped; returns how many were still queued."""
    seqs = [int(seq) for seq in seqs]
    with self._lock, self._db:
      self._db.execute("BEGIN IMMEDIATE")
      removed = sum(self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount
                    for seq in seqs if seq != self._claimed)
      if removed:
        self._bump("dropped", removed)
      return removed

  def _remove(self, seq, counter):
    """Ends any claim on `seq`, deletes it and adds it to `counter` if it was still queued."""
    with self._lock, self._db:
      if self._claimed == seq:
        self._claimed = None
      self._db.execute("BEGIN IMMEDIATE")
      removed = self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount
      if removed:
        self._bump(counter, removed)

  def _bump(self, name, amount):
    self._db.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, amount))

  def __len__(self):
    with self._lock:
      return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

  def counters(self):
    """{'queued', 'sent', 'dropped', 'rejected'}: totals since the outbox file was created."""
    with self._lock:
      values = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
      queued = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    return {"queued": queued, "sent": values.get("sent", 0),
            "dropped": values.get("dropped", 0), "rejected": values.get("rejected", 0)}

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()

  def close(self):
    with self._lock:
      if self._db is not None:
        self._db.close()
      if self._lock_fd is not None:
        os.close(self._lock_fd)     # Releases the flock.
        self._lock_fd = None
