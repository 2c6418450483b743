"""Catching what native libraries write straight to file descriptor 2.

LiteRT announces its XNNPACK delegate, and PortAudio's probing of ALSA and
JACK prints a line for every absent device; both write to fd 2 from C, where
Python-level redirection cannot reach.  `captured()` points fd 2 at a
temporary file for the duration of a block and hands the text back, so each
caller decides what is noise and what the user must still see.
"""

import contextlib
import os
import tempfile


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
    os.dup2(sink.fileno(), 2)
    try:
      yield text
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      sink.seek(0)
      text.append(sink.read().decode(errors="replace"))
