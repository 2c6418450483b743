"""Audio to AudioSet-format records: the Beam composite shared by embed and audioset.

Data flow (each name is a composite PTransform below):

  AudioJob --ReadExamples--> ((key, i), float32 [96, 64] example)  --EmbedExamples-->
           |                  ((key, i), uint8 [128])  +  inference errors
           +--> (key, manifest info)   +  read errors
  all keyed by the job's key --AssembleRecords--> serialized SequenceExample,
                                                  manifest row, or one error row

Every job ends as exactly one record (with its manifest row) or one error row,
so the output always reconciles: a file whose decoding fails half-way, or one
of whose batches fails in VGGish, is dropped whole into the errors output
(its examples already embedded are discarded by the join).
"""

import collections

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from soundscope.pipelines import dead_letter, inputs, model_handlers, options, progress
from soundscope.transforms import records, vggish_input

AudioJob = collections.namedtuple(
    "AudioJob", ["key", "video_id", "path", "start_seconds", "end_seconds", "labels",
                 "record_start", "record_end"])
AudioJob.__doc__ = """One audio file (or segment of one) to embed.

  key: unique id within the run (str).
  video_id: the record's video_id (str).
  path: local audio file (str).
  start_seconds, end_seconds: range to cut from the file, seconds (None: whole).
  labels: tuple of int class indices for the record.
  record_start, record_end: start/end_time_seconds written in the record;
    None means the decoded range (0 and the file's duration for whole files).
"""

EmbedConfig = collections.namedtuple(
    "EmbedConfig", ["params", "checkpoint_path", "pca_params_path", "reject_silence",
                    "beacon_dir", "threads", "decode_threads"], defaults=(0, 0))
EmbedConfig.__doc__ = """Settings of EmbedAudio: VggishParams, the VGGish file paths,
whether digital silence is an error, the progress beacon folder (or None),
TensorFlow threads per worker (0: TF's default) and BLAS threads per worker for
resampling and log-mel (0: the library's default)."""

MANIFEST_FIELDS = (
    ("video_id", "string"), ("source", "string"), ("start_seconds", "float64"),
    ("end_seconds", "float64"), ("duration_seconds", "float64"), ("sample_rate", "int32"),
    ("channels", "int32"), ("frames", "int64"), ("embedding_frames", "int32"),
    ("labels", "list<int64>"))
MANIFEST_DOC = """Manifest columns (PREFIX-manifest.parquet), one row per record:
  video_id          the record's video_id
  source            the audio file read (absolute path)
  start_seconds     the record's start_time_seconds: 0 for embed, the segment's
                    start in its YouTube video for audioset
  end_seconds       the record's end_time_seconds: the file's duration for embed,
                    the segment's end for audioset
  duration_seconds  duration of the whole source file, seconds
  sample_rate       the source's sample rate, Hz
  channels          the source's channel count
  frames            the source's length in samples per channel
  embedding_frames  0.96 s embedding frames in the record
  labels            class indices written in the record
"""


def manifest_schema():
  import pyarrow as pa
  types = {"string": pa.string(), "float64": pa.float64(), "int32": pa.int32(),
           "int64": pa.int64(), "list<int64>": pa.list_(pa.int64())}
  return pa.schema([(name, types[kind]) for name, kind in MANIFEST_FIELDS])


def _decoded_range(info, job):
  """(start, end) in seconds of the part of the source that was decoded."""
  start = job.start_seconds or 0.0
  end = info.duration_seconds if job.end_seconds is None else min(job.end_seconds,
                                                                   info.duration_seconds)
  return start, max(start, end)


class _ReadExamplesFn(progress.BeaconLifecycle, beam.DoFn):
  """AudioJob -> examples (main), manifest info ('info') or an error row ('errors')."""

  def __init__(self, config):
    self._config = config
    self._beacon_dir = config.beacon_dir

  def setup(self):
    options.limit_decode_threads(self._config.decode_threads)
    super().setup()

  def process(self, job):
    count = 0
    try:
      inputs.check_name(job.path)   # Beam and the manifest store only UTF-8 text.
      stream = vggish_input.iter_file_examples(
          job.path, self._config.params, job.start_seconds, job.end_seconds,
          reject_silence=self._config.reject_silence)
      while True:
        try:
          examples = next(stream)
        except StopIteration as stop:
          info = stop.value
          break
        for example in examples:
          yield (job.key, count), example
          count += 1
    except Exception as exc:  # Every failure is routed, none stops the batch.
      self._beacon.add(files=1)
      yield beam.pvalue.TaggedOutput("errors", (job.key, dead_letter.error_row(
          job.key, job.path, "read", exc)))
      return
    start, end = _decoded_range(info, job)
    progress.count("files_read")
    progress.count("audio_milliseconds", round(1000 * (end - start)))
    progress.count("examples", count)
    self._beacon.add(files=1, seconds=end - start)
    yield beam.pvalue.TaggedOutput("info", (job.key, {
        "video_id": job.video_id, "source": job.path,
        "start_seconds": float(start if job.record_start is None else job.record_start),
        "end_seconds": float(end if job.record_end is None else job.record_end),
        "duration_seconds": float(info.duration_seconds), "sample_rate": info.sample_rate,
        "channels": info.channels, "frames": info.frames, "embedding_frames": count,
        "labels": [int(label) for label in job.labels]}))


