"""`predict --events`, `--start-time` and `--min-level`: the per-file step and the event outputs.

Data flow (pipelines/prediction.py runs the per-file step; docs/events.md):

  audio file --FileSteps.score (in the worker, one file at a time)-->
      scoring.Scores (levels; windows under --min-level not classified)
      + the file's start (--start-time) + its events (models/file_events.py, the
        step classify --events takes), as rows of the events table
  --> the part's 'events' table (pipelines/parts.py), beside its rows and errors
  --> merge_events (launcher): one PREFIX-events.parquet for the run
      (transforms/event_tables.EVENTS_SCHEMA), then the --event-format tables
      into --event-dir, all written from that Parquet file

Events are made from each file's per-window scores in the step that scores
it, so they need nothing from other files, whatever the runner.  Files whose
start time --start-time cannot give are error rows (stage 'start_time') before
the pipeline starts; a pattern that fits none of them, or a bad CSV, stops the
run with one line (exit 2).
"""

import collections
import os

from soundscope.models import file_events
from soundscope.models import scoring
from soundscope.pipelines import listing

EVENTS_TABLE = "events"            # The parts' table of event rows.
EVENTS_TAIL = "-events.parquet"    # OUTPUT-minus-.parquet + this: the run's events.
START_TIME_STAGE = "start_time"    # Stage of the error row of a file without a start time.

FileResult = collections.namedtuple("FileResult", ["scores", "start_utc", "events"])
FileResult.__doc__ = """What the per-file step gives for one audio file.

  scores: scoring.Scores to write as rows (without windows unless --per-window).
  start_utc: aware UTC datetime of the file's start, or None.
  events: list of event-table rows (file_events.event_rows), or None without --events.
"""


def window_fields():
  """The pyarrow fields window rows gain (nullable; pipelines/prediction.predictions_schema):
  rms_dbfs, peak_dbfs (float64, null for embedding records), start_utc, end_utc
  (timestamp[us, UTC], null when the start time is unknown)."""
  import pyarrow as pa
  moment = pa.timestamp("us", tz="UTC")
  return [("rms_dbfs", pa.float64()), ("peak_dbfs", pa.float64()), ("start_utc", moment),
          ("end_utc", moment)]


class FileSteps:
  """What the per-file step does besides scoring (picklable: it travels to the workers).

  Args:
    rules: configs.events.EventRules, or None without --events.
    label_set: models.label_sets.ResolvedLabelSet the events are over, or None
      (the model's classes).
    label_set_hash: sha256 hex of the label set file, or None.
    start_times: transforms.timestamps PatternTimes/CsvTimes, or None.
    min_level_dbfs: windows quieter than this (dBFS) are not classified, or None.
  """

  def __init__(self, rules=None, label_set=None, label_set_hash=None, start_times=None,
               min_level_dbfs=None):
    self.rules = rules
    self.label_set = label_set
    self.label_set_hash = label_set_hash
    self.start_times = start_times
    self.min_level_dbfs = min_level_dbfs

  @property
  def events(self):
    return self.rules is not None

  @property
  def needs_audio(self):
    """Whether these steps need audio inputs (not embedding records)."""
    return self.events or self.start_times is not None or self.min_level_dbfs is not None

  def settings(self):
    """{name: value} of what changes the outputs (for --resume's comparison)."""
    times = self.start_times
    return {"events": None if self.rules is None else repr(self.rules),
            "label_set_hash": self.label_set_hash,
            "start_time": None if times is None else times.settings(),
            "min_level_dbfs": self.min_level_dbfs}

  def start_utc(self, path):
    """The file's start (aware UTC datetime), or None without --start-time."""
    return None if self.start_times is None else self.start_times(path)

  def score(self, model, path, audio_config, per_window):
    """Scores one audio file and makes its events (models/scoring.py, models/file_events.py).

    Args:
      model: the classifier.
      path: the audio file.
      audio_config: model_handlers.AudioConfig (params, score_block_seconds).
      per_window: whether the rows are per window (else the windows are scored
        for the events only, and the rows get the clip).

    Returns:
      FileResult.

    Raises:
      what scoring.score_file raises (first: a file that cannot be read is named as such);
      timestamps.StartTimeError for a file without a start time (split_start_times keeps
      those out of the run).
    """
    scores = scoring.score_file(model, path, audio_config.params, per_window or self.events,
                                score_block_seconds=audio_config.score_block_seconds,
                                min_level_dbfs=self.min_level_dbfs)
    start_utc = self.start_utc(path)
    events = None
    if self.events:
      found = file_events.file_events(model, scores, self.label_set, self.rules)
      events = file_events.event_rows(path, found, start_utc, model,
                                      self.label_set and self.label_set.name,
                                      self.label_set_hash)
    if not per_window:
      scores = scoring.without_windows(scores)
    # The level track was for the events: rows do not carry it.
    return FileResult(scores._replace(frame_levels=None), start_utc, events)


