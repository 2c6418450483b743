"""Event tables: the events of audio files as CSV, Raven Pro selections, Audacity labels, JSONL.

  CSV       one table for a run: source, label, start_seconds, end_seconds,
            peak_score, mean_score, windows (a header line, then a row per event)
  JSONL     the same fields, one JSON object per event
  Raven     one `<stem>.selections.txt` per audio file: Raven Pro's selection
            table, tab-separated, a header line then one row per selection:
            Selection (1, 2, ...), View ("Spectrogram 1"), Channel (1),
            Begin Time (s), End Time (s), Low Freq (Hz) (0), High Freq (Hz)
            (8000, the model's Nyquist frequency), Annotation (the label), then
            Peak Score, Mean Score, Windows
  Audacity  one `<stem>.labels.txt` per audio file: Audacity's label track,
            `start<TAB>end<TAB>label` per line, seconds
  Parquet   one table for a run (`predict --events`, read by `soundscope
            report`): EVENTS_SCHEMA's columns, in its order, one row per event
            (events_table, write_parquet, read_parquet)

Times are seconds from the start of the file; floats are written with
Python's shortest round-trip repr, so each reader gives back the written
numbers exactly.  Writers take an open text stream (newline=''); readers a
path.  A label holding a tab or a line break cannot go in the tab-separated
tables: EventTableError.
"""

import collections
import csv
import datetime
import json
import os

from soundscope.configs import params as P
from soundscope.transforms import events as events_lib

FIELDS = ("source", "label", "start_seconds", "end_seconds", "peak_score", "mean_score",
          "windows", "start_utc", "end_utc")
# start_utc/end_utc of the CSV and JSONL tables: ISO 8601 UTC with microseconds, e.g.
# 2024-05-01T05:30:12.480000Z; empty (CSV) or null (JSONL) when the file's start is unknown.
RAVEN_COLUMNS = ("Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
                 "Low Freq (Hz)", "High Freq (Hz)", "Annotation", "Peak Score", "Mean Score",
                 "Windows")
RAVEN_VIEW = "Spectrogram 1"
RAVEN_CHANNEL = 1
RAVEN_LOW_FREQ_HZ = 0.0
RAVEN_HIGH_FREQ_HZ = P.SAMPLE_RATE_HZ / 2.0     # The band the models hear.
RAVEN_SUFFIX = ".selections.txt"
AUDACITY_SUFFIX = ".labels.txt"

# The events Parquet table (docs/events.md).  start_utc/end_utc are null when the
# file's start time is unknown; label_set/label_set_hash (sha256 hex of the label
# set file's bytes) null without --labels.
EVENTS_COLUMNS = (
    ("source", "string"), ("label", "string"), ("start_seconds", "float64"),
    ("end_seconds", "float64"), ("start_utc", "utc"), ("end_utc", "utc"),
    ("peak_score", "float64"), ("mean_score", "float64"), ("windows", "int32"),
    ("model", "string"), ("model_version", "string"), ("label_set", "string"),
    ("label_set_hash", "string"))
EVENTS_NAMES = tuple(name for name, _ in EVENTS_COLUMNS)
# Columns a row must give (events_table); the others default to null.
EVENTS_REQUIRED = ("source", "label", "start_seconds", "end_seconds", "peak_score",
                   "mean_score", "windows")

AudacityLabel = collections.namedtuple("AudacityLabel", ["start_seconds", "end_seconds", "label"])
AudacityLabel.__doc__ = "One Audacity label: bounds in seconds and its text."


class EventTableError(ValueError):
  """An event table that cannot be written or read; one line naming the file or label."""


def _events_schema():
  import pyarrow as pa
  types = {"string": pa.string(), "float64": pa.float64(), "int32": pa.int32(),
           "utc": pa.timestamp("us", tz="UTC")}
  return pa.schema([pa.field(name, types[kind]) for name, kind in EVENTS_COLUMNS])


