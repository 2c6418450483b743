"""Audio or embedding TFRecords to prediction rows: the Beam graph of `soundscope predict`.

Data flow:

  InputFile --LoadAudio (audio) or ReadRecords (TFRecords)--> (meta, ClipInput)
            --RunInference(ClassifierModelHandler)--> (meta, window rows)
            --ToRows--> Parquet rows (predictions_schema)
  failures of any step --> error rows (pipelines/dead_letter.py)

`meta` carries the row's id, source file, record position, time offset and
the audio's real duration (windows padded past a short clip's end are cut there).
"""

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from configs import params as P
from pipelines import dead_letter, launch, model_handlers, progress
from transforms import audio, records, vggish_input


def predictions_schema(with_scores):
  """The pyarrow schema of the output (see the module docstring)."""
  import pyarrow as pa
  prediction = pa.struct([("label", pa.string()), ("index", pa.int32()),
                          ("score", pa.float32())])
  fields = [("id", pa.string()), ("source", pa.string()), ("record", pa.int32()),
            ("start_seconds", pa.float64()), ("end_seconds", pa.float64()),
            ("top_k", pa.list_(prediction))]
  if with_scores:
    fields.append(("scores", pa.list_(pa.float32())))
  fields += [("model_name", pa.string()), ("model_version", pa.string()),
             ("run_time", pa.timestamp("us", tz="UTC"))]
  return pa.schema(fields)


class _LoadClipFn(beam.DoFn):
  """InputFile -> (meta, ClipInput of the 16 kHz waveform), or an error row ('errors').

  The whole file is decoded in memory (classifiers score whole clips).
  """

  def __init__(self, params, beacon_dir):
    self._params = params
    self._beacon_dir = beacon_dir
    self._beacon = None

  def setup(self):
    self._beacon = progress.Beacon(self._beacon_dir)

  def process(self, item):
    try:
      wave = audio.load_mono(item.path, self._params)
      seconds = len(wave) / self._params.sample_rate_hz
      wave = vggish_input.pad_short_clip(wave, item.path, self._params)
    except Exception as exc:  # Any failure becomes an error row.
      self._beacon.add(files=1)
      yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
          item.video_id, item.path, "read", exc))
      return
    progress.count("files_read")
    progress.count("audio_milliseconds", round(1000 * seconds))
    self._beacon.add(files=1, seconds=seconds)
    meta = {"id": item.video_id, "source": item.path, "record": 0, "offset": 0.0,
            "duration": seconds}
    yield meta, model_handlers.ClipInput("waveform", wave.astype(np.float32))

  def finish_bundle(self):
    self._beacon.flush()


def _read_records(item):
  """TFRecord InputFile -> (meta, ClipInput) per record; errors tagged."""
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
      meta = {"id": record.video_id, "source": item.path, "record": index, "offset": start,
              "duration": len(record.embedding) * P.EXAMPLE_HOP_SECONDS}
      yield meta, model_handlers.ClipInput("embedding", record.embedding)
  except Exception as exc:  # A damaged or unreadable file: one error row for the rest.
    progress.count("unreadable_files")
    reason = getattr(exc, "message", None) or str(exc)
    yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(
        f"{item.video_id}#{index + 1}", item.path, "read",
        ("unreadable_tfrecord", f"{item.path}: damaged or not a TFRecord file after record "
                                f"{index + 1}: {reason}")))


def _to_rows(keyed, run_time):
  meta, windows = keyed
  progress.count("records_written")
  for window in windows:
    row = dict(window)
    # Windows padded past the end of short audio end where the audio ends.
    row["end_seconds"] = min(row["end_seconds"], max(meta["duration"], row["start_seconds"]))
    row["start_seconds"] += meta["offset"]
    row["end_seconds"] += meta["offset"]
    row.update(id=meta["id"], source=meta["source"], record=meta["record"], run_time=run_time)
    yield row


def _inference_error_rows(failure):
  batch, exception = failure
  kind = getattr(exception[0], "__name__", "inference_error") if isinstance(
      exception, tuple) else type(exception).__name__
  message = str(exception[1]) if isinstance(exception, tuple) else str(exception)
  for meta, _ in batch:
    yield dead_letter.error_row(meta["id"], meta["source"], "inference",
                                (kind, f"{meta['source']}: classifier failed: {message}"))


def build_pipeline(pipeline, files, early_errors, input_format, handler, params, output_path,
                   errors_prefix, errors_format, with_scores, run_time, beacon_dir=None):
  """Adds the predict graph to `pipeline` (separate from run() for tests)."""
  items = pipeline | "Inputs" >> beam.Create(files, reshuffle=True)
  if input_format == "tfrecord":
    clips = items | "ReadRecords" >> beam.FlatMap(_read_records).with_outputs(
        "errors", main="clips")
  else:
    clips = items | "LoadAudio" >> beam.ParDo(_LoadClipFn(params, beacon_dir)).with_outputs(
        "errors", main="clips")
  scored, failed = clips.clips | "RunInference" >> RunInference(
      KeyedModelHandler(handler)).with_exception_handling()
  rows = scored | "ToRows" >> beam.FlatMap(_to_rows, run_time)
  rows | "WritePredictions" >> beam.io.WriteToParquet(
      output_path, predictions_schema(with_scores), num_shards=1, shard_name_template="")
  inference_errors = failed.failed_inferences | "InferenceErrors" >> beam.FlatMap(
      _inference_error_rows)
  early = pipeline | "EarlyErrors" >> beam.Create(early_errors)
  all_errors = (clips.errors, inference_errors, early) | "AllErrors" >> beam.Flatten()
  dead_letter.write_errors(launch.count_errors(all_errors), errors_prefix, errors_format)
  return pipeline


def count_written(path):
  """Inputs that have rows in a predictions file: distinct (source, record)."""
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  with FileSystems.open(path) as handle:
    table = pq.read_table(handle, columns=["source", "record"])
  return len(set(zip(table.column("source").to_pylist(), table.column("record").to_pylist())))
