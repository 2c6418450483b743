"""Catching what native libraries write straight to file descriptor 2.

LiteRT announces its XNNPACK delegate, PortAudio's probing of ALSA and JACK
prints a line for every absent device, and TensorFlow logs its CPU features
and oneDNN state while it is imported, before absl's logging is initialised
(so TF_CPP_MIN_LOG_LEVEL cannot hold them back, and which lines appear depends
on the CPU and the build).  All of them write to fd 2 from C, where
Python-level redirection cannot reach.  `captured()` points fd 2 at a
temporary file for the duration of a block and hands the text back, so each
caller decides what is noise and what the user must still see;
`quiet_imports()` does that for the first import of named modules
(soundscope/util/first_import.py), keeping only what is not an informational
native log record.
"""

import contextlib
import os
import re
import sys
import tempfile

from soundscope.util import first_import

# absl / glog record header: severity letter, MMDD, then a time ("I0000 00:00:1796.312 ...").
_NATIVE_RECORD = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d")
# Written once by absl when a record comes before its initialisation.
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# How a record's wrapped text goes on: indented, or cpu_feature_guard's second line.
_CONTINUATIONS = (" ", "\t", "To enable the following instructions")


@contextlib.contextmanager
def captured():
  """Redirects fd 2 during the block; yields a list that then holds the text written.

  The list is filled when the block ends, whether or not it raised.  Where fd 2
  cannot be duplicated, nothing is redirected and the list stays empty.
  """
  text = []
  try:
    saved = os.dup(2)
  except OSError:
    yield text
    return
  with tempfile.TemporaryFile() as sink:
    sys.stderr.flush()
    os.dup2(sink.fileno(), 2)
    try:
      yield text
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      sink.seek(0)
      text.append(sink.read().decode(errors="replace"))


def without_info_records(text):
  """`text` less absl/glog INFO and WARNING records (with their continuation lines).

  Errors (E, F records) and anything that is not a native log record, such as
  a Python warning or traceback, are kept.

  Args:
    text: str, what was written to fd 2.

  Returns:
    str, the lines to show, each ending in a newline ("" when none).
  """
  kept, dropping = [], False
  for line in text.splitlines():
    if line.startswith(_ABSL_PREAMBLE):
      continue
    record = _NATIVE_RECORD.match(line)
    if record:
      dropping = record.group(1) in "IW"
    elif not (dropping and line.startswith(_CONTINUATIONS)):
      dropping = False
    if not dropping:
      kept.append(line + "\n")
  return "".join(kept)


@contextlib.contextmanager
def info_records_dropped():
  """Runs the block with fd 2 captured, then writes on stderr what of it is not a
  native INFO or WARNING record (also when the block raised)."""
  text = []
  try:
    with captured() as text:
      yield
  finally:
    shown = without_info_records("".join(text))
    if shown:
      sys.stderr.write(shown)


def quiet_imports(names):
  """Imports of the named top-level modules (not yet imported) drop native INFO/WARNING lines.

  Used by the command line when not verbose, and by worker processes
  (models/tensorflow_import.py): TensorFlow prints its CPU-feature and oneDNN
  records on import on some CPUs whatever TF_CPP_MIN_LOG_LEVEL says.  Calling it
  again (a forked worker's preload) changes nothing.

  Args:
    names: iterable of top-level module names, e.g. ("tensorflow",).
  """
  for name in names:
    first_import.around(name, "quiet native records", info_records_dropped)
