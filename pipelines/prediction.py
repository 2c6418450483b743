"""Audio or embedding TFRecords to prediction rows: the Beam graph of `soundscope predict`.

Data flow:

  InputFile --AudioInputs (audio) or ReadRecords (TFRecords)--> (meta, ClipInput)
            --RunInference(ClassifierModelHandler)--> (meta, Scored)
            --ToRows--> Parquet rows (predictions_schema)
  failures of any step --> error rows (pipelines/dead_letter.py)

Audio files travel to RunInference as paths: the handler decodes each in
blocks and scores it as it goes (models/scoring.score_file), so memory stays
bounded on multi-hour files and a file that fails half-way gives one error
row (stage 'read', or 'inference' when the classifier fails on it) and no
rows; the other files of its batch go on.  `meta` carries the row's id, source file,
record position and time offset; Scored carries the rows and the audio's real
duration (windows padded past a short clip's end are cut there).
"""

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from soundscope.pipelines import (dead_letter, inputs, launch, model_handlers, outputs,
                                  progress)
from soundscope.transforms import errors as audio_errors
from soundscope.transforms import records

PARQUET_SUFFIX = ".parquet"
# Row shards are named OUTPUT + ROW_SHARDS_TAIL + -SSSSS-of-NNNNN.parquet until merged.
ROW_SHARDS_TAIL = ".rows"
# Rows copied at a time when merging the shards: 16,384 rows of 527 scores hold ~210 MB
# of Arrow memory at peak, 65,536 rows ~510 MB, at the same speed (bench/bench_merge.py).
MERGE_BATCH_ROWS = 16384


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
  return pa.schema(fields)


def _audio_input(item):
  """Audio InputFile -> (meta, ClipInput of the path), or an error row for a non-UTF-8 name."""
  try:
    inputs.check_name(item.path)
  except inputs.FileNameError as exc:
    yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
        item.video_id, item.path, "read", (exc.kind, str(exc))))
    return
  meta = {"id": item.video_id, "source": item.path, "record": 0, "offset": 0.0}
  yield meta, model_handlers.ClipInput("file", item.path)


def _read_records(item):
  """TFRecord InputFile -> (meta, ClipInput) per record; errors tagged."""
  try:
    inputs.check_name(item.path)
  except inputs.FileNameError as exc:   # Counted as a file that broke: one error row.
    progress.count("unreadable_files")
    yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
        f"{item.video_id}#0", item.path, "read", (exc.kind, str(exc))))
    return
  index = -1
  try:
    # tf.data's reader checks framing and CRCs; a damaged file raises DataLossError.
    for index, serialized in enumerate(records.read_tfrecord_file(item.path)):
      try:
        record = records.decode(serialized)
      except ValueError as exc:
        progress.count("records_read")
        key = f"{item.video_id}#{index}"
        yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
            key, item.path, "read", ("bad_record", f"{item.path}: record {index}: {exc}")))
        continue
      progress.count("records_read")
      start = record.start_time_seconds
      start = 0.0 if start != start else start  # NaN when the record has no start time.
      meta = {"id": record.video_id, "source": item.path, "record": index, "offset": start}
      yield meta, model_handlers.ClipInput("embedding", record.embedding)
  except Exception as exc:  # A damaged or unreadable file: one error row for the rest.
    progress.count("unreadable_files")
    reason = getattr(exc, "message", None) or str(exc)
    yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
        f"{item.video_id}#{index + 1}", item.path, "read",
        ("unreadable_tfrecord", f"{item.path}: damaged or not a TFRecord file after record "
                                f"{index + 1}: {reason}")))


class _ToRowsFn(progress.BeaconLifecycle, beam.DoFn):
  """(meta, Scored) -> Parquet rows, or one error row ('errors') for a file that failed.

  Args:
    run_time: the run's timestamp, written in every row.
    beacon_dir: progress directory (or None).
    count_files: count files_read / audio_milliseconds (audio inputs).
  """

  def __init__(self, run_time, beacon_dir=None, count_files=True):
    self._run_time = run_time
    self._beacon_dir = beacon_dir
    self._count_files = count_files

  def process(self, keyed):
    meta, scored = keyed
    if scored.error is not None:
      self._beacon.add(files=1)
      stage = "read" if isinstance(scored.error, audio_errors.AudioInputError) else "inference"
      yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
          meta["id"], meta["source"], stage, scored.error))
      return
    if self._count_files:
      progress.count("files_read")
      progress.count("audio_milliseconds", round(1000 * scored.seconds))
    self._beacon.add(files=1, seconds=scored.seconds)
    progress.count("records_written")
    for window in scored.rows:
      row = dict(window)   # Window ends are already cut at the audio's end (models/scoring.py).
      row["start_seconds"] += meta["offset"]
      row["end_seconds"] += meta["offset"]
      row.update(id=meta["id"], source=meta["source"], record=meta["record"],
                 run_time=self._run_time)
      yield row


