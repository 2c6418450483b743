"""Expansion of `--input` into the list of files to process, with stable ids.

`--input` is one of:
  * a glob (`corpus/*.wav`, `archive/**/*.flac`; `**` recurses): every match.
    A matched directory named like an input file (`x.wav/`, `y.tfrecord/`) is
    kept and becomes a `not_a_file` error row rather than a silent skip; other
    folders (`sub/`, `2024.05/`, matched by `*` or `**`) are skipped.  Root: the
    longest leading part without wildcards.
  * a directory: every regular file under it, recursively, through linked
    folders too (each real folder once), but for hidden ones (names starting
    with '.', which globs skip too: among them the staging folders and records
    that soundscope writes beside its outputs).  Root: the directory.
  * a list file, named `*.txt`, `*.lst` or `*.list`, or given as `@FILE`: one
    path per line; blank lines and lines starting with `#` are skipped;
    relative paths are relative to the list file's directory.  Root: that
    directory.
  * a single file.  Root: its directory.

The `video_id` of a file is its path relative to the root, with '/' separators
(`dogs/bark_01.wav`); a listed path outside the root keeps its absolute path.
It is stable (the same file under the same --input always gets the same id,
whatever the machine's current directory) and unique within a run; a path
listed twice is reported once as a `duplicate_input` error.

A file name that is not UTF-8 (bytes such as b'caf\\xe9.wav', which Python
holds surrogate-escaped) gets an id written with backslash escapes
(`caf\\xe9.wav`, `printable`), since Beam's coders and Parquet store only
UTF-8 text; `check_name` refuses such a path with a FileNameError, which the
pipelines report as a `file_name_not_utf8` error row naming it that way.
"""

import collections
import glob as globlib
import os

LIST_FILE_SUFFIXES = (".txt", ".lst", ".list")
LIST_FILE_PREFIX = "@"
# Audio file extensions, without the dot: the names `audioset` looks for.
AUDIO_EXTENSIONS = ("wav", "flac", "ogg", "mp3", "aiff", "aif", "au", "opus")
TFRECORD_SUFFIX = ".tfrecord"   # Release-format embeddings (predict reads them).
# Extensions of the files an --input names: those above, the other usual
# spellings of libsndfile's containers, and release-format embeddings.
INPUT_FILE_EXTENSIONS = frozenset(
    {"." + extension for extension in AUDIO_EXTENSIONS}
    | {".aifc", ".caf", ".oga", ".rf64", ".snd", ".w64", ".wave", TFRECORD_SUFFIX})

InputFile = collections.namedtuple("InputFile", ["video_id", "path"])
InputFile.__doc__ = """One input: `video_id` (stable id, str) and `path` (absolute, str)."""

Expansion = collections.namedtuple("Expansion", ["files", "duplicates", "root"])
Expansion.__doc__ = """Result of expand(): files (list of InputFile, sorted by id),
duplicates (list of InputFile listed more than once), root (absolute str)."""


class FileNameError(ValueError):
  """A path whose name is not UTF-8: it cannot travel through the pipeline or its outputs."""
  kind = "file_name_not_utf8"


def printable(path):
  """`path` as UTF-8 text: the bytes of a non-UTF-8 name as escapes ('caf\\xe9.wav')."""
  try:
    raw = path.encode("utf-8", "surrogateescape")
  except UnicodeEncodeError:    # A surrogate that no file name decodes to.
    return path.encode("utf-8", "backslashreplace").decode("utf-8")
  return raw.decode("utf-8", "backslashreplace")


def check_name(path):
  """Raises FileNameError naming `path` (escaped) when it is not UTF-8 text."""
  try:
    path.encode("utf-8")
  except UnicodeEncodeError:
    raise FileNameError(f"{printable(path)}: the file name is not UTF-8 (shown with "
                        f"\\x escapes); rename the file to process it") from None


def _has_magic(text):
  return any(char in text for char in "*?[")


