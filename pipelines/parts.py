"""Parts: the units of work of the batch pipelines, formed by the launcher.

Beam's portable core is all the pipelines rely on, so they run the same on
every runner (the FnApiRunner, its worker processes, Dask, Flink, ...):

  list of inputs --plan (launcher)--> Part(index, items) --Create "Parts"--> one element
    per part --the command's DoFn ("EmbedParts", "ScoreParts")--> each input read, run
    through its model, and its row or error row streamed by a PartWriter into the
    part's files under fixed names in the staging folder, the done-file last
    --> one small summary per part (the one leaf)

Batches never depend on a runner's bundles (no finish_bundle output: a part
is a batch, and the model batches within it), each DoFn has one output (a
row or an error row goes to its own table of the part), no side inputs, one
leaf, and the model is loaded once per worker process (model_handlers.shared_model).
The launcher then merges the parts' files in part order (pipelines/merge.py)
and counts the results from those files, not from metrics (metrics and the
progress beacons are only for the progress line).

Names in the staging folder (fixed by the part's index):
  part-IIIII.<table>.parquet   rows of a table (rows, manifest, errors, ...)
  part-IIIII.<table>.tfrecord  serialized records (embed)
  part-IIIII.done.json         {"index", "inputs", "counts", "files", "seconds"}
A part exists only once its done-file does: a part cut short by a crash has
none and is done again by `--resume` (pipelines/resume.py).
"""

import collections
import json
import posixpath

from soundscope.configs import pipelines as PC
from soundscope.pipelines import tfrecords

Part = collections.namedtuple("Part", ["index", "items"])
Part.__doc__ = """A batch of inputs, formed by the launcher: index (int, its place in
the plan) and items (tuple of the command's input descriptions)."""
TARGET_PARTS, MAX_PART_ITEMS, MIN_PARTS = PC.TARGET_PARTS, PC.MAX_PART_ITEMS, PC.MIN_PARTS
DONE_TAIL = ".done.json"
PARQUET = ".parquet"
TFRECORD = ".tfrecord"