def __getattr__(name):
  """EVENTS_SCHEMA, the pyarrow schema, made on first use (pyarrow loads only then)."""
  if name == "EVENTS_SCHEMA":
    return _events_schema()
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def table_name(source, suffix):
  """`<stem><suffix>` of an audio file's path (dog.flac -> dog.selections.txt)."""
  return os.path.splitext(os.path.basename(os.fspath(source)))[0] + suffix


def label_problem(label):
  """Why `label` cannot name events in these tables (a str), or None when it can."""
  if "\t" in label or "\n" in label or "\r" in label:
    return f"label {label!r} holds a tab or a line break: it cannot go in a tab-separated table"
  return None


def _plain(label):
  problem = label_problem(label)
  if problem:
    raise EventTableError(problem)
  return label


# ---------------------------------------------------------------- CSV, JSONL

def write_csv(stream, source, events, header=True, times=None):
  """Writes the rows of one file's events (FIELDS), after a header line when header.

  times: per event, (start_utc, end_utc) aware datetimes, or None when unknown (utc_times).
  """
  writer = csv.writer(stream, lineterminator="\n")
  if header:
    writer.writerow(FIELDS)
  for event, (start_utc, end_utc) in zip(events, times or _no_times(events)):
    writer.writerow([os.fspath(source), event.label, repr(event.start_seconds),
                     repr(event.end_seconds), repr(event.peak_score), repr(event.mean_score),
                     event.windows, _iso(start_utc) or "", _iso(end_utc) or ""])


def utc_times(events, file_start_utc):
  """Per event, (start_utc, end_utc): the file's start (aware datetime) plus its seconds;
  None without a start."""
  if file_start_utc is None:
    return None
  return [(file_start_utc + datetime.timedelta(seconds=event.start_seconds),
           file_start_utc + datetime.timedelta(seconds=event.end_seconds)) for event in events]


def _no_times(events):
  return [(None, None)] * len(events)


def _iso(moment):
  if moment is None:
    return None
  return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _from_fields(row, where):
  try:
    return str(row["source"]), events_lib.Event(
        str(row["label"]), float(row["start_seconds"]), float(row["end_seconds"]),
        float(row["peak_score"]), float(row["mean_score"]), int(row["windows"]))
  except (KeyError, TypeError, ValueError) as exc:
    raise EventTableError(f"{where}: not an event row ({type(exc).__name__}: {exc})") from None


def read_csv(path):
  """[(source, Event)] of a CSV written by write_csv, in file order."""
  with open(path, newline="", encoding="utf-8") as stream:
    reader = csv.DictReader(stream)
    return [_from_fields(row, f"{path}:{reader.line_num}") for row in reader]


def write_jsonl(stream, source, events, times=None):
  """Writes one JSON object (FIELDS) per event of one file (times: as write_csv)."""
  for event, (start_utc, end_utc) in zip(events, times or _no_times(events)):
    stream.write(json.dumps({"source": os.fspath(source), **event.as_dict(),
                             "start_utc": _iso(start_utc), "end_utc": _iso(end_utc)}) + "\n")


def read_jsonl(path):
  """[(source, Event)] of a JSONL file written by write_jsonl, in file order."""
  with open(path, encoding="utf-8") as stream:
    return [_from_fields(_json(line, f"{path}:{number}"), f"{path}:{number}")
            for number, line in enumerate(stream, 1) if line.strip()]


def _json(line, where):
  try:
    return json.loads(line)
  except ValueError as exc:
    raise EventTableError(f"{where}: not JSON: {exc}") from None


# ---------------------------------------------------------------- Raven Pro