def _glob_root(pattern):
  """The leading directories of a glob pattern that contain no wildcard."""
  parts = pattern.split(os.sep)
  fixed = []
  for part in parts[:-1]:
    if _has_magic(part):
      break
    fixed.append(part)
  root = os.sep.join(fixed) or ("." if not pattern.startswith(os.sep) else os.sep)
  return os.path.abspath(root)


def _video_id(path, root):
  relative = os.path.relpath(path, root)
  if relative.startswith(os.pardir + os.sep) or relative == os.pardir:
    return printable(path).replace(os.sep, "/")
  return printable(relative).replace(os.sep, "/")


def is_list_file(spec):
  """True when `spec` names a list file (see the module docstring)."""
  return spec.startswith(LIST_FILE_PREFIX) or (
      not _has_magic(spec) and spec.lower().endswith(LIST_FILE_SUFFIXES))


def _read_list(list_path):
  """Absolute paths listed in a list file, in order."""
  base = os.path.dirname(os.path.abspath(list_path))
  paths = []
  try:
    with open(list_path, encoding="utf-8") as lines:
      for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
          paths.append(os.path.normpath(os.path.join(base, os.path.expanduser(entry))))
  except UnicodeDecodeError as exc:
    raise ValueError(f"{list_path}: a list file must be UTF-8 text ({exc.reason} at byte "
                     f"{exc.start})") from None
  return paths, base


def _walk_files(directory):
  """Every file under `directory` but hidden ones, in sorted order, following linked
  folders once each."""
  paths, seen = [], set()
  for folder, subfolders, names in os.walk(directory, followlinks=True):
    real = os.path.realpath(folder)
    if real in seen:        # A link back up the tree (or a second link to one folder).
      subfolders[:] = []
      continue
    seen.add(real)
    subfolders[:] = sorted(name for name in subfolders if not _hidden(name))
    paths.extend(os.path.join(folder, name) for name in sorted(names) if not _hidden(name))
  return paths


def _hidden(name):
  return name.startswith(".")


def _named_like_an_input(path):
  return os.path.splitext(path.rstrip(os.sep))[1].lower() in INPUT_FILE_EXTENSIONS


def expand(spec):
  """Expands an --input value.

  Args:
    spec: glob, directory, list file or file (see the module docstring).

  Returns:
    Expansion.

  Raises:
    FileNotFoundError: the list file or directory does not exist, or the glob,
      the directory or the list holds no file (an empty archive is a usage error).
  """
  if is_list_file(spec):
    list_path = spec[len(LIST_FILE_PREFIX):] if spec.startswith(LIST_FILE_PREFIX) else spec
    if not os.path.isfile(list_path):
      raise FileNotFoundError(f"{list_path}: list file not found")
    paths, root = _read_list(list_path)
    if not paths:
      raise FileNotFoundError(f"{list_path}: the list names no file (one path per line)")
  elif _has_magic(spec):
    root = _glob_root(spec)
    paths = sorted(os.path.abspath(p) for p in globlib.glob(spec, recursive=True)
                   if not os.path.isdir(p) or _named_like_an_input(p))
    if not paths:
      raise FileNotFoundError(f"{spec}: no file matches")
  elif os.path.isdir(spec):
    root = os.path.abspath(spec)
    paths = _walk_files(root)
    if not paths:
      raise FileNotFoundError(f"{spec}: the folder holds no file")
  else:
    if not os.path.lexists(spec):
      raise FileNotFoundError(f"{spec}: no such file")
    root = os.path.dirname(os.path.abspath(spec))
    paths = [os.path.abspath(spec)]
  files, duplicates, seen = [], [], set()
  for path in paths:
    item = InputFile(_video_id(path, root), path)
    if item.video_id in seen:
      duplicates.append(item)
    else:
      seen.add(item.video_id)
      files.append(item)
  files.sort()
  return Expansion(files, duplicates, root)
