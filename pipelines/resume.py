"""`--resume`: a run takes over the finished parts of an interrupted run on the same output.

Each run records in its staging folder (pipelines/outputs.py) `.run.json`:
its settings (everything that changes an output: the command, the model and
its version, the front end, the report options, ...), its part size, its
start time (predict writes it in every row) and the key of every part: for
each input, its path, size in bytes and modification time (ns), plus what the
command adds (labels, segment times).  A part is finished once its done-file
exists (pipelines/parts.py).

With --resume, a run finds the newest staging folder of a crashed or
interrupted run on the same prefix and:
  * refuses, naming the first difference, when its settings differ from the
    new run's (results of two settings are never mixed);
  * plans its parts with the old part size, so unchanged inputs fall into
    the same parts, and takes over every finished part whose key equals one of
    its own (the files are moved, not recomputed);
  * runs the pipeline on the other parts only, and keeps the old start time,
    so the merged outputs equal an uninterrupted run's.
Without a leftover run, --resume runs everything (and says so).

Committed outputs (a growing archive run again): every run (with or without
--resume) commits `.<name>.inputs.json` with its outputs (pipelines/outputs.py): its
settings, every input's key and how many early error rows head the errors
file.  The next --resume refuses when those settings differ (naming the first
difference), and reuses the committed results of every input whose key is
unchanged: the launcher plans those inputs into parts of their own
(parts.plan's groups), and `take_committed` writes each such part's files
from the committed outputs' rows of its inputs (selected by the input's path,
in this run's input order, `run_time` set to this run's), so the merge treats
them as any finished part and the outputs equal a fresh run over all inputs.
New inputs, and inputs whose size or modification time changed, are run (the
old rows of a changed input are dropped, as are those of inputs now gone).
"""

import collections
import os

from soundscope.pipelines import listing, outputs, parts, tfrecords


class ResumeError(ValueError):
  """The interrupted run's settings differ from this run's (one line naming the difference)."""


def input_key(path, *extra):
  """[path, size, mtime_ns, *extra] of an input file (size and time None when unreadable)."""
  try:
    status = os.stat(path)
    size, modified = status.st_size, status.st_mtime_ns
  except (OSError, ValueError):
    size = modified = None
  return [path, size, modified, *extra]


def previous_run(staged):
  """(folder, .run.json dict) of the newest leftover run of `staged`'s prefix, or (None, None)."""
  from apache_beam.io.filesystems import FileSystems
  for folder in staged.leftovers:
    run = outputs._read_json(FileSystems.join(folder, outputs.RUN_FILE))
    if run is not None:
      return folder, run
  return None, None


def _flat(settings, prefix=""):
  """{'report.top_k': 3, ...}: nested settings by dotted names."""
  flat = {}
  for name, value in settings.items():
    if isinstance(value, dict):
      flat.update(_flat(value, f"{prefix}{name}."))
    else:
      flat[prefix + name] = value
  return flat


def check_settings(previous, settings, folder, what="the interrupted run in"):
  """Raises ResumeError naming the first setting that differs."""
  old, settings = _flat(previous.get("settings", {})), _flat(settings)
  for name in sorted(set(old) | set(settings)):
    if old.get(name) != settings.get(name):
      raise ResumeError(
          f"--resume: {what} {folder} used {name}={old.get(name)!r}, this "
          f"run asks {name}={settings.get(name)!r}; its results cannot be mixed with these "
          f"(rerun without --resume to start over)")


def adopt(staged, folder, previous, plan, keys):
  """Moves the finished parts of the leftover run whose keys match parts of `plan`.

  Args:
    staged: this run's outputs.StagedOutput.
    folder, previous: the leftover run (previous_run).
    plan: this run's parts; keys: their keys (list per part, JSON-like).

  Returns:
    set of this run's part indices taken over.
  """
  from apache_beam.io.filesystems import FileSystems
  old_parts = FileSystems.join(folder, outputs.PARTS_FOLDER)
  finished = parts.read_done(old_parts)
  by_key = {}
  for index, key in enumerate(previous.get("keys", [])):
    if index in finished:
      by_key.setdefault(_hashable(key), index)
  files = collections.defaultdict(list)   # The old parts' files by index ('00007'), listed once.
  for path in listing.files_matching(FileSystems.join(old_parts, "part-"), "*"):
    name = os.path.basename(path)
    if ".tmp-" not in name:
      files[name[len("part-"):].split(".", 1)[0]].append(path)
  taken = set()
  for part, key in zip(plan, keys):
    old_index = by_key.pop(_hashable(key), None)
    if old_index is None:
      continue
    sources = files.get(f"{old_index:05d}", [])
    targets = [FileSystems.join(staged.parts_dir, _renumbered(os.path.basename(path),
                                                              part.index))
               for path in sources]
    if targets:
      FileSystems.rename(sources, targets)
    if part.index != old_index:   # The done-file names its part: rewrite it for the new index.
      done = dict(finished[old_index], index=part.index)
      outputs.write_json(FileSystems.join(staged.parts_dir, parts.done_name(part.index)), done)
    taken.add(part.index)
  return taken


