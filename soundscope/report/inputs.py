"""The events tables a report reads: Parquet files, or folders of them, as one pyarrow.Table.

Each file is read by transforms/event_tables.read_parquet (the events schema,
EVENTS_SCHEMA); a folder stands for its `*events.parquet` files (predict
--events writes `<prefix>-events.parquet`), searched recursively, in name
order.  Anything unusable is a ReportInputError naming the path and the
problem, which the command prints as one line (exit status 2).
"""

import os

from soundscope.configs import report as R
from soundscope.transforms import event_tables


NUMBERS = ("start_seconds", "end_seconds", "peak_score", "mean_score")   # Finite floats.


class ReportInputError(ValueError):
  """An input the report cannot use: one line naming the path and the problem."""


def event_files(paths):
  """The Parquet files named by `paths` (files, or folders searched for *events.parquet).

  Args:
    paths: iterable of str or os.PathLike.

  Returns:
    list of str paths, in argument order (a folder's files sorted by name),
    without repeats.

  Raises:
    ReportInputError: a path that does not exist, or a folder without events tables.
  """
  import pathlib
  found = []
  for path in map(os.fspath, paths):
    if os.path.isdir(path):
      inside = sorted(str(p) for p in pathlib.Path(path).rglob(R.EVENTS_GLOB) if p.is_file())
      if not inside:
        raise ReportInputError(f"{path}: a folder without events tables ({R.EVENTS_GLOB})")
      found += inside
    elif os.path.isfile(path):
      found.append(path)
    elif os.path.exists(path):
      raise ReportInputError(f"{path}: not a file or a folder")
    else:
      raise ReportInputError(f"{path}: no such file or folder")
  return list(dict.fromkeys(found))


def read_events(paths, progress=False):
  """One events table (EVENTS_SCHEMA) of all the files `paths` name, in their order.

  Args:
    paths: files or folders (see event_files).
    progress: show a tqdm bar over the files.

  Returns:
    (pyarrow.Table of EVENTS_SCHEMA, list of the files read).

  Raises:
    ReportInputError: a missing path, a file that is not an events table (its
      missing columns named), or one whose rows lack a value every event has
      or hold a NaN or infinite time or score.
  """
  import pyarrow as pa
  import pyarrow.compute as pc
  import tqdm
  files = event_files(paths)
  tables = []
  for path in tqdm.tqdm(files, desc="reading", unit="file", disable=not progress or len(files) < 2):
    try:
      table = event_tables.read_parquet(path)
    except event_tables.EventTableError as exc:
      raise ReportInputError(str(exc)) from None
    empty = [name for name in event_tables.EVENTS_REQUIRED if table.column(name).null_count]
    if empty:
      raise ReportInputError(f"{path}: rows without a value in the columns {empty}")
    infinite = [name for name in NUMBERS
                if not pc.all(pc.is_finite(table.column(name)), min_count=0).as_py()]
    if infinite:
      raise ReportInputError(f"{path}: NaN or infinite values in the columns {infinite}")
    tables.append(table)
  return pa.concat_tables(tables).combine_chunks(), files
