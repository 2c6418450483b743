"""Retention of the saved windows (--save-path) and of the history, run periodically.

Saved windows are the loop's record_<UTC start>.wav files (runtime/loop.py
save_window): their names sort in time order, so the oldest go first.  Only
files of that pattern directly in the folder are ever deleted; anything else
the user keeps there is left alone (and not counted).
"""

import dataclasses
import logging
import os
import re
import threading
import time

from soundscope.configs import history as H
from soundscope.runtime import history as history_lib

log = logging.getLogger(__name__)

_RECORD = re.compile(r"^record_\d{8}T\d{6}\.\d{3}Z(_[1-9]\d{0,8})?\.wav$")


def is_record_name(name):
  """True for a saved window's file name (record_20261126T170501.123Z.wav, or
  record_20261126T170501.123Z_2.wav when that millisecond's name was taken)."""
  return bool(_RECORD.match(name))


@dataclasses.dataclass
class SavedAudio:
  """What one pass over the saved windows found and did.

  Attributes:
    files, bytes: saved windows kept after the pass, and their total size.
    deleted_files, deleted_bytes: removed by this pass (age, then size).
    free_bytes: free space on the folder's file system.
  """
  files: int = 0
  bytes: int = 0
  deleted_files: int = 0
  deleted_bytes: int = 0
  free_bytes: int = 0


def prune_saved(directory, max_age_seconds, max_bytes, now=None):
  """Deletes saved windows older than max_age_seconds, then the oldest past max_bytes in total.

  A window's age is its file's modification time (when it was written).

  Returns:
    SavedAudio.

  Raises:
    OSError: the folder cannot be listed.
  """
  now = time.time() if now is None else now
  records = []
  with os.scandir(directory) as entries:
    for entry in entries:
      if is_record_name(entry.name) and entry.is_file(follow_symlinks=False):
        info = entry.stat(follow_symlinks=False)
        records.append((entry.name, entry.path, info.st_size, info.st_mtime))
  records.sort()
  result = SavedAudio()
  total = sum(size for _, _, size, _ in records)
  for name, path, size, mtime in records:
    if now - mtime <= max_age_seconds and total <= max_bytes:
      break
    try:
      os.unlink(path)
    except FileNotFoundError:   # Removed meanwhile: it is gone all the same.
      pass
    total -= size
    result.deleted_files += 1
    result.deleted_bytes += size
  result.files = len(records) - result.deleted_files
  result.bytes = total
  result.free_bytes = _free_bytes(directory)
  return result


def _free_bytes(directory):
  usage = os.statvfs(directory)
  return usage.f_bavail * usage.f_frsize


class Retention:
  """Applies both retentions every `interval` seconds on a thread of its own.

  Args:
    options: configs.history.HistoryOptions.
    save_path: the saved windows' folder, or None.
    history: runtime.history.History, or None.
    interval: seconds between passes.
  """

  def __init__(self, options, save_path=None, history=None,
               interval=H.RETENTION_INTERVAL_SECONDS):
    self.options = options
    self.save_path = save_path
    self.history = history
    self.interval = interval
    self.saved = None                 # SavedAudio of the last pass.
    self.deleted = {"saved_files": 0, "windows": 0, "events": 0}   # Since the start.
    self.last_error = None
    self.last_run = None              # time.time() of the last pass.
    self._stop = threading.Event()
    self._thread = None

  def run_once(self, now=None):
    """One pass of both retentions; a failure is kept in last_error and logged once."""
    errors = []
    if self.save_path:
      try:
        self.saved = prune_saved(self.save_path, self.options.save_max_days * H.SECONDS_PER_DAY,
                                 self.options.save_max_mb * H.BYTES_PER_MB, now)
        self.deleted["saved_files"] += self.saved.deleted_files
      except OSError as exc:
        errors.append(f"saved windows in {self.save_path}: {exc.strerror or exc}")
    if self.history is not None:
      try:
        pruned = self.history.prune(now)
        self.deleted["windows"] += pruned["windows"]
        self.deleted["events"] += pruned["events"]
      except Exception as exc:  # sqlite3 errors: reported, retried at the next pass.
        errors.append(f"history: {exc}")
    error = "; ".join(errors) or None
    if error != self.last_error:
      if error:
        log.warning("retention: %s", error)
      elif self.last_error:
        log.warning("retention works again")
    self.last_error = error
    self.last_run = time.time()

  def start(self):
    self._thread = threading.Thread(target=self._run, name="soundscope-retention", daemon=True)
    self._thread.start()
    return self

  def _run(self):
    while True:
      self.run_once()
      if self._stop.wait(self.interval):
        return

  def stop(self):
    self._stop.set()
    if self._thread is not None:
      self._thread.join(timeout=10)

  def status(self):
    """JSON-ready state for /api/status."""
    status = {"deleted": dict(self.deleted), "last_error": self.last_error,
              "last_run_utc": history_lib.iso_utc(self.last_run)}
    if self.saved is not None:
      status["saved"] = dataclasses.asdict(self.saved)
    return status
