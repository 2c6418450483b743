"""Crash-safe replacement of a run's outputs, and the leftovers of crashed runs.

A run writes everything into a staging folder next to its outputs
(`<dir>/.<name>.staging-<run id>/`): the parts' files under `parts/`
(pipelines/parts.py), `.run.json` (its settings, for --resume) and
`.owner.json` (host and process), then the merged outputs themselves.  Only
when the pipeline has finished and its counts reconcile does `commit` replace
the previous outputs of the prefix:

  1. it writes the commit record `<dir>/.<name>.commit.json` (atomically: one
     rename), naming every old file and every new one: from this instant the
     new outputs are the run's result;
  2. moves the old files into `.<name>.trash-<run id>/`, the new ones into place;
  3. deletes the record, the trash and the staging folder.

The new files include `.<name>.inputs.json` (the run's settings and each input's
key), so the outputs and the record of what they hold are switched together:
`--resume` reuses the committed results of unchanged inputs (pipelines/resume.py).

A crash (kill -9, power loss) before step 1 leaves the previous outputs as
they were; after it, the next run on the prefix (any command, with or
without --resume) first completes the record's moves, so the prefix holds
the complete new outputs.  Either way it never holds some old and some new
files once that run has started.  A commit that fails while the process
lives (an exception in step 2) puts the previous outputs back.

Leftovers: staging and trash folders of runs whose process is gone (same
host, no such process; any from another host) are deleted by the next run on
the prefix; `--resume` first takes over the finished parts of the newest one
(pipelines/resume.py).  One run per prefix at a time.  Works on any Beam
filesystem (local, gs://, s3://, hdfs://).
"""

import json
import os
import posixpath
import socket
import uuid

from soundscope.pipelines import listing

# Beam's shard numbering after a prefix (-SSSSS-of-NNNNN), as a glob.
SHARD_NUMBERS = "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"
# Patterns, after the prefix, of the files a prefix owns.
EMBED_PATTERNS = (SHARD_NUMBERS + ".tfrecord", "-manifest.parquet", "-errors.parquet",
                  "-errors.jsonl")
PARTS_FOLDER = "parts"
# Dot names: never taken for outputs (staged_files lists the prefix's name + anything).
RUN_FILE = ".run.json"
OWNER_FILE = ".owner.json"
# The committed inputs' record, `.<name>` + this beside the outputs (and moved with them by
# the commit): the run's settings, each input's key and the early error rows (--resume).
INPUTS_TAIL = ".inputs.json"


def _fs():
  from apache_beam.io.filesystems import FileSystems
  return FileSystems


def check_output(path, example):
  """Raises ValueError (one line, a usage error) when --output cannot name an output
  prefix: empty, ending in a folder separator, or a folder that exists.

  Args:
    path: the --output value.
    example: a file name to suggest inside a folder (e.g. 'preds.parquet').
  """
  text = os.fspath(path)
  if not text.strip():
    raise ValueError(f"--output is empty: give a name, e.g. {example}")
  if text.endswith("/") or posixpath.basename(text) in (".", "..") or (
      listing.is_local(text) and os.path.isdir(text)):
    raise ValueError(f"--output {text}: is a folder; give a name inside it, e.g. "
                     f"{posixpath.join(text, example)}")


def claim(prefix, owned_patterns, command, input_paths):
  """Which inputs are this prefix's own outputs, after checking that the run may write it.

  An input that is one of the prefix's files is an earlier output of the same command
  (left out of the inputs: a folder holding its own outputs is read again without them),
  or the run would replace it: refused.

  Args:
    prefix: the output prefix.
    owned_patterns: glob tails of the files the prefix owns.
    command: this run's command ('predict', 'embed', 'audioset').
    input_paths: the inputs' absolute paths.

  Returns:
    set of the input paths to leave out.

  Raises:
    ValueError (one line, a usage error): the prefix holds another command's outputs,
    or an output would replace an input.
  """
  directory, name = _split(prefix)
  record = _read_json(_fs().join(directory, f".{name}{INPUTS_TAIL}")) or {}
  earlier = (record.get("settings") or {}).get("command")
  if earlier is not None and earlier != command:
    raise ValueError(f"--output {prefix}: holds the outputs of `soundscope {earlier}`; give "
                     f"{command} another --output (or remove them)")
  owned = set(map(listing.local_absolute, listing.files_matching(prefix, *owned_patterns)))
  own_inputs = owned.intersection(input_paths)
  if own_inputs and earlier is None:
    raise ValueError(f"--output {prefix}: would replace the input {sorted(own_inputs)[0]}; "
                     f"choose another --output")
  return own_inputs


