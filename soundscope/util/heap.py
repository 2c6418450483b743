"""keep_freed_memory(): glibc's malloc keeps freed heap memory for the next file.

Sets malloc's mmap and trim thresholds with mallopt(3), once per process, which
also ends glibc's adaptive thresholds for the process.  Called through
models/scoring.keep_freed_memory by what decodes and scores file after file, with
the values of configs/memory.py (which says why).

Left as it is: a C library other than glibc (musl, macOS), and a process whose
environment already sets malloc (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_,
MALLOC_TOP_PAD_, or glibc.malloc tunables in GLIBC_TUNABLES): whoever set them
meant them.
"""

import ctypes
import os
import threading

# mallopt(3)'s parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Environment variables that already set glibc's malloc for the process.
MALLOC_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")

_lock = threading.Lock()
_state = None   # True once set here, False when left as it is.


def keep_freed_memory(mmap_threshold, trim_threshold, environ=None):
  """Sets glibc's malloc thresholds for this process (once; later calls do nothing).

  Args:
    mmap_threshold: bytes; larger blocks are mapped on their own, smaller ones come
      from the heap and are reused once freed.
    trim_threshold: bytes of free memory at the top of a heap kept in the process.
    environ: the environment to read malloc settings from (default os.environ).

  Returns:
    True when the thresholds are (now or already) set here; False when left as they
    were (not glibc, malloc set in the environment, or mallopt refused).
  """
  global _state
  with _lock:
    if _state is None:
      _state = _set(mmap_threshold, trim_threshold,
                    os.environ if environ is None else environ)
    return _state


def malloc_set_in(environ):
  """The environment variable that sets glibc's malloc in `environ`, or None."""
  for name in MALLOC_VARIABLES:
    if name in environ:
      return name
  if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
    return "GLIBC_TUNABLES"
  return None


def _set(mmap_threshold, trim_threshold, environ):
  if not _glibc() or malloc_set_in(environ):
    return False
  mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
  if mallopt is None:
    return False
  mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
  mallopt.restype = ctypes.c_int
  # The mmap threshold first: the trim threshold is checked against what the heap holds.
  return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
              and mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))


def _glibc():
  """True when this process runs on GNU libc."""
  try:
    return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
  except (ValueError, OSError, AttributeError):   # Not a name this system knows.
    return False
