"""Audio to AudioSet-format records: the Beam graph shared by embed and audioset.

Data flow (pipelines/parts.py: the parts are formed by the launcher):

  Part of AudioJobs --Create "Parts"--> --EmbedParts-->
      each job's file decoded block by block into float32 [96, 64] examples
      --> fixed batches of the part's examples (across its files) through VGGish,
          PCA and quantization (model_handlers.VggishModelHandler) --> uint8 [128]
      --> per job, in order: a serialized SequenceExample (table 'records') and its
          manifest row (table 'manifest'), or one error row (table 'errors')
      --> the part's files, then its done-file --> one summary per part (the leaf)

Every job ends as exactly one record (with its manifest row) or one error row,
so the output always reconciles: a file whose decoding fails half-way, or one
of whose batches fails in VGGish, is dropped whole into the errors output
(its examples already embedded are discarded).  Memory holds one batch of
examples and the embeddings of the files not yet written.
"""

import collections
import sys

import apache_beam as beam
import numpy as np

from soundscope.configs import pipelines as PC
from soundscope.pipelines import dead_letter, model_handlers, options, parts, progress
from soundscope.transforms import records, vggish_input
from soundscope.util import prefetch

RECORDS_TABLE = "records"
MANIFEST_TABLE = "manifest"
ERRORS_TABLE = "errors"

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
EmbedConfig.__doc__ = """Settings of EmbedParts: VggishParams, the VGGish file paths,
whether digital silence is an error, the progress beacon folder (or None),
LiteRT threads per VGGish invoke in each worker (0: its cores) and BLAS threads per worker for
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


def part_formats():
  """{table: schema, or None for TFRecord bytes} of an embed part's files."""
  return {RECORDS_TABLE: None, MANIFEST_TABLE: manifest_schema(),
          ERRORS_TABLE: dead_letter.errors_schema()}


# What _decoded yields about a job: a block of its examples, the end of its file, a failure.
_EXAMPLES, _READ, _FAILED = "examples", "read", "failed"


class _Job:
  """A job on its way through a part: its info once read, its embeddings, or its error."""

  def __init__(self, job):
    self.job = job
    self.info = None       # The manifest row, once the file is read to its end.
    self.examples = 0      # Examples read so far.
    self.embeddings = []   # uint8 [128] arrays, in example order.
    self.error = None      # An error row: the job gives no record.
    self.seconds = 0.0     # Audio decoded, seconds.

  def ready(self):
    return self.error is not None or (self.info is not None
                                      and len(self.embeddings) == self.examples)


