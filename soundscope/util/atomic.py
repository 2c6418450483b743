"""Atomic file writes: the target path appears whole or not at all.

Every writer goes through a temporary file in the target's own folder
(`.<name>.<random><suffix>`, so the final rename stays on one file system)
that is renamed over the target with `os.replace` once it is complete; a
failure (or an exception in the caller's block) removes the temporary file and
leaves an older target untouched.

  replacing(path, suffix=".part", mode=None, fsync=False)   context manager: yields the
                                         temporary path for writers that want a path
                                         (Keras, numpy, soundfile); renames it in on success
  write_bytes(path, data, ...)           bytes
  write_text(path, text, ...)            str (UTF-8)
  write_json(path, value, ...)           JSON, indent 2, sorted keys, trailing newline
  copy(source, destination, ...)         a file's bytes (the destination's folder is created)
  apply_umask_mode(path, mode=None)      the permission rule below
  current_umask()                        the process's umask

Permissions: the temporary file is created 0600 (mkstemp); before the rename it
gets `mode`, or by default 0666 & ~umask, the mode a plain `open(path, "w")`
would have given.  `fsync=True` flushes the data to disk before the rename
(none of the current callers asks for it).
"""

import contextlib
import json
import os
import shutil
import tempfile

COPY_CHUNK_BYTES = 1 << 20  # Copy in 1 MiB chunks.


def current_umask():
  """The process's umask (read by setting it and putting it back)."""
  umask = os.umask(0)
  os.umask(umask)
  return umask


def apply_umask_mode(path, mode=None):
  """Gives a file `mode`, or when None the usual 0666 & ~umask of a newly created file."""
  os.chmod(path, mode if mode is not None else 0o666 & ~current_umask())


@contextlib.contextmanager
def replacing(path, suffix=".part", mode=None, fsync=False):
  """Yields a temporary path beside `path`; renames it onto `path` when the block succeeds.

  Args:
    path: the target file; its folder must exist.
    suffix: the temporary name's ending (some writers need theirs, e.g. '.keras', '.npz').
    mode: permission bits of the result (None: 0666 & ~umask).
    fsync: flush the temporary file to disk before the rename.

  Yields:
    str path of the temporary file (created empty, mode 0600 until renamed).
  """
  path = os.fspath(path)
  folder, name = os.path.split(path)
  handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=folder or ".")
  os.close(handle)
  try:
    yield temporary
    if fsync:
      _fsync(temporary)
    apply_umask_mode(temporary, mode)
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.unlink(temporary)


def write_bytes(path, data, mode=None, fsync=False):
  """Writes `data` (bytes) to `path` atomically."""
  with replacing(path, mode=mode, fsync=fsync) as temporary:
    with open(temporary, "wb") as out:
      out.write(data)


def write_text(path, text, mode=None, fsync=False, encoding="utf-8"):
  """Writes `text` (str) to `path` atomically."""
  write_bytes(path, text.encode(encoding), mode, fsync)


def write_json(path, value, mode=None, fsync=False, indent=2, sort_keys=True):
  """Writes `value` as JSON (indented, sorted keys, a final newline) to `path` atomically."""
  write_text(path, json.dumps(value, indent=indent, sort_keys=sort_keys) + "\n", mode, fsync)


def copy(source, destination, mode=None, fsync=False):
  """Copies the bytes of `source` to `destination` atomically (its folder is created)."""
  folder = os.path.dirname(os.fspath(destination))
  if folder:
    os.makedirs(folder, exist_ok=True)
  with replacing(destination, mode=mode, fsync=fsync) as temporary:
    with open(source, "rb") as src, open(temporary, "wb") as out:
      shutil.copyfileobj(src, out, COPY_CHUNK_BYTES)


def _fsync(path):
  with open(path, "rb+") as stream:
    os.fsync(stream.fileno())
