"""Audio or embedding TFRecords to prediction rows: the Beam graph of `soundscope predict`.

Data flow (pipelines/parts.py: the parts are formed by the launcher):

  Part of InputFiles --Create "Parts"--> --ScoreParts-->
      per audio file: (meta, ClipInput of its path); per TFRecord file: (meta, ClipInput
      of each record's embedding), or an error row for a record or file that breaks
      --> batches of the part's inputs --ClassifierModelHandler.run_inference--> Scored
      --> prediction rows (table 'rows') or one error row (table 'errors')
      --> the part's files, then its done-file --> one summary per part (the leaf)

Audio files travel to the handler as paths: it decodes each in blocks and
scores it as it goes (models/scoring.score_file), so memory stays bounded on
multi-hour files and a file that fails half-way gives one error row (stage
'read', or 'inference' when the classifier fails on it) and no rows; the
other files of its batch go on.  `meta` carries the row's id, source file,
record position and time offset; Scored carries the rows and the audio's real
duration (windows padded past a short clip's end are cut there).
"""

import apache_beam as beam

from soundscope.pipelines import (dead_letter, events, merge, model_handlers, options, parts,
                                  progress, tfrecords)
from soundscope.transforms import errors as audio_errors
from soundscope.transforms import records

PARQUET_SUFFIX = ".parquet"


def predictions_schema(with_scores):
  """The pyarrow schema of the output (see the module docstring)."""
  import pyarrow as pa
  prediction = pa.struct([("label", pa.string()), ("index", pa.int32()),
                          ("score", pa.float32())])
  fields = [("id", pa.string()), ("source", pa.string()), ("record", pa.int32()),
            ("start_seconds", pa.float64()), ("end_seconds", pa.float64()),
            ("predictions", pa.list_(prediction))]
  if with_scores:
    fields.append(("scores", pa.list_(pa.float32())))
  fields += [("model", pa.string()), ("model_version", pa.string()),
             ("run_time", pa.timestamp("us", tz="UTC"))]
  fields += events.window_fields()   # Nullable: levels and UTC times (docs/outputs.md).
  return pa.schema(fields)


ROWS_TABLE = "rows"
ERRORS_TABLE = "errors"


def part_formats(with_scores, with_events=False):
  """{table: schema} of a predict part's files (pipelines/parts.PartWriter)."""
  formats = {ROWS_TABLE: predictions_schema(with_scores),
             ERRORS_TABLE: dead_letter.errors_schema()}
  if with_events:
    from soundscope.transforms import event_tables
    formats[events.EVENTS_TABLE] = event_tables.EVENTS_SCHEMA
  return formats


def _audio_clip(item):
  """Audio InputFile -> (meta, ClipInput of the path)."""
  meta = {"id": item.video_id, "source": item.path, "record": 0, "offset": 0.0}
  return meta, model_handlers.ClipInput("file", item.path)


def read_records(item):
  """TFRecord InputFile -> ('clip', (meta, ClipInput)) per record, or ('error', row).

  Also yields ('input', n): n inputs accounted for (each record read, and a file
  that breaks counts as one more, its error row).
  """
  index = -1
  try:
    with open(item.path, "rb") as handle:   # Checks framing and CRCs, as tf.data does.
      for index, serialized in enumerate(tfrecords.read_records(handle, yield_damaged=True)):
        yield "input", 1
        try:
          if isinstance(serialized, tfrecords.DamagedRecordError):
            raise serialized   # Its payload only: the records after it are read.
          record = records.decode(serialized)
        except ValueError as exc:
          key = f"{item.video_id}#{index}"
          yield "error", dead_letter.error_row(
              key, item.path, "read", ("bad_record", f"{item.path}: record {index}: {exc}"))
          continue
        start = record.start_time_seconds
        start = 0.0 if start != start else start  # NaN when the record has no start time.
        meta = {"id": record.video_id, "source": item.path, "record": index, "offset": start}
        yield "clip", (meta, model_handlers.ClipInput("embedding", record.embedding))
  except Exception as exc:  # A damaged or unreadable file: one error row for the rest.
    progress.count("unreadable_files")
    reason = getattr(exc, "message", None) or str(exc)
    yield "input", 1
    yield "error", dead_letter.error_row(
        f"{item.video_id}#{index + 1}", item.path, "read",
        ("unreadable_tfrecord", f"{item.path}: damaged or not a TFRecord file after record "
                                f"{index + 1}: {reason}"))


def scored_rows(meta, scored, run_time):
  """(meta, Scored) -> (list of prediction rows, None) or ([], error row)."""
  if scored.error is not None:
    stage = "read" if isinstance(scored.error, audio_errors.AudioInputError) else "inference"
    return [], dead_letter.error_row(meta["id"], meta["source"], stage, scored.error)
  rows = []
  for window in scored.rows:
    row = dict(window)   # Window ends are already cut at the audio's end (models/scoring.py).
    row["start_seconds"] += meta["offset"]
    row["end_seconds"] += meta["offset"]
    row.update(id=meta["id"], source=meta["source"], record=meta["record"], run_time=run_time)
    rows.append(row)
  return rows, None


def _batch_failed(batch, exception):
  """Error rows for every input of a batch the classifier failed on as a whole."""
  kind = type(exception).__name__
  return [dead_letter.error_row(meta["id"], meta["source"], "inference",
                                (kind, f"{meta['source']}: classifier failed: {exception}"))
          for meta, _ in batch]