def write_raven(stream, events, high_freq_hz=RAVEN_HIGH_FREQ_HZ):
  """Writes one audio file's events as a Raven Pro selection table (RAVEN_COLUMNS)."""
  stream.write("\t".join(RAVEN_COLUMNS) + "\n")
  for number, event in enumerate(events, 1):
    cells = [number, RAVEN_VIEW, RAVEN_CHANNEL, repr(event.start_seconds),
             repr(event.end_seconds), repr(RAVEN_LOW_FREQ_HZ), repr(float(high_freq_hz)),
             _plain(event.label), repr(event.peak_score), repr(event.mean_score), event.windows]
    stream.write("\t".join(str(cell) for cell in cells) + "\n")


def read_raven(path):
  """[Event] of a selection table written by write_raven, in row order: tab-separated
  columns named on the first line, cells unquoted (Raven Pro's text format)."""
  try:
    with open(path, newline="", encoding="utf-8") as stream:
      reader = csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
      missing = [name for name in RAVEN_COLUMNS if name not in (reader.fieldnames or [])]
      if missing:
        raise EventTableError(f"{path}: a selection table without the columns {missing}")
      return [_raven_event(row, f"{path}:{reader.line_num}") for row in reader]
  except (OSError, UnicodeDecodeError, csv.Error) as exc:
    raise EventTableError(f"{path}: not a selection table: {exc}") from None


