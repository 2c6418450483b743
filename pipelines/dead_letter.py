"""The errors output: one row per input that did not make it, and the final count.

Every failure (a file that cannot be decoded, a clip too short under the
'error' policy, a segment without audio, an inference error) becomes one row
and the pipeline goes on.  Rows have the columns of ERRORS_SCHEMA:
  id          the input's id (video_id, or YTID_start for AudioSet segments)
  input       what the user gave: the file path, or the segment's CSV line
  stage       where it failed: expand, labels, locate, read, inference, assemble
  error_type  transforms.errors.error_kind: file_not_found, not_a_file,
              empty_file, unreadable_audio, clip_too_short, silent_audio,
              missing_audio, duplicate_input, unknown_label, or an exception
              class name for unexpected failures
  message     one readable sentence naming the input and the problem
Every field is UTF-8 text: a file name that is not UTF-8 is written with
backslash escapes (inputs.printable), as Parquet and Beam's coders need.

They are written to `PREFIX-errors.parquet` (or `.jsonl` with
--errors-format=jsonl; pipelines/merge.write_errors), always, even when empty,
so a run's outcome is complete on disk.  `reconcile` checks inputs = written + errors at the end.
"""

import collections
import json
import sys

from soundscope.pipelines import inputs
from soundscope.transforms import errors as audio_errors

STAGES = ("expand", "labels", "locate", "read", "inference", "assemble")
ERROR_FIELDS = ("id", "input", "stage", "error_type", "message")
PARQUET_SUFFIX = "-errors.parquet"
JSONL_SUFFIX = "-errors.jsonl"


def errors_schema():
  import pyarrow as pa
  return pa.schema([(name, pa.string()) for name in ERROR_FIELDS])


def error_row(item_id, source, stage, error):
  """A row for an exception (or a (error_type, message) pair).

  Args:
    item_id: the input's id.
    source: the path or segment text the user gave.
    stage: one of STAGES.
    error: an exception, or a tuple (error_type, message).

  Returns:
    dict with ERROR_FIELDS, all UTF-8 str (inputs.printable).
  """
  if isinstance(error, tuple):
    error_type, message = error
  else:
    error_type, message = audio_errors.error_kind(error), str(error) or type(error).__name__
    if not isinstance(error, (audio_errors.AudioInputError, inputs.FileNameError)):
      message = f"{source}: {type(error).__name__}: {message}"
  return {"id": inputs.printable(str(item_id)), "input": inputs.printable(str(source)),
          "stage": stage, "error_type": str(error_type),
          "message": inputs.printable(str(message))}


def suffix(errors_format):
  return PARQUET_SUFFIX if errors_format == "parquet" else JSONL_SUFFIX


def count_rows(path):
  """Rows in an errors file (parquet or jsonl) or a Parquet file."""
  if path.endswith(".jsonl"):
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path) as lines:
      return sum(1 for line in lines if line.strip())
  return parquet_rows(path)


def read_reasons(path):
  """(error_type, message) of every row of an errors file (parquet or jsonl), in file order."""
  from apache_beam.io.filesystems import FileSystems
  with FileSystems.open(path) as handle:
    if path.endswith(".jsonl"):
      rows = [json.loads(line) for line in handle if line.strip()]
      return [(row["error_type"], row["message"]) for row in rows]
    import pyarrow.parquet as pq
    table = pq.read_table(handle, columns=["error_type", "message"])
  return list(zip(table.column("error_type").to_pylist(), table.column("message").to_pylist()))


def summary(reasons, top=3):
  """'21 unreadable_audio, 2 empty_file, 1 other; e.g. <a message>' of (type, message) pairs.

  The commonest types first, with their counts; the example is the first
  message of the commonest type.
  """
  counts = collections.Counter(kind for kind, _ in reasons)
  common = counts.most_common(top)
  parts = [f"{number} {kind}" for kind, number in common]
  rest = sum(counts.values()) - sum(number for _, number in common)
  if rest:
    parts.append(f"{rest} other")
  if not common:
    return ""
  example = next(message for kind, message in reasons if kind == common[0][0])
  return f"{', '.join(parts)}; e.g. {example}"


def parquet_rows(path):
  import pyarrow.parquet as pq
  from apache_beam.io.filesystems import FileSystems
  with FileSystems.open(path) as handle:
    return pq.ParquetFile(handle).metadata.num_rows


def reconcile(label, inputs, written, errors, stream=None):
  """Prints `inputs = written + errors` and says whether it holds.

  Args:
    label: what the inputs are ('files', 'segments', 'records').
    inputs, written, errors: counts.

  Returns:
    True when inputs == written + errors.
  """
  stream = stream or sys.stderr
  ok = inputs == written + errors
  # "all accounted for", not "ok": a run whose every input failed reconciles too.
  verdict = "all accounted for" if ok else "MISMATCH: some inputs are unaccounted for"
  print(f"{label}: {inputs} in = {written} written + {errors} errors ({verdict})", file=stream)
  return ok
