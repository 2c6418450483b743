"""Launcher side: the parts' files (pipelines/parts.py) merged into the outputs.

Parts are merged in part order, so an output's rows are in the order of the
inputs whatever the runner, the number of workers or which parts a resumed
run took over.  Memory holds one batch of rows (Parquet) or one record
(TFRecord); every output goes through the same Beam filesystems as the
pipelines (local, gs://, s3://, ...).

  concat_parquet    part tables -> one Parquet file (rows, manifest, errors)
  split_tfrecords   part records -> N TFRecord shards, records in order, shard s
                    holding records [s * W / N, (s + 1) * W / N) of the W written
  write_errors      early error rows + part error tables -> PREFIX-errors.parquet or .jsonl
"""

import json
import posixpath

from soundscope.configs import pipelines as PC
from soundscope.pipelines import parts, tfrecords

MERGE_BATCH_ROWS = PC.MERGE_BATCH_ROWS       # Rows copied at a time (configs/pipelines.py).


def part_files(directory, indices, table, extension=parts.PARQUET):
  """Paths of `table`'s file of the parts `indices`, in that order."""
  return [posixpath.join(directory, parts.file_name(index, table, extension))
          for index in indices]


def _create(path):
  from apache_beam.io.filesystems import FileSystems
  try:
    return FileSystems.create(path)
  except OSError as exc:
    raise parts.write_error(path, exc) from None


def concat_parquet(sources, destination, schema, batch_rows=MERGE_BATCH_ROWS, first=()):
  """Streams the rows of `first` (dicts) and of the Parquet files `sources` into one file,
  in row groups of `batch_rows` rows (the last one shorter), whatever the sources' sizes.

  Returns:
    int: rows written.
  """
  import pyarrow as pa
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  rows = 0
  try:
    with _create(destination) as sink, pq.ParquetWriter(sink, schema) as writer:
      # A part holds a few dozen rows: they are gathered into whole row groups.
      pending = pa.Table.from_pylist(list(first), schema=schema).to_batches()
      held = sum(batch.num_rows for batch in pending)
      for source in sources:
        with FileSystems.open(source) as handle:
          for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows):
            pending.append(batch)
            held += batch.num_rows
            if held >= batch_rows:
              table = pa.Table.from_batches(pending, schema=writer.schema)
              whole = held - held % batch_rows
              writer.write_table(table.slice(0, whole), row_group_size=batch_rows)
              rows += whole
              pending, held = table.slice(whole).to_batches(), held - whole
      if held:
        writer.write_table(pa.Table.from_batches(pending, schema=writer.schema),
                           row_group_size=batch_rows)
        rows += held
  except OSError as exc:
    if isinstance(exc, parts.OutputWriteError):
      raise
    raise parts.write_error(destination, exc) from None
  return rows


def split_tfrecords(sources, shard_path, num_shards, total):
  """Copies the records of `sources`, in order, into `num_shards` shards.

  Args:
    sources: TFRecord files, in order.
    shard_path: callable(shard index) -> path of that shard.
    num_shards: shards to write (every one is written, empty or not).
    total: records in `sources` (from the parts' done-files).

  Returns:
    int: records copied.
  """
  from apache_beam.io.filesystems import FileSystems
  copied, shard, sink = 0, -1, None
  try:
    for source in sources:
      with FileSystems.open(source) as handle:
        for framed in tfrecords.iter_framed(handle):
          wanted = copied * num_shards // max(total, 1)
          while shard < wanted:
            if sink is not None:
              sink.close()
            shard += 1
            sink = _create(shard_path(shard))
          sink.write(framed)
          copied += 1
    while shard < num_shards - 1:
      if sink is not None:
        sink.close()
      shard += 1
      sink = _create(shard_path(shard))
  except OSError as exc:
    if isinstance(exc, parts.OutputWriteError):
      raise
    raise parts.write_error(shard_path(max(shard, 0)), exc) from None
  finally:
    if sink is not None:
      sink.close()
  return copied


def write_errors(path, early, sources, errors_format):
  """Writes the error rows `early` (dicts) then those of the Parquet files `sources`.

  Returns:
    int: rows written.
  """
  from soundscope.pipelines import dead_letter
  if errors_format == "parquet":
    return concat_parquet(sources, path, dead_letter.errors_schema(), first=early)
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  rows = 0
  try:
    with _create(path) as sink:
      for row in early:
        sink.write((json.dumps(row, sort_keys=True) + "\n").encode())
        rows += 1
      for source in sources:
        with FileSystems.open(source) as handle:
          for row in pq.read_table(handle).to_pylist():
            sink.write((json.dumps(row, sort_keys=True) + "\n").encode())
            rows += 1
  except OSError as exc:
    if isinstance(exc, parts.OutputWriteError):
      raise
    raise parts.write_error(path, exc) from None
  return rows
