"""Beam metrics counters and the progress line.

Counters (namespace `soundscope`), visible in any runner's UI and printed at
the end of a run:
  files_read            inputs decoded without error
  audio_milliseconds    audio decoded, in milliseconds (counters are integers)
  examples              0.96 s VGGish examples computed
  records_written       SequenceExamples / prediction rows produced
  errors_<error_type>   inputs routed to the errors output, by type

Progress.  Beam's local runners report metrics only when the pipeline ends, so
the workers (in this process, or in the worker processes of
`--direct_running_mode=multi_processing`) each write a tiny JSON "beacon" file
with their running totals into a private directory, at most every
BEACON_INTERVAL_SECONDS; a thread of the launching process sums the beacons
and prints `files done/total, audio seconds per wall second, time left` on
stderr.  Until a worker has loaded its model (TensorFlow and VGGish take
~10-25 s) and no input is done yet, the line says `starting (workers, models)... N s`
instead: the model handlers drop a `.ready` file in the directory once loaded
(mark_ready).  On remote workers (Dask at --dask-address, Flink, ...) the
directory is not shared: the line then counts the finished parts' files
(their done-files, pipelines/parts.py, in the staging folder the launcher
reads anyway), part by part.
"""

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid

from soundscope.configs import pipelines as PC
from soundscope.util import atomic

NAMESPACE = "soundscope"
BEACON_INTERVAL_SECONDS = PC.BEACON_INTERVAL_SECONDS    # configs/pipelines.py
REPORT_INTERVAL_SECONDS = PC.REPORT_INTERVAL_SECONDS
LOG_INTERVAL_SECONDS = PC.LOG_INTERVAL_SECONDS
BEACON_SUFFIX = ".json"
READY_SUFFIX = ".ready"


def count(name, value=1):
  """Increments the Beam counter soundscope/<name> (inside a DoFn)."""
  from apache_beam.metrics import Metrics
  Metrics.counter(NAMESPACE, name).inc(int(value))


def count_error(error_type):
  count("errors_" + error_type)


def counter_totals(result):
  """{counter name: committed (or attempted) value} of a finished pipeline.

  Returns None, with a warning naming the reason, when the runner reports no
  metrics to the launcher (some runners do not).
  """
  from apache_beam.metrics.metric import MetricsFilter
  totals = {}
  try:
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
  except Exception as exc:
    print(f"warning: the runner reported no metrics ({type(exc).__name__}: {exc})",
          file=sys.stderr)
    return None
  for counter in query.get("counters", []):
    value = counter.committed if counter.committed is not None else counter.attempted
    totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + (value or 0)
  return totals


def format_counters(totals):
  """One line: 'files_read=12 audio_seconds=60.0 examples=62 ...'."""
  parts = []
  for name in sorted(totals):
    if name == "audio_milliseconds":
      parts.append(f"audio_seconds={totals[name] / 1000.0:.1f}")
    else:
      parts.append(f"{name}={totals[name]}")
  return " ".join(parts)


def mark_ready(directory):
  """Worker side: tells the progress line that this process has loaded its model.

  Args:
    directory: the Reporter's directory, or None (no progress line: nothing to do).
  """
  if not directory or not os.path.isdir(directory):
    return
  try:
    open(os.path.join(directory, f"{os.getpid()}-{uuid.uuid4().hex}{READY_SUFFIX}"),
         "w").close()
  except OSError:  # The run ended and removed the directory: nothing to report.
    pass


class Beacon:
  """Worker side: running totals of one DoFn instance, written to a JSON file."""

  def __init__(self, directory):
    self._path = None if not directory else os.path.join(
        directory, f"{os.getpid()}-{uuid.uuid4().hex}{BEACON_SUFFIX}")
    self._files = 0
    self._seconds = 0.0
    self._written_at = 0.0

  def add(self, files=0, seconds=0.0):
    """Adds finished inputs and their audio seconds; writes the file now and then."""
    self._files += files
    self._seconds += seconds
    if time.monotonic() - self._written_at >= BEACON_INTERVAL_SECONDS:
      self.flush()

  def flush(self):
    if self._path is None or not os.path.isdir(os.path.dirname(self._path)):
      return
    try:
      atomic.write_text(self._path, json.dumps({"files": self._files, "seconds": self._seconds}))
    except OSError:  # The run ended and removed the directory: nothing to report.
      pass
    self._written_at = time.monotonic()


class BeaconLifecycle:
  """DoFn mixin: one Beacon per DoFn instance, made in setup, flushed after each bundle.

  Use as `class SomeFn(progress.BeaconLifecycle, beam.DoFn)`, set `self._beacon_dir`
  in __init__ and call `self._beacon.add(...)` as inputs finish.  (A mixin, so
  this module needs no Beam import.)
  """
  _beacon_dir = None
  _beacon = None

  def setup(self):
    self._beacon = Beacon(self._beacon_dir)

  def finish_bundle(self):
    self._beacon.flush()

  def teardown(self):
    if self._beacon:
      self._beacon.flush()


