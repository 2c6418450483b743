"""Label lists: AudioSet mids or class indices -> sorted class indices.

`class_labels_indices.csv` (AudioSet release: `index,mid,display_name`) maps
mids such as `/m/09x0r` to indices.  A label list is a string of labels
separated by commas (or semicolons), each a mid or an integer index, e.g.
`"/m/09x0r,/t/dd00088"` or `"0,137"`.

The `--labels-csv` CSV of `soundscope embed` has a header with a `labels` column
and a `video_id` or `path` column; a row applies to the input whose video_id,
or whose path (absolute or relative to the current directory), matches.
Inputs without a row get no labels.  The CSV is UTF-8; a leading BOM (as
spreadsheet programs write) is skipped.
"""

import csv
import os
import re

from soundscope.models import class_map

_SEPARATORS = re.compile(r"[,;]")


class UnknownLabelError(ValueError):
  """A mid not in the class map, or an index out of range."""
  kind = "unknown_label"


def load_class_map(path):
  """{mid: index} from class_labels_indices.csv (columns index, mid, display_name).

  Raises:
    ValueError (models.class_map.ClassMapError): naming the file, when it is not UTF-8
    text, lacks those columns or an index is not a number.
  """
  return class_map.mid_to_index(class_map.read(path, columns=("index", "mid")))


def parse(text, mid_to_index=None, num_classes=None):
  """Parses a label list.

  Args:
    text: e.g. '/m/09x0r,/t/dd00088' or '0, 137' (empty: no labels).
    mid_to_index: {mid: index}, needed when mids appear.
    num_classes: if given, indices must be below it.

  Returns:
    tuple of int, sorted, without duplicates.

  Raises:
    UnknownLabelError.
  """
  indices = set()
  for label in (part.strip() for part in _SEPARATORS.split(text or "")):
    if not label:
      continue
    if label.lstrip("-").isdigit():
      index = int(label)
      limit = num_classes if num_classes is not None else (
          len(mid_to_index) if mid_to_index else None)
      if index < 0 or (limit is not None and index >= limit):
        raise UnknownLabelError(f"label index {index} is out of range")
    elif mid_to_index is None:
      raise UnknownLabelError(f"label {label!r} is a mid but no class map was given "
                              f"(--class-labels class_labels_indices.csv)")
    elif label not in mid_to_index:
      raise UnknownLabelError(f"label {label!r} is not in the class map")
    else:
      index = mid_to_index[label]
    indices.add(index)
  return tuple(sorted(indices))


def load_file_labels(path):
  """{key: label text} of an embed --labels-csv CSV (key: video_id or absolute path)."""
  with open(path, newline="", encoding="utf-8-sig") as handle:   # A BOM is skipped.
    reader = csv.DictReader(handle, skipinitialspace=True)
    fields = set(reader.fieldnames or ())
    if "labels" not in fields or not fields & {"video_id", "path"}:
      raise ValueError(f"{path}: needs a header with 'labels' and 'video_id' or 'path' "
                       f"columns, found {sorted(fields)}")
    table = {}
    for row in reader:
      keys = []
      if row.get("video_id"):
        keys.append(row["video_id"].strip())
      if row.get("path"):
        keys.append(os.path.abspath(row["path"].strip()))
      for key in keys:
        if key in table and table[key] != row["labels"]:
          raise ValueError(f"{path}:{reader.line_num}: {key} is listed again with other "
                           f"labels ({table[key]!r}, then {row['labels']!r})")
        table[key] = row["labels"]
    return table