class _EmbedPartsFn(progress.BeaconLifecycle, beam.DoFn):
  """Part of AudioJobs -> its records, manifest rows and error rows in the part's files."""

  def __init__(self, config, directory):
    self._config = config
    self._directory = directory
    self._beacon_dir = config.beacon_dir
    self._handler = model_handlers.VggishModelHandler(
        config.checkpoint_path, config.pca_params_path, config.params.batch_size,
        config.threads, config.beacon_dir)

  def setup(self):
    options.limit_decode_threads(self._config.decode_threads)
    super().setup()
    self._model = model_handlers.shared_model(self._handler)

  def process(self, part):
    writer = parts.PartWriter(self._directory, part.index, part_formats())
    try:
      files, seconds = self._embed(part, writer)
      yield writer.close(len(part.items), files, seconds)
    except BaseException:
      writer.abort()
      raise

  def _embed(self, part, writer):
    """Embeds the part's jobs, writing each as soon as it and those before it are done.

    A thread decodes up to EMBED_PREFETCH_BLOCKS blocks of examples ahead
    (_decoded) while VGGish runs on full batches here; counting and the jobs' states
    stay in this thread.
    """
    states, batch, written = [], [], [0]
    totals = {"files": 0, "seconds": 0.0}
    for index, kind, value in prefetch.prefetched(self._decoded(part),
                                                  PC.EMBED_PREFETCH_BLOCKS):
      if index == len(states):
        states.append(_Job(part.items[index]))
      state = states[index]
      if kind == _EXAMPLES:
        for example in value:
          state.examples += 1
          batch.append((state, example))
          if len(batch) >= self._handler.batch_size:
            self._run(batch)
            batch = []
        continue
      if kind == _READ:
        self._finish(state, value, totals)
      else:
        job = state.job
        state.error = dead_letter.error_row(job.key, job.path, "read", value)
        batch = [(owner, example) for owner, example in batch if owner is not state]
      self._write_ready(states, written, writer)
    if batch:
      self._run(batch)
    self._write_ready(states, written, writer)
    return totals["files"], totals["seconds"]

  def _decoded(self, part):
    """Yields (job index, _EXAMPLES, float32 [k, 96, 64]) for each block of a job's
    examples, then (job index, _READ, the file's info), or (job index, _FAILED, the
    exception) once reading it failed (any example blocks before stand)."""
    for index, job in enumerate(part.items):
      stream = vggish_input.iter_file_examples(
          job.path, self._config.params, job.start_seconds, job.end_seconds,
          reject_silence=self._config.reject_silence)
      try:
        while True:
          try:
            examples = next(stream)
          except StopIteration as stop:
            yield index, _READ, stop.value
            break
          yield index, _EXAMPLES, examples
      except Exception as exc:  # pylint: disable=broad-except  (every failure is routed)
        yield index, _FAILED, exc

  def _finish(self, state, info, totals):
    """Counts a job whose file was read to its end and sets its manifest row."""
    job = state.job
    start, end = _decoded_range(info, job)
    progress.count("files_read")
    progress.count("audio_milliseconds", round(1000 * (end - start)))
    progress.count("examples", state.examples)
    totals["files"] += 1
    totals["seconds"] += end - start
    state.seconds = end - start
    state.info = {
        "video_id": job.video_id, "source": job.path,
        "start_seconds": float(start if job.record_start is None else job.record_start),
        "end_seconds": float(end if job.record_end is None else job.record_end),
        "duration_seconds": float(info.duration_seconds), "sample_rate": info.sample_rate,
        "channels": info.channels, "frames": info.frames, "embedding_frames": state.examples,
        "labels": [int(label) for label in job.labels]}

  def _run(self, batch):
    """One VGGish batch; a failure becomes the error of every job with examples in it."""
    try:
      embeddings = self._handler.run_inference([example for _, example in batch], self._model)
    except Exception as exc:  # pylint: disable=broad-except
      for state in dict.fromkeys(owner for owner, _ in batch):
        if state.error is None:
          job = state.job
          state.error = dead_letter.error_row(job.key, job.path, "inference", (
              type(exc).__name__, f"{job.path}: VGGish failed: {exc}"))
      return
    for (state, _), embedding in zip(batch, embeddings):
      state.embeddings.append(embedding)

  def _write_ready(self, states, written, writer):
    """Writes the finished jobs at the head of `states` (in order); written[0]: next to write."""
    while written[0] < len(states) and states[written[0]].ready():
      state = states[written[0]]
      states[written[0]] = None   # Its embeddings are no longer needed.
      written[0] += 1
      if state.error is None and state.examples == 0:
        state.error = dead_letter.error_row(state.job.key, state.job.path, "assemble", (
            "incomplete_output", f"{state.job.path}: no examples"))
      if state.error is not None:
        progress.count_error(state.error["error_type"])
        self._beacon.add(files=1)
        writer.add(ERRORS_TABLE, [state.error])
        continue
      info = state.info
      embedding = np.stack(state.embeddings).astype(np.uint8)
      progress.count("records_written")
      self._beacon.add(files=1, seconds=state.seconds)
      # Deterministic: the context's map of features in key order, so that every
      # worker process writes the same bytes for the same record.
      writer.add(RECORDS_TABLE, [records.encode(
          info["video_id"], embedding, info["start_seconds"], info["end_seconds"],
          info["labels"]).SerializeToString(deterministic=True)])
      writer.add(MANIFEST_TABLE, [info])


class EmbedParts(beam.PTransform):
  """Parts of AudioJobs -> the parts' files in `directory` -> one summary per part."""

  def __init__(self, config, directory):
    super().__init__()
    self._fn = _EmbedPartsFn(config, directory)

  def expand(self, part_elements):
    return part_elements | "EmbedParts" >> beam.ParDo(self._fn)


def build_pipeline(pipeline, todo, config, directory):
  """Adds the embedding graph over the parts `todo` to `pipeline`, after converting the
  VGGish checkpoint for LiteRT here if no conversion is kept (a line on stderr says so).

  Raises:
    model_handlers.ModelLoadError: the checkpoint cannot be converted.
  """
  model_handlers.VggishModelHandler(config.checkpoint_path, config.pca_params_path).prepare(
      lambda message: print(f"VGGish: {message}", file=sys.stderr, flush=True))
  return (pipeline
          | "Parts" >> beam.Create(todo, reshuffle=options.spread_parts(pipeline))
          | "Embed" >> EmbedParts(config, directory))


def merge_parts(parts_dir, done, indices, shard_path, num_shards, manifest_path):
  """Writes the parts' records into `num_shards` shards and their manifest rows into one file.

  Returns:
    (records copied, manifest rows).
  """
  from soundscope.pipelines import merge
  total = sum(done[index]["counts"][RECORDS_TABLE] for index in indices)
  copied = merge.split_tfrecords(
      merge.part_files(parts_dir, indices, RECORDS_TABLE, parts.TFRECORD), shard_path,
      num_shards, total)
  rows = merge.concat_parquet(merge.part_files(parts_dir, indices, MANIFEST_TABLE),
                              manifest_path, manifest_schema())
  return copied, rows