def part_size(num_items, fixed=None):
  """Inputs per part: num_items / TARGET_PARTS rounded up, within [1, MAX_PART_ITEMS].

  fixed: the size wanted instead, for inputs that batch across files (TFRecord
    files hold ~5 records, and a head's call costs the same for 1 or 256): it
    gives way to keep at least MIN_PARTS parts, so a few dozen inputs still
    spread over the workers.
  """
  if fixed:
    return max(1, min(fixed, -(-num_items // MIN_PARTS)))
  return max(1, min(MAX_PART_ITEMS, -(-num_items // TARGET_PARTS)))


def plan(items, size, groups=None):
  """The parts of `items` (contiguous runs of `size`, in order).

  groups: optional list, per item, of a value (e.g. True for an input whose results
    are already committed): a part never holds items of two groups, so each run of
    equal values is cut into parts of `size` on its own.
  """
  items = list(items)
  groups = [None] * len(items) if groups is None else list(groups)
  found, start = [], 0
  while start < len(items):
    end = start + 1
    while end < len(items) and end - start < size and groups[end] == groups[start]:
      end += 1
    found.append(Part(len(found), tuple(items[start:end])))
    start = end
  return found


def file_name(index, table, extension=PARQUET):
  return f"part-{index:05d}.{table}{extension}"


def done_name(index):
  return f"part-{index:05d}{DONE_TAIL}"


class OutputWriteError(OSError):
  """An output file could not be written: one line naming the path and the reason."""


def write_error(path, exc):
  """OutputWriteError for an OSError `exc` met while writing `path`."""
  return OutputWriteError(f"{path}: {exc.strerror or exc}")


class PartWriter:
  """Worker side: streams one part's tables into its files, then writes its done-file.

  Rows are buffered (BUFFER_ROWS) and written as they come, so a part of long
  files never holds all its rows; every file is written under a temporary name
  and renamed to its fixed one by close(), the done-file last.

  Args:
    directory: the staging folder.
    index: the part's index.
    formats: {table name: pyarrow schema (Parquet), or None (TFRecord: rows are
      serialized records, bytes)}.
  """
  BUFFER_ROWS = 4096

  def __init__(self, directory, index, formats):
    import uuid
    self._directory = directory
    self._index = index
    self._formats = dict(formats)
    self._token = uuid.uuid4().hex[:8]
    self._buffers = {table: [] for table in self._formats}
    self._counts = {table: 0 for table in self._formats}
    self._writers = {}

  def _path(self, table):
    extension = TFRECORD if self._formats[table] is None else PARQUET
    return posixpath.join(self._directory, file_name(self._index, table, extension))

  def _temporary(self, table):
    return f"{self._path(table)}.tmp-{self._token}"

  def add(self, table, rows):
    """Appends rows (dicts, or bytes for a TFRecord table) to `table`."""
    buffer = self._buffers[table]
    buffer.extend(rows)
    if len(buffer) >= self.BUFFER_ROWS:
      self._flush(table)

  def add_table(self, table, rows):
    """Appends a pyarrow Table of rows (with `table`'s schema) to the Parquet `table`."""
    self._flush(table)
    self._counts[table] += rows.num_rows
    self._write(table, lambda writer: writer.write_table(rows))

  def _flush(self, table):
    rows, self._buffers[table] = self._buffers[table], []
    self._counts[table] += len(rows)
    self._write(table, lambda writer: writer.write(rows))

  def _write(self, table, write):
    path = self._temporary(table)
    try:
      writer = self._writers.get(table)
      if writer is None:
        writer = self._writers[table] = self._open(table, path)
      write(writer)
    except OSError as exc:
      raise write_error(path, exc) from None

  def _open(self, table, path):
    schema = self._formats[table]
    if schema is None:
      return _TFRecordFile(path)
    return _ParquetFile(path, schema)

  def close(self, inputs, files=0, seconds=0.0):
    """Finishes every file, renames them into place, writes the done-file.

    Args:
      inputs: inputs the part accounted for (files, or records + files that broke).
      files, seconds: inputs decoded and their audio seconds (progress only).

    Returns:
      {'index', 'inputs'}: the pipeline's summary element for this part.
    """
    from apache_beam.io.filesystems import FileSystems
    for table in self._formats:
      self._flush(table)
      try:
        self._writers.pop(table).close()
        FileSystems.rename([self._temporary(table)], [self._path(table)])
      except OSError as exc:
        raise write_error(self._path(table), exc) from None
    done = {"index": self._index, "inputs": inputs, "counts": self._counts,
            "files": files, "seconds": seconds}
    path = posixpath.join(self._directory, done_name(self._index))
    temporary = f"{path}.tmp-{self._token}"
    try:
      with FileSystems.create(temporary) as handle:
        handle.write(json.dumps(done).encode())
      FileSystems.rename([temporary], [path])
    except OSError as exc:
      raise write_error(path, exc) from None
    return {"index": self._index, "inputs": inputs}

  def abort(self):
    """Closes and deletes the temporary files (a failed part leaves nothing)."""
    from apache_beam.io.filesystems import FileSystems
    for table, writer in list(self._writers.items()):
      try:
        writer.close()
      except Exception:  # pylint: disable=broad-except  (the first error is the one to report)
        pass
      try:
        FileSystems.delete([self._temporary(table)])
      except Exception:  # pylint: disable=broad-except
        pass
    self._writers = {}


class _ParquetFile:
  def __init__(self, path, schema):
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems
    self._schema = schema
    self._handle = FileSystems.create(path)
    self._writer = pq.ParquetWriter(self._handle, schema)

  def write(self, rows):
    import pyarrow as pa
    if rows:
      self._writer.write_table(pa.Table.from_pylist(rows, schema=self._schema))

  def write_table(self, table):
    if table.num_rows:
      self._writer.write_table(table)

  def close(self):
    self._writer.close()
    self._handle.close()


class _TFRecordFile:
  """A TFRecord file of serialized records (pipelines/tfrecords.py: no TensorFlow)."""

  def __init__(self, path):
    self._handle = open(path, "wb")

  def write(self, records):
    self._handle.write(b"".join(tfrecords.frame_record(record) for record in records))

  def close(self):
    self._handle.close()


def read_done(directory):
  """{index: done dict} of the parts of `directory` that finished."""
  from apache_beam.io.filesystems import FileSystems
  from soundscope.pipelines import listing
  found = {}
  for path in listing.files_matching(posixpath.join(directory, "part-"), "*" + DONE_TAIL):
    try:
      with FileSystems.open(path) as handle:
        done = json.loads(handle.read().decode())
    except (OSError, ValueError):
      continue
    found[int(done["index"])] = done
  return found