def _raven_event(row, where):
  try:
    return events_lib.Event(str(row["Annotation"]), float(row["Begin Time (s)"]),
                            float(row["End Time (s)"]), float(row["Peak Score"]),
                            float(row["Mean Score"]), int(row["Windows"]))
  except (TypeError, ValueError) as exc:
    raise EventTableError(f"{where}: not a selection row ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------- Audacity

def write_audacity(stream, events):
  """Writes one audio file's events as an Audacity label track: start, end, label."""
  for event in events:
    stream.write(f"{event.start_seconds!r}\t{event.end_seconds!r}\t{_plain(event.label)}\n")


def read_audacity(path):
  """[AudacityLabel] of a label track (Audacity's own frequency lines, '\\t...', skipped)."""
  labels = []
  with open(path, encoding="utf-8") as stream:
    for number, line in enumerate(stream, 1):
      line = line.rstrip("\r\n")
      if not line or line.startswith("\\"):
        continue
      labels.append(_audacity_label(line, f"{path}:{number}"))
  return labels


def _audacity_label(line, where):
  parts = line.split("\t")
  try:
    return AudacityLabel(float(parts[0]), float(parts[1]), parts[2] if len(parts) > 2 else "")
  except (IndexError, ValueError):
    raise EventTableError(f"{where}: not an Audacity label line (start<TAB>end<TAB>label): "
                          f"{line!r}") from None


# ---------------------------------------------------------------- a folder of tables

KINDS = ("csv", "raven", "audacity", "jsonl")
COMBINED_KINDS = ("csv", "jsonl")     # One table for the run; the others one per audio file.


class TableFolder:
  """Writes audio files' events into a folder as tables of one kind (KINDS).

  csv and jsonl: one `events.csv` / `events.jsonl` for every file; raven and
  audacity: `<stem>.selections.txt` / `<stem>.labels.txt` per file, numbered
  `<stem>-2...` when two files share a stem (an empty table for a file without
  events; Raven: the header).

  Raises (when made):
    OSError: the folder cannot be made or written.
  """

  def __init__(self, directory, kind="csv"):
    if kind not in KINDS:
      raise EventTableError(f"no event table kind {kind!r} (one of {', '.join(KINDS)})")
    self.directory, self.kind = os.fspath(directory), kind
    self.names = set()
    self.combined = None
    os.makedirs(self.directory, exist_ok=True)
    if kind in COMBINED_KINDS:
      self.combined = open(os.path.join(self.directory, f"events.{kind}"), "w", newline="",
                           encoding="utf-8")
      if kind == "csv":
        write_csv(self.combined, "", [], header=True)

  def write(self, source, events, times=None):
    """Adds one audio file's [Event] (its own table for raven and audacity); times: per
    event (start_utc, end_utc), or None (utc_times), for the csv and jsonl tables."""
    if self.kind == "csv":
      write_csv(self.combined, source, events, header=False, times=times)
    elif self.kind == "jsonl":
      write_jsonl(self.combined, source, events, times)
    else:
      raven = self.kind == "raven"
      with open(self._unique(source, RAVEN_SUFFIX if raven else AUDACITY_SUFFIX), "w",
                newline="", encoding="utf-8") as stream:
        (write_raven if raven else write_audacity)(stream, events)
    if self.combined is not None:
      self.combined.flush()

  def _unique(self, source, suffix):
    name, number = table_name(source, suffix), 1
    while name in self.names:
      number += 1
      name = table_name(source, "") + f"-{number}{suffix}"
    self.names.add(name)
    return os.path.join(self.directory, name)

  def close(self):
    if self.combined is not None:
      self.combined.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()


# ---------------------------------------------------------------- Parquet

def event_row(source, event, **fields):
  """One row of the events table: {source, Event's fields, the given columns}.

  fields: any other EVENTS_NAMES column (start_utc/end_utc: aware datetimes;
  model, model_version, label_set, label_set_hash: strings); absent ones are null.
  """
  unknown = sorted(set(fields) - set(EVENTS_NAMES))
  if unknown:
    raise EventTableError(f"not columns of the events table: {unknown}")
  return {"source": os.fspath(source), **event.as_dict(), **fields}


def events_table(rows):
  """A pyarrow.Table of EVENTS_SCHEMA from dicts keyed by its column names.

  Args:
    rows: iterable of dicts (event_row); EVENTS_REQUIRED must be there, the
      other columns default to null; start_utc/end_utc are timezone-aware
      datetimes (or None).

  Raises:
    EventTableError: a row without a required column, or with an unknown one.
  """
  import pyarrow as pa
  rows = list(rows)
  for number, row in enumerate(rows):
    missing = [name for name in EVENTS_REQUIRED if row.get(name) is None]
    extra = sorted(set(row) - set(EVENTS_NAMES))
    if missing or extra:
      raise EventTableError(f"event row {number}: missing {missing}, unknown {extra}")
  columns = {name: [row.get(name) for row in rows] for name in EVENTS_NAMES}
  return pa.Table.from_pydict(columns, schema=_events_schema())


def write_parquet(path, table):
  """Writes an events table (EVENTS_SCHEMA) to `path` (a local path or a binary stream)."""
  import pyarrow.parquet as pq
  if not table.schema.equals(_events_schema()):
    raise EventTableError(f"{path}: not the events schema: {table.schema.names}")
  pq.write_table(table, path)


def read_parquet(path):
  """The events table written by write_parquet, as a pyarrow.Table of EVENTS_SCHEMA.

  Raises:
    EventTableError: the file is not Parquet or lacks a column of the schema.
  """
  import pyarrow as pa
  import pyarrow.parquet as pq
  try:
    table = pq.read_table(path)
  except (OSError, pa.ArrowException) as exc:
    raise EventTableError(f"{path}: not a Parquet file: {exc}") from None
  missing = [name for name in EVENTS_NAMES if name not in table.column_names]
  if missing:
    raise EventTableError(f"{path}: an events table without the columns {missing}")
  try:
    return table.select(list(EVENTS_NAMES)).cast(_events_schema())
  except (pa.ArrowException, ValueError) as exc:
    raise EventTableError(f"{path}: columns of the wrong type: {exc}") from None


def events_of_table(table, with_times=False):
  """[(source, Event)] of an events table, in row order (the Parquet side of a round trip);
  with_times: [(source, Event, (start_utc, end_utc))], aware datetimes or None."""
  found = []
  for row in table.to_pylist():
    event = (str(row["source"]), events_lib.Event(
        row["label"], row["start_seconds"], row["end_seconds"], row["peak_score"],
        row["mean_score"], row["windows"]))
    found.append(event + ((row["start_utc"], row["end_utc"]),) if with_times else event)
  return found
