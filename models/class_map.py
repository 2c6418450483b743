"""Class maps: the `index,mid,display_name` CSVs that name a model's classes.

One reader for every class map the project reads: YAMNet's
`yamnet_class_map.csv`, a trained head's `labels.csv`, the AudioSet release's
`class_labels_indices.csv` (pipelines/labels.py) and the `--class-labels` of
train and evaluate.

  read(path, columns=COLUMNS, complete=False)
                                ClassMap(indices, mids, display_names), ordered by index
  mid_to_index(class_map)       {mid: index}

Every problem is a ClassMapError (a ValueError) whose message starts with the
file's path: a file that is not UTF-8 text, a header without the needed
columns, an index that is not a whole number, or one that is negative or
listed twice (with its line number).  complete=True (a model's labels: train,
evaluate, export) also needs the indices to be exactly 0..N-1 and every
display_name non-empty, since row i names output i.
"""

import collections
import csv

from soundscope.transforms import event_tables

COLUMNS = ("index", "mid", "display_name")

ClassMap = collections.namedtuple("ClassMap", ["indices", "mids", "display_names"])
ClassMap.__doc__ = """A class map, ordered by index.

  indices: tuple of int.
  mids: tuple of str (AudioSet machine ids such as '/m/09x0r'; '' where a file has none).
  display_names: tuple of str ('' when the file has no display_name column and none was needed).
"""


class ClassMapError(ValueError):
  """A class map that cannot be read; the message names the file and the problem."""


def read(path, columns=COLUMNS, complete=False):
  """Reads an index,mid,display_name CSV.

  Args:
    path: the CSV (UTF-8, with a header line).
    columns: the columns it must have (pipelines/labels.py needs only index and mid).
    complete: also require indices 0..N-1 (each once) and non-empty display names.

  Returns:
    ClassMap, rows ordered by index.

  Raises:
    ClassMapError naming the file (and the line, for a bad index).
  """
  try:
    with open(path, newline="", encoding="utf-8") as stream:
      reader = csv.DictReader(stream)
      found = reader.fieldnames or []
      if not set(columns) <= set(found):
        raise ClassMapError(f"{path}: a class map needs {_names(columns)} columns, found {found}")
      rows, lines = [], {}
      for row in reader:
        name = row.get("display_name") or ""
        problem = event_tables.label_problem(name)
        if problem:
          raise ClassMapError(f"{path}:{reader.line_num}: display_name: {problem}")
        if complete and not name.strip():
          raise ClassMapError(f"{path}:{reader.line_num}: display_name is empty")
        index = _index(row, path, reader.line_num)
        if index < 0 or index in lines:
          raise ClassMapError(f"{path}:{reader.line_num}: index {index} is "
                              + ("negative" if index < 0 else f"also on line {lines[index]}"))
        lines[index] = reader.line_num
        rows.append((index, (row.get("mid") or "").strip(), name))
  except UnicodeDecodeError as exc:
    raise ClassMapError(f"{path}: a class map must be UTF-8 text (byte {exc.start} is "
                        f"not)") from None
  rows.sort(key=lambda row: row[0])
  if complete:
    _check_complete(path, rows, lines)
  indices, mids, names = zip(*rows) if rows else ((), (), ())
  return ClassMap(tuple(indices), tuple(mids), tuple(names))


def mid_to_index(class_map):
  """{mid: index} of a ClassMap."""
  return dict(zip(class_map.mids, class_map.indices))


def _index(row, path, line):
  try:
    return int(row["index"])
  except (TypeError, ValueError):
    raise ClassMapError(f"{path}:{line}: index is not a whole number") from None


def _check_complete(path, rows, lines):
  """ClassMapError unless the sorted rows' indices are 0..N-1 (no index missing)."""
  if not rows:
    raise ClassMapError(f"{path}: lists no classes")
  for position, (index, _, _) in enumerate(rows):
    if index != position:
      raise ClassMapError(f"{path}:{lines[index]}: index {index}, but index {position} is "
                          f"missing (indices must be 0..N-1, one row each)")


def _names(columns):
  quoted = [repr(column) for column in columns]
  return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