def _split(prefix):
  return _fs().split(prefix)


def _read_json(path):
  try:
    with _fs().open(path) as handle:
      return json.loads(handle.read().decode())
  except (OSError, ValueError):
    return None


def write_json(path, value):
  """Writes `value` as JSON to `path` through a temporary name and one rename."""
  FileSystems = _fs()
  temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
  with FileSystems.create(temporary) as handle:
    handle.write(json.dumps(value, sort_keys=True).encode())
  FileSystems.rename([temporary], [path])


def _owner():
  return {"host": socket.gethostname(), "pid": os.getpid()}


def _owner_alive(owner):
  """True when `owner` ({'host', 'pid'}) is a live process on this host, other than this one
  (a process runs one command at a time: its own earlier run is over)."""
  if not owner or owner.get("host") != socket.gethostname():
    return False
  if int(owner.get("pid", -1)) == os.getpid():
    return False
  try:
    os.kill(int(owner["pid"]), 0)
  except ProcessLookupError:
    return False
  except (PermissionError, ValueError, TypeError):
    return True
  return int(owner["pid"]) != 0


class StagedOutput:
  """The staging folder of one run for one output prefix.

  Creating one completes an interrupted commit of the prefix, finds the
  leftovers of crashed runs (`leftovers`, newest first) and deletes them
  unless `keep_leftovers` (--resume deletes them once it has taken their parts).

  Args:
    prefix: final output prefix, e.g. /data/out/esc10 or /data/preds.
    owned_patterns: glob patterns, appended to the prefix, of every file the
      prefix owns (old files matching them are replaced).
    keep_leftovers: leave the crashed runs' folders for the caller (resume).
  """

  def __init__(self, prefix, owned_patterns, keep_leftovers=False):
    FileSystems = _fs()
    self.prefix = prefix
    self.directory, self.name = _split(prefix)
    self.owned_patterns = tuple(owned_patterns)
    run_id = uuid.uuid4().hex[:12]
    self.staging_dir = FileSystems.join(self.directory, f".{self.name}.staging-{run_id}")
    self.parts_dir = FileSystems.join(self.staging_dir, PARTS_FOLDER)
    self._trash_dir = FileSystems.join(self.directory, f".{self.name}.trash-{run_id}")
    self._record = FileSystems.join(self.directory, f".{self.name}.commit.json")
    self.inputs_record = FileSystems.join(self.directory, f".{self.name}{INPUTS_TAIL}")
    self.staged_inputs_record = FileSystems.join(self.staging_dir,
                                                 f".{self.name}{INPUTS_TAIL}")
    try:
      if not FileSystems.exists(self.directory):
        FileSystems.mkdirs(self.directory)
      recover(self.directory, self.name)
      self.leftovers = self._find_leftovers()
      if not keep_leftovers:
        self.delete_leftovers()
      FileSystems.mkdirs(self.parts_dir)
      write_json(FileSystems.join(self.staging_dir, OWNER_FILE), _owner())
    except OSError as exc:
      from soundscope.pipelines import parts
      raise parts.write_error(self.staging_dir, exc) from None

  def _folders(self, kind, marker="*"):
    """This prefix's folders `.<name>.<kind>-*`, found by their files named `marker`
    (match() lists files, not folders)."""
    found = []
    for path in listing.files_matching(_fs().join(self.directory, f".{self.name}.{kind}-"),
                                       f"*/{marker}"):
      folder = _top_folder(path, self.directory)
      if folder not in found and folder != self.staging_dir:
        found.append(folder)
    return found

  def _find_leftovers(self):
    """Staging folders of crashed runs on this prefix, newest first."""
    FileSystems = _fs()
    found = [folder for folder in self._folders("staging", OWNER_FILE)
             if not _owner_alive(_read_json(FileSystems.join(folder, OWNER_FILE)))]
    return sorted(found, key=_modified, reverse=True)

  def delete_leftovers(self):
    """Deletes the crashed runs' staging and trash folders of this prefix."""
    for folder in self.leftovers + self._folders("trash"):
      _delete(folder)
    self.leftovers = []

  def staged(self, tail=""):
    """The staging path for the final path prefix + tail."""
    return _fs().join(self.staging_dir, self.name + tail)

  def staged_files(self):
    FileSystems = _fs()
    found = [path for path in listing.files_matching(self.staged(), "*")
             if posixpath.dirname(path) == self.staging_dir.rstrip("/")]
    if FileSystems.exists(self.staged_inputs_record):
      found.append(self.staged_inputs_record)
    return sorted(found)

  def _existing(self):
    found = listing.files_matching(self.prefix, *self.owned_patterns)
    if _fs().exists(self.inputs_record):
      found.append(self.inputs_record)
    return sorted(set(found))

  def commit(self):
    """Replaces the previous outputs of the prefix with the staged files.

    Returns:
      list of final paths, sorted.
    """
    FileSystems = _fs()
    old = self._existing()
    trashed = [FileSystems.join(self._trash_dir, posixpath.basename(p)) for p in old]
    new = self.staged_files()
    final = [FileSystems.join(self.directory, posixpath.basename(p)) for p in new]
    write_json(self._record, {"old": old, "trash": self._trash_dir,
                              "moves": [list(pair) for pair in zip(new, final)],
                              "staging": self.staging_dir})
    try:
      if old:
        FileSystems.mkdirs(self._trash_dir)
        FileSystems.rename(old, trashed)
      FileSystems.rename(new, final)
    except Exception:
      # The process lives: put the previous outputs back, as if nothing happened.  Only
      # what this run moved is taken away (its staged file is gone, its final is there):
      # a path there already (a folder of the same name) is never deleted.
      placed = [path for source, path in zip(new, final)
                if not FileSystems.exists(source) and FileSystems.exists(path)]
      if placed:
        FileSystems.delete(placed)
      back = [(t, o) for t, o in zip(trashed, old) if FileSystems.exists(t)]
      if back:
        FileSystems.rename([t for t, _ in back], [o for _, o in back])
      FileSystems.delete([self._record])
      self.abort()
      raise
    FileSystems.delete([self._record])
    self.abort()
    return sorted(final)

  def abort(self):
    """Deletes the staging and trash folders (the previous outputs stay)."""
    for folder in (self.staging_dir, self._trash_dir):
      _delete(folder)