class _InferenceErrorsFn(progress.BeaconLifecycle, beam.DoFn):
  """A failed RunInference batch -> one error row per input in it."""

  def __init__(self, beacon_dir=None):
    self._beacon_dir = beacon_dir

  def process(self, failure):
    batch, exception = failure
    kind = getattr(exception[0], "__name__", "inference_error") if isinstance(
        exception, tuple) else type(exception).__name__
    message = str(exception[1]) if isinstance(exception, tuple) else str(exception)
    for meta, _ in batch:
      self._beacon.add(files=1)
      yield dead_letter.error_row(meta["id"], meta["source"], "inference",
                                  (kind, f"{meta['source']}: classifier failed: {message}"))


def build_pipeline(pipeline, files, early_errors, input_format, handler, rows_prefix,
                   errors_prefix, errors_format, with_scores, run_time, beacon_dir=None):
  """Adds the predict graph to `pipeline` (separate from run() for tests).

  `handler` is a model_handlers.ClassifierModelHandler (its AudioConfig says
  how audio files are decoded and scored).  Rows go to runner-chosen shards
  `rows_prefix-SSSSS-of-NNNNN.parquet`: row_shards_prefix(output) when they
  are then merged into one file, the output's own prefix when they are kept.
  """
  items = pipeline | "Inputs" >> beam.Create(files, reshuffle=True)
  if input_format == "tfrecord":
    clips = items | "ReadRecords" >> beam.FlatMap(_read_records).with_outputs(
        "errors", main="clips")
    clips, read_errors = clips.clips, clips.errors
  else:
    clips = items | "AudioInputs" >> beam.FlatMap(_audio_input).with_outputs(
        "errors", main="clips")
    clips, read_errors = clips.clips, clips.errors
  scored, failed = clips | "RunInference" >> RunInference(
      KeyedModelHandler(handler)).with_exception_handling()
  rows = scored | "ToRows" >> beam.ParDo(_ToRowsFn(
      run_time, beacon_dir, count_files=input_format != "tfrecord")).with_outputs(
          "errors", main="rows")
  # Runner-chosen shards: each bundle writes its own file, so no step has to hold
  # every row (one fixed shard would group them all first).
  rows.rows | "WritePredictions" >> beam.io.WriteToParquet(
      rows_prefix, predictions_schema(with_scores), file_name_suffix=PARQUET_SUFFIX)
  inference_errors = failed.failed_inferences | "InferenceErrors" >> beam.ParDo(
      _InferenceErrorsFn(beacon_dir))
  early = pipeline | "EarlyErrors" >> beam.Create(early_errors)
  sources = [rows.errors, inference_errors, early]
  if read_errors is not None:
    sources.append(read_errors)
  all_errors = tuple(sources) | "AllErrors" >> beam.Flatten()
  dead_letter.write_errors(launch.count_errors(all_errors), errors_prefix, errors_format)
  return pipeline


def row_shards_prefix(output_path):
  """Prefix of the row shards written beside `output_path` before merge_row_shards."""
  return output_path + ROW_SHARDS_TAIL


def merge_row_shards(output_path, with_scores, batch_rows=MERGE_BATCH_ROWS):
  """Streams the row shards of `output_path` into it, then deletes the shards.

  Memory holds one batch of `batch_rows` rows, whatever the number of rows.

  Returns:
    int: rows written.
  """
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  shards = row_shards(row_shards_prefix(output_path))
  rows = 0
  with FileSystems.create(output_path) as sink:
    with pq.ParquetWriter(sink, predictions_schema(with_scores)) as writer:
      for shard in shards:
        with FileSystems.open(shard) as source:
          for batch in pq.ParquetFile(source).iter_batches(batch_size=batch_rows):
            writer.write_batch(batch)
            rows += batch.num_rows
  if shards:
    FileSystems.delete(shards)
  return rows


def row_shards(prefix):
  """Sorted paths of the row shards Beam wrote under `prefix` (PREFIX-SSSSS-of-NNNNN.parquet)."""
  from apache_beam.io.filesystems import FileSystems
  pattern = prefix + outputs.SHARD_NUMBERS + PARQUET_SUFFIX
  return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


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