def _rate_text(done, total, seconds, elapsed):
  """'done/total files (p%), S s of audio, R audio s/s, ~T s left', by tqdm's formatter.

  Only the launcher's reporting thread calls it, on totals summed from the
  workers' beacons; tqdm works out the percentage and time left from files done.
  """
  from tqdm import tqdm
  left = ", ~{remaining_s:.0f} s left" if 0 < done < total else ""
  return tqdm.format_meter(   # (tqdm drops a total below n: give it at least n.)
      done, max(total, done), elapsed, listed=total, audio=seconds,
      audio_rate=seconds / elapsed if elapsed > 0 else 0.0,
      bar_format="{n}/{listed} files ({percentage:.0f}%), {audio:.1f} s of audio, "
                 "{audio_rate:.1f} audio s/s" + left)


class Reporter:
  """Launcher side: sums the beacons and prints the progress line on stderr.

  Use as a context manager around the pipeline run; `directory` is what the
  DoFns get (None when disabled).
  """

  def __init__(self, label, total, enabled=True, stream=None, parts_dir=None, parts=None,
               within=None):
    """Args:
      label, total: the command and the inputs this run processes.
      enabled: a line from local workers' beacons.
      stream: where the line goes (stderr).
      parts_dir: remote workers: count the done-files there instead.
      parts: the part indices this run processes (parts_dir holds others too under
        --resume: taken over, or committed); None: all.
      within: a local folder for the beacons' folder (the run's staging folder, so that
        a run killed before it removes the folder leaves it with the staging folder,
        which the next run deletes); None: the system's temporary folder.
    """
    self.label = label
    self.total = total
    self.enabled = enabled or bool(parts_dir)
    self.stream = stream or sys.stderr
    self.directory = tempfile.mkdtemp(prefix=".progress-" if within else "soundscope-progress-",
                                      dir=within) if enabled else None
    self._parts_dir = parts_dir
    self._parts = None if parts is None else set(parts)
    self._stop = threading.Event()
    self._thread = None
    self._started = None
    self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())

  def totals(self):
    """(files, seconds) summed over the beacons written so far, or without beacons (remote
    workers) over the finished parts' done-files (pipelines/parts.py)."""
    files, seconds = 0, 0.0
    if not self.directory:
      if self._parts_dir:
        from soundscope.pipelines import parts
        for index, done in parts.read_done(self._parts_dir).items():
          if self._parts is None or index in self._parts:
            files += done.get("inputs", 0)
            seconds += done.get("seconds", 0.0)
      return files, seconds
    for name in os.listdir(self.directory):
      if name.endswith(BEACON_SUFFIX):
        try:
          with open(os.path.join(self.directory, name)) as beacon:
            data = json.load(beacon)
        except (OSError, ValueError):
          continue
        files += data.get("files", 0)
        seconds += data.get("seconds", 0.0)
    return files, seconds

  def models_ready(self):
    """True once a worker has loaded its model (mark_ready)."""
    return bool(self.directory) and any(
        name.endswith(READY_SUFFIX) for name in os.listdir(self.directory))

  def line(self, final=False):
    """The progress text; `final`: the run is over (never 'starting')."""
    files, seconds = self.totals()
    # A part run again (its worker lost) adds its beacons twice: never more than all.
    files = min(files, self.total)
    elapsed = time.monotonic() - self._started
    if files == 0 and not final and not self.models_ready():
      return f"{self.label}: starting (workers, models)... {elapsed:.0f} s"
    return f"{self.label}: " + _rate_text(files, self.total, seconds, elapsed)

  def _loop(self):
    interval = REPORT_INTERVAL_SECONDS if self._interactive else LOG_INTERVAL_SECONDS
    while not self._stop.wait(interval):
      self._print(self.line())

  def _print(self, text):
    if self._interactive:
      self.stream.write("\r\033[K" + text)
    else:
      self.stream.write(text + "\n")
    self.stream.flush()

  def __enter__(self):
    self._started = time.monotonic()
    if self.enabled:
      self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
      self._thread.start()
    return self

  def __exit__(self, exc_type, *exc_info):
    if self.enabled:
      self._stop.set()
      self._thread.join()
      if exc_type is None:   # A failed run ends with its one line of why, not a count.
        self._print(self.line(final=True))
      if self._interactive:
        self.stream.write("\n")
      if self.directory:
        shutil.rmtree(self.directory, ignore_errors=True)
    return False