class _ScorePartsFn(progress.BeaconLifecycle, beam.DoFn):
  """Part -> its rows and error rows written to the part's files -> a summary.

  Args:
    handler: model_handlers.ClassifierModelHandler.
    input_format: 'audio' or 'tfrecord'.
    directory: the staging parts folder.
    with_scores: rows keep the score vector.
    run_time: the run's timestamp, written in every row.
    beacon_dir: progress directory (or None).
  """

  def __init__(self, handler, input_format, directory, with_scores, run_time, beacon_dir=None):
    self._handler = handler
    self._input_format = input_format
    self._directory = directory
    self._formats = part_formats(with_scores, handler.file_steps.events)
    self._run_time = run_time
    self._beacon_dir = beacon_dir

  def setup(self):
    super().setup()
    self._model = model_handlers.shared_model(self._handler)

  def process(self, part):
    writer = parts.PartWriter(self._directory, part.index, self._formats)
    try:
      totals = self._score(part, writer)
      yield writer.close(*totals)
    except BaseException:
      writer.abort()
      raise

  def _clips(self, part, counts):
    """Yields (meta, ClipInput) of the part's inputs; error rows go to counts['errors']."""
    for item in part.items:
      if self._input_format != "tfrecord":
        counts["inputs"] += 1
        yield _audio_clip(item)
        continue
      read = 0
      for kind, value in read_records(item):
        if kind == "input":
          counts["inputs"] += value
          read += value
        elif kind == "error":
          counts["errors"].append(value)
        else:
          yield value
      if read:   # Once a file: a Beam counter costs ~12 us a call.
        progress.count("records_read", read)

  def _score(self, part, writer):
    """Scores the part in the handler's batches; returns (inputs, files, seconds)."""
    counts = {"inputs": 0, "errors": [], "files": 0, "seconds": 0.0}
    batch = []
    for clip in self._clips(part, counts):
      batch.append(clip)
      if len(batch) >= self._handler.batch_size:
        self._score_batch(batch, writer, counts)
        batch = []
      self._flush_errors(writer, counts)
    if batch:
      self._score_batch(batch, writer, counts)
    self._flush_errors(writer, counts)
    return counts["inputs"], counts["files"], counts["seconds"]

  def _flush_errors(self, writer, counts):
    for row in counts["errors"]:
      progress.count_error(row["error_type"])
      self._beacon.add(files=1)
    writer.add(ERRORS_TABLE, counts["errors"])
    counts["errors"] = []

  def _score_batch(self, batch, writer, counts):
    try:
      scored = self._handler.run_inference([clip for _, clip in batch], self._model)
    except Exception as exc:  # pylint: disable=broad-except  (the batch's inputs become errors)
      counts["errors"].extend(_batch_failed(batch, exc))
      return
    written = 0
    for (meta, _), result in zip(batch, scored):
      rows, error = scored_rows(meta, result, self._run_time)
      if error is not None:
        counts["errors"].append(error)
        continue
      if self._input_format != "tfrecord":
        progress.count("files_read")
        progress.count("audio_milliseconds", round(1000 * result.seconds))
      written += 1
      counts["files"] += 1
      counts["seconds"] += result.seconds
      self._beacon.add(files=1, seconds=result.seconds)
      writer.add(ROWS_TABLE, rows)
      if result.events is not None:
        progress.count("events", len(result.events))
        writer.add(events.EVENTS_TABLE, result.events)
    if written:
      progress.count("records_written", written)


class ScoreParts(beam.PTransform):
  """Parts -> the parts' files in `directory` -> one summary per part (the pipeline's leaf)."""

  def __init__(self, handler, input_format, directory, with_scores, run_time, beacon_dir=None):
    super().__init__()
    self._fn = _ScorePartsFn(handler, input_format, directory, with_scores, run_time,
                             beacon_dir)

  def expand(self, part_elements):
    return part_elements | "ScoreParts" >> beam.ParDo(self._fn)


def build_pipeline(pipeline, todo, input_format, handler, directory, with_scores, run_time,
                   beacon_dir=None):
  """Adds the predict graph over the parts `todo` to `pipeline` (see the module docstring)."""
  return (pipeline
          | "Parts" >> beam.Create(todo, reshuffle=options.spread_parts(pipeline))
          | "Predict" >> ScoreParts(handler, input_format, directory, with_scores, run_time,
                                    beacon_dir))


def merge_parts(parts_dir, indices, output_path, with_scores, keep_shards_prefix=None):
  """Writes the parts' rows to `output_path`, or renames them to kept shards.

  Args:
    keep_shards_prefix: with --keep-shards, the shards are named
      PREFIX-SSSSS-of-NNNNN.parquet (one per part) instead of being merged.

  Returns:
    list of the paths that hold the rows.
  """
  from apache_beam.io.filesystems import FileSystems
  sources = merge.part_files(parts_dir, indices, ROWS_TABLE)
  if keep_shards_prefix is None:
    merge.concat_parquet(sources, output_path, predictions_schema(with_scores))
    return [output_path]
  shards = [f"{keep_shards_prefix}-{i:05d}-of-{len(sources):05d}{PARQUET_SUFFIX}"
            for i in range(len(sources))]
  if sources:
    FileSystems.rename(sources, shards)
  return shards


def count_written(paths):
  """Inputs that have rows in the predictions files `paths` (one file, or shards).

  Returns:
    int: distinct (source, record) pairs over all the files.
  """
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  written = set()
  for path in paths:
    with FileSystems.open(path) as handle:
      table = pq.read_table(handle, columns=["source", "record"])
    written.update(zip(table.column("source").to_pylist(), table.column("record").to_pylist()))
  return len(written)