def recover(directory, name):
  """Completes a commit of prefix `directory/name` that a crash interrupted (see above)."""
  FileSystems = _fs()
  path = FileSystems.join(directory, f".{name}.commit.json")
  if not FileSystems.exists(path):
    return False
  record = _read_json(path)
  if record is None:   # Unreadable: written through a rename, so never half-written.
    raise OSError(f"{path}: unreadable commit record; remove it to keep the outputs as "
                  f"they are")
  finals = {final for _, final in record["moves"]}
  leftover_old = [p for p in record["old"] if p not in finals and FileSystems.exists(p)]
  if leftover_old:
    FileSystems.delete(leftover_old)
  moves = [(source, final) for source, final in record["moves"] if FileSystems.exists(source)]
  if moves:
    FileSystems.rename([s for s, _ in moves], [f for _, f in moves])
  for folder in (record["trash"], record["staging"]):
    _delete(folder)
  FileSystems.delete([path])
  return True


def _top_folder(path, directory):
  """The entry of `directory` that `path` is in (match() may list files inside folders)."""
  relative = path[len(directory.rstrip("/")) + 1:]
  return _fs().join(directory, relative.split("/", 1)[0])


def _modified(folder):
  """Modification time of a folder's owner file (0 when unknown)."""
  try:
    return os.path.getmtime(_fs().join(folder, OWNER_FILE))
  except OSError:
    return 0.0


def _delete(folder):
  FileSystems = _fs()
  if FileSystems.exists(folder):
    FileSystems.delete([folder])
