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
"""

import os

from soundscope.pipelines import outputs, parts


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


def check_settings(previous, settings, folder):
  """Raises ResumeError naming the first setting that differs."""
  old, settings = _flat(previous.get("settings", {})), _flat(settings)
  for name in sorted(set(old) | set(settings)):
    if old.get(name) != settings.get(name):
      raise ResumeError(
          f"--resume: the interrupted run in {folder} used {name}={old.get(name)!r}, this "
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
  taken = set()
  for part, key in zip(plan, keys):
    old_index = by_key.pop(_hashable(key), None)
    if old_index is None:
      continue
    pattern = FileSystems.join(old_parts, f"part-{old_index:05d}.*")
    sources = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list
                     if ".tmp-" not in m.path)
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