def _renumbered(name, index):
  return f"part-{index:05d}" + name[len("part-00000"):]


def _hashable(value):
  if isinstance(value, (list, tuple)):
    return tuple(_hashable(item) for item in value)
  return value


Reuse = collections.namedtuple("Reuse", ["paths", "column", "schema", "skip"])
Reuse.__doc__ = """How to take one table of a part from the committed outputs.

  paths: the committed files holding the table's rows, in order (.parquet or .jsonl,
    or .tfrecord shards).
  column: the column naming the input's path (the first item of its key); for a
    TFRecord table (schema None), the name of the table whose rows its records follow
    one for one (embed: records follow the manifest).
  schema: the part table's pyarrow schema (None: TFRecord payloads).
  skip: rows at the head of the files that belong to no input of the parts (the early
    error rows of the errors file).
"""


def committed_run(staged):
  """The committed inputs record of `staged`'s prefix (dict), or None."""
  return outputs._read_json(staged.inputs_record)


def record_inputs(staged, settings, keys, early_rows):
  """Stages the inputs record, committed with the outputs (read back by committed_run)."""
  outputs.write_json(staged.staged_inputs_record, {
      "settings": settings, "keys": keys, "early_errors": early_rows})


def reusable(committed, keys):
  """Per key of `keys`: True when the committed record holds that same key."""
  known = {_hashable(key) for key in committed.get("keys", [])}
  return [_hashable(key) in known for key in keys]


def take_committed(staged, tables, count_inputs, plan, keys, run_time):
  """Writes the files and done-file of each part of `plan` from the committed outputs.

  Args:
    staged: this run's outputs.StagedOutput.
    tables: {table: Reuse}.
    count_inputs: callable({table: pyarrow Table}) -> inputs the part accounts for.
    plan: the parts to write (every input of them is committed and unchanged).
    keys: per part, the list of its inputs' keys (path first).
    run_time: this run's timestamp, written into a `run_time` column.

  Returns:
    inputs taken over (int).

  Memory holds each committed table's path column whole and, for the part being
  written, the Parquet row groups (or TFRecord records) its rows are in
  (_CommittedTable), never a whole table of rows.
  """
  import pyarrow as pa
  import pyarrow.compute as pc
  committed = {name: _CommittedTable(reuse) for name, reuse in tables.items()}
  taken = 0
  for part, part_keys in zip(plan, keys):
    paths = pa.array([key[0] for key in part_keys], pa.string())
    writer = parts.PartWriter(staged.parts_dir, part.index,
                              {name: reuse.schema for name, reuse in tables.items()})
    chosen, rows_of = {}, {}
    try:
      for name, reuse in tables.items():
        if reuse.schema is None:
          continue
        # The rows of the part's inputs, in the part's order of inputs (a stable sort).
        # (One array: indices_nonzero crashes on a ChunkedArray of no chunks, pyarrow 25.0.1.)
        found = pc.index_in(committed[name].keys, value_set=paths)
        where = pc.indices_nonzero(pc.is_valid(found))
        rows_of[name] = where.take(pc.sort_indices(found.take(where)))
        chosen[name] = _with_run_time(committed[name].take(rows_of[name]), run_time)
        writer.add_table(name, chosen[name])
      for name, reuse in tables.items():
        if reuse.schema is None:
          writer.add(name, committed[name].take(rows_of[reuse.column]))
      inputs = count_inputs(chosen)
      writer.close(inputs)
    except BaseException:
      writer.abort()
      raise
    taken += len(part.items)
  return taken


