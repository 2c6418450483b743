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

import functools
import json
import posixpath
import struct

from soundscope.configs import pipelines as PC
from soundscope.pipelines import parts

MERGE_BATCH_ROWS = PC.MERGE_BATCH_ROWS       # Rows copied at a time (configs/pipelines.py).
# TFRecord framing: uint64 length, uint32 masked CRC of the length, data, uint32 CRC.
_LENGTH_BYTES = 8
_CRC_BYTES = 4


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
  """Streams the rows of `first` (dicts) and of the Parquet files `sources` into one file.

  Returns:
    int: rows written.
  """
  import pyarrow as pa
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  rows = 0
  try:
    with _create(destination) as sink, pq.ParquetWriter(sink, schema) as writer:
      if first:
        writer.write_table(pa.Table.from_pylist(list(first), schema=schema))
        rows += len(first)
      for source in sources:
        with FileSystems.open(source) as handle:
          for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows):
            writer.write_batch(batch)
            rows += batch.num_rows
  except OSError as exc:
    if isinstance(exc, parts.OutputWriteError):
      raise
    raise parts.write_error(destination, exc) from None
  return rows


class DamagedRecordError(ValueError):
  """A TFRecord file that ends inside a record, or whose record fails its CRC."""


def iter_framed(handle):
  """Yields each record of an open TFRecord file with its framing, as bytes (no CRC check:
  the bytes are copied as TensorFlow wrote them)."""
  for framed, _ in _frames(handle):
    yield framed


def _frames(handle, crc32c=None):
  """(framed bytes, offset of the data) of each record; DamagedRecordError when cut short,
  or (with `crc32c`) when a length fails its CRC (checked before reading the record)."""
  index = 0
  while True:
    header = handle.read(_LENGTH_BYTES + _CRC_BYTES)
    if not header:
      return
    if len(header) < _LENGTH_BYTES + _CRC_BYTES:
      raise DamagedRecordError("the file ends inside a record's header")
    (length,) = struct.unpack("<Q", header[:_LENGTH_BYTES])
    if crc32c is not None:
      (length_crc,) = struct.unpack("<I", header[_LENGTH_BYTES:])
      if _masked_crc32c(header[:_LENGTH_BYTES], crc32c) != length_crc:
        raise DamagedRecordError(f"record {index}'s length fails its CRC check")
    index += 1
    body = handle.read(length + _CRC_BYTES)
    if len(body) < length + _CRC_BYTES:
      raise DamagedRecordError("the file ends inside a record")
    yield header + body, _LENGTH_BYTES + _CRC_BYTES


def record_offsets(handle):
  """Yields the byte offset of each record of an open, seekable TFRecord file, reading
  only the headers (read_records from that offset reads the record, CRCs checked).

  Raises:
    DamagedRecordError: when the file ends inside a record.
  """
  import os
  size = handle.seek(0, os.SEEK_END)
  offset = handle.seek(0)
  while offset < size:
    header = handle.read(_LENGTH_BYTES + _CRC_BYTES)
    if len(header) < _LENGTH_BYTES + _CRC_BYTES:
      raise DamagedRecordError("the file ends inside a record's header")
    (length,) = struct.unpack("<Q", header[:_LENGTH_BYTES])
    end = offset + len(header) + length + _CRC_BYTES
    if end > size:
      raise DamagedRecordError("the file ends inside a record")
    yield offset
    offset = handle.seek(end)


def _masked_crc32c(data, crc32c):
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@functools.lru_cache(maxsize=1)
def _crc32c():
  """crcmod's CRC32C function (its table is built in Python, 0.35 ms: once per process)."""
  import crcmod.predefined
  return crcmod.predefined.mkPredefinedCrcFun("crc-32c")


def read_records(handle):
  """Yields the payload of each record of an open TFRecord file (uncompressed), checking
  both CRCs as TensorFlow's reader does.

  Pure Python framing with crcmod's native CRC32C: no TensorFlow in the worker and
  no tf.data dataset per file (~15 ms each).

  Raises:
    DamagedRecordError: naming the record (0-based) that is cut or fails its CRC.
  """
  crc32c = _crc32c()
  for index, (framed, start) in enumerate(_frames(handle, crc32c)):
    data = framed[start:-_CRC_BYTES]
    (data_crc,) = struct.unpack("<I", framed[-_CRC_BYTES:])
    if _masked_crc32c(data, crc32c) != data_crc:
      raise DamagedRecordError(f"record {index} fails its CRC check")
    yield data


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
        for framed in iter_framed(handle):
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