class ReadExamples(beam.PTransform):
  """AudioJob -> tagged outputs: examples ((key, i), float32 [96, 64]), info, errors."""

  def __init__(self, config):
    super().__init__()
    self._config = config

  def expand(self, jobs):
    return jobs | beam.ParDo(_ReadExamplesFn(self._config)).with_outputs(
        "info", "errors", main="examples")


def _inference_error_rows(failure):
  """Error rows (key, row) for the files of a failed RunInference batch."""
  batch, exception = failure
  if isinstance(exception, tuple) and exception:
    kind = getattr(exception[0], "__name__", str(exception[0]))
    message = str(exception[1]) if len(exception) > 1 else kind
  else:
    kind, message = type(exception).__name__, str(exception)
  for key in sorted({element[0][0] for element in batch}):
    yield key, dead_letter.error_row(key, key, "inference", (kind, f"{key}: VGGish failed: "
                                                                  f"{message}"))


class EmbedExamples(beam.PTransform):
  """((key, i), example) -> (key, (i, uint8 [128])) and 'errors' (key, row), batched."""

  def __init__(self, config):
    super().__init__()
    self._config = config

  def expand(self, examples):
    handler = KeyedModelHandler(model_handlers.VggishModelHandler(
        self._config.checkpoint_path, self._config.pca_params_path,
        self._config.params.batch_size, self._config.threads, self._config.beacon_dir))
    embedded, failed = examples | "RunInference" >> RunInference(
        handler).with_exception_handling()
    rows = embedded | "ByKey" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
    errors = failed.failed_inferences | "InferenceErrors" >> beam.FlatMap(
        _inference_error_rows)
    return rows, errors


class _AssembleFn(beam.DoFn):
  """Joined pieces of one job -> serialized record + manifest row, or an error row."""

  def process(self, keyed):
    key, joined = keyed
    infos = list(joined["info"])
    # The file read for this key; inference errors know only the key.
    source = infos[0]["source"] if infos else key
    failures = list(joined["read_errors"]) + list(joined["inference_errors"])
    if failures:
      row = failures[0]
      yield beam.pvalue.TaggedOutput("errors", dict(row, input=source) if row["input"] == key
                                     else row)
      return
    rows = sorted(joined["embeddings"], key=lambda item: item[0])
    if len(infos) != 1 or len(rows) != infos[0]["embedding_frames"]:
      expected = infos[0]["embedding_frames"] if infos else "?"
      error = ("incomplete_output", f"{key}: {len(rows)} embeddings for {expected} examples")
      yield beam.pvalue.TaggedOutput("errors", dead_letter.error_row(key, source, "assemble",
                                                                     error))
      return
    info = infos[0]
    embedding = np.stack([row for _, row in rows]).astype(np.uint8)
    progress.count("records_written")
    yield records.serialize(info["video_id"], embedding, info["start_seconds"],
                            info["end_seconds"], info["labels"])
    yield beam.pvalue.TaggedOutput("manifest", info)


class AssembleRecords(beam.PTransform):
  """Joins info, embeddings and errors by key -> records, 'manifest', 'errors'."""

  def expand(self, pieces):
    return (pieces
            | "JoinByKey" >> beam.CoGroupByKey()
            | "Assemble" >> beam.ParDo(_AssembleFn()).with_outputs(
                "manifest", "errors", main="records"))


class EmbedAudio(beam.PTransform):
  """AudioJob -> (serialized records, manifest rows, error rows)."""

  def __init__(self, config):
    super().__init__()
    self._config = config

  def expand(self, jobs):
    read = jobs | "ReadExamples" >> ReadExamples(self._config)
    embeddings, inference_errors = read.examples | "EmbedExamples" >> EmbedExamples(
        self._config)
    assembled = {"info": read.info, "embeddings": embeddings, "read_errors": read.errors,
                 "inference_errors": inference_errors} | "AssembleRecords" >> AssembleRecords()
    return assembled.records, assembled.manifest, assembled.errors


def write_embeddings(records_pcoll, manifest, prefix, num_shards):
  """Writes PREFIX-SSSSS-of-NNNNN.tfrecord shards and PREFIX-manifest.parquet."""
  records_pcoll | "WriteTFRecords" >> beam.io.WriteToTFRecord(
      prefix, file_name_suffix=".tfrecord", num_shards=num_shards)
  manifest | "WriteManifest" >> beam.io.WriteToParquet(
      prefix + "-manifest.parquet", manifest_schema(), num_shards=1, shard_name_template="")


def count_outputs(staged, errors_format):
  """(records written, error rows) read back from the staged manifest and errors files."""
  written = dead_letter.parquet_rows(staged.staged("-manifest.parquet"))
  errors = dead_letter.count_rows(staged.staged(dead_letter.suffix(errors_format)))
  return written, errors