def check_inputs(steps, input_format, files):
  """Raises ValueError (a usage error, one line) when the steps cannot run on these inputs:
  embedding records (no audio), or no audio file at all with --events."""
  if input_format == "tfrecord" and steps.needs_audio:
    raise ValueError("--events, --start-time and --min-level need audio inputs, not "
                     "embedding TFRecords")
  if steps.events and not files:
    raise ValueError("--input holds no audio file: no events to find (give a folder, glob or "
                     "list with audio files)")


def split_start_times(steps, files, error_row):
  """(files with a start time, error rows of those without) under --start-time.

  Args:
    steps: FileSteps.
    files: pipelines.inputs.InputFile list.
    error_row: dead_letter.error_row.

  Raises:
    ValueError: the pattern or CSV gives no start time for any file (one line).
  """
  if steps.start_times is None:
    return list(files), []
  from soundscope.transforms import timestamps
  try:
    _, missing = timestamps.check_matches(steps.start_times, [item.path for item in files])
  except timestamps.StartTimeError as exc:
    raise ValueError(str(exc)) from None
  # A local path that is no file stays in the run, whose reader names what is wrong with
  # it (no such file, a folder) rather than its name.
  missing = {path: exc for path, exc in missing if not _missing_locally(path)}
  errors = [error_row(item.video_id, item.path, START_TIME_STAGE,
                      (missing[item.path].kind, str(missing[item.path])))
            for item in files if item.path in missing]
  return [item for item in files if item.path not in missing], errors


def _missing_locally(path):
  """Whether `path` is a local path that is not a file."""
  return listing.is_local(path) and not os.path.isfile(path)


def merge_events(part_paths, events_path, row_paths=(), event_dir=None, event_format=None):
  """The parts' event rows -> events_path (one Parquet table), then the --event-format tables.

  Args:
    part_paths: the parts' events table files, in part order.
    events_path: the run's events table (staged).
    row_paths: the run's prediction-row files: each source in them (a file scored)
      gets its Raven/Audacity table, empty when it has no events.
    event_dir, event_format: where and how to export (event_dir None: no export).

  Returns:
    int: events written.
  """
  from apache_beam.io.filesystems import FileSystems
  from soundscope.pipelines import merge
  from soundscope.transforms import event_tables
  written = merge.concat_parquet(part_paths, events_path, event_tables.EVENTS_SCHEMA)
  if event_dir:
    kind = event_format or "csv"
    sources = () if kind in event_tables.COMBINED_KINDS else scored_sources(row_paths)
    with FileSystems.open(events_path) as handle:
      export(event_tables.read_parquet(handle), event_dir, kind, sources)
  return written


def export(table, directory, kind, sources=()):
  """Writes an events table (EVENTS_SCHEMA) as `kind` tables into `directory`
  (transforms/event_tables.TableFolder), files in the order of `sources` then
  any other source of the table; each of `sources` gets its table, events or not."""
  from soundscope.transforms import event_tables
  by_source, times = collections.defaultdict(list), collections.defaultdict(list)
  for source, event, utc in event_tables.events_of_table(table, with_times=True):
    by_source[source].append(event)
    times[source].append(utc)
  order = list(dict.fromkeys(list(sources) + list(by_source)))
  with event_tables.TableFolder(directory, kind or "csv") as folder:
    for source in order:
      folder.write(source, by_source.get(source, []), times.get(source))


def scored_sources(row_paths):
  """The distinct sources of prediction-row files, in order of appearance."""
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  found = {}
  for path in row_paths:
    with FileSystems.open(path) as handle:
      found.update(dict.fromkeys(pq.read_table(handle, columns=["source"]).column(0).to_pylist()))
  return list(found)