class _CommittedTable:
  """One committed table, read a part at a time.

  Holds the table's `reuse.column` (one path a row) and where each row lies: a
  Parquet row group (read when a part needs one of its rows; the last ones read
  are kept, as parts take contiguous rows), a JSON-lines file (read whole: error
  rows only), or, for TFRecord payloads (schema None), each record's file and
  offset (read one by one, CRCs checked).  Row i is the committed table's row
  `reuse.skip + i`.
  """

  def __init__(self, reuse):
    import numpy as np
    self._reuse = reuse
    if reuse.schema is None:
      self._records = []   # (path, offset) of each record.
      for path in reuse.paths:
        self._records.extend((path, offset) for offset in _record_offsets(path))
      self.keys = None
      return
    self._pieces = []     # Per piece: (path, row group or None, or the Table of a .jsonl).
    starts, columns = [], []
    total = 0
    for path in reuse.paths:
      for piece, column in self._scan(path):
        self._pieces.append(piece)
        starts.append(total)
        columns.append(column)
        total += len(column)
    self._starts = np.asarray(starts + [total], np.int64)
    keys = _concat_arrays(columns, _column_type(reuse))
    self.keys = keys.slice(reuse.skip)
    self._cache = {}

  def _scan(self, path):
    """Yields (piece, its key column) of one committed file."""
    import json
    import pyarrow as pa
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems
    reuse = self._reuse
    with FileSystems.open(path) as handle:
      if path.endswith(".jsonl"):
        rows = [json.loads(line) for line in handle.read().decode().splitlines() if line]
        table = pa.Table.from_pylist(rows, schema=reuse.schema)
        yield (path, None, table), table[reuse.column].combine_chunks()
        return
      parquet = pq.ParquetFile(handle)
      for group in range(parquet.num_row_groups):
        column = parquet.read_row_group(group, columns=[reuse.column])[reuse.column]
        yield (path, group, None), column.combine_chunks().cast(_column_type(reuse))

  def take(self, rows):
    """The rows at positions `rows` (int array, any order): a pyarrow Table with
    reuse.schema, or for TFRecord payloads a list of bytes."""
    import numpy as np
    import pyarrow as pa
    positions = np.asarray(rows.to_numpy(zero_copy_only=False) if hasattr(rows, "to_numpy")
                           else rows, np.int64) + self._reuse.skip
    if self._reuse.schema is None:
      return self._read_records(positions)
    if positions.size == 0:
      return self._reuse.schema.empty_table()
    piece_of = np.searchsorted(self._starts, positions, side="right") - 1
    needed = sorted(set(piece_of.tolist()))
    self._cache = {index: self._cache[index] if index in self._cache else
                   self._read_piece(index) for index in needed}
    base, offset = {}, 0
    for index in needed:
      base[index] = offset - int(self._starts[index])
      offset += self._cache[index].num_rows
    local = positions + np.asarray([base[i] for i in piece_of.tolist()], np.int64)
    return pa.concat_tables([self._cache[i] for i in needed]).take(pa.array(local))

  def _read_piece(self, index):
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems
    path, group, table = self._pieces[index]
    if table is None:
      with FileSystems.open(path) as handle:
        table = pq.ParquetFile(handle).read_row_group(group)
    return table.select(self._reuse.schema.names).cast(self._reuse.schema)

  def _read_records(self, positions):
    from apache_beam.io.filesystems import FileSystems
    found, handles = [], {}
    try:
      for position in positions.tolist():
        path, offset = self._records[position]
        if path not in handles:
          handles[path] = FileSystems.open(path)
        handles[path].seek(offset)
        found.append(next(tfrecords.read_records(handles[path])))
    finally:
      for handle in handles.values():
        handle.close()
    return found


def _column_type(reuse):
  return reuse.schema.field(reuse.column).type


def _concat_arrays(arrays, type_):
  import pyarrow as pa
  return pa.concat_arrays(arrays) if arrays else pa.array([], type_)


def _record_offsets(path):
  """The byte offset of each record of a committed TFRecord file (framing read, bodies
  skipped)."""
  from apache_beam.io.filesystems import FileSystems
  with FileSystems.open(path) as handle:
    return list(tfrecords.record_offsets(handle))


def _with_run_time(rows, run_time):
  import pyarrow as pa
  if "run_time" not in rows.column_names:
    return rows
  field = rows.schema.field("run_time")
  column = pa.array([run_time] * rows.num_rows, field.type)
  return rows.set_column(rows.column_names.index("run_time"), field, column)


def rows_and_errors(rows_table, errors_table):
  """count_inputs of take_committed for tables of rows (columns source, record) and error
  rows: each (source, record) with rows is one input, each error row one more."""

  def count(tables):
    rows = tables[rows_table]
    pairs = set(zip(rows.column("source").to_pylist(), rows.column("record").to_pylist()))
    return len(pairs) + tables[errors_table].num_rows
  return count
