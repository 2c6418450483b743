"""Keeps resampy's compiled kernels on disk so a new process does not recompile them.

resampy (the reference's resampler, kaiser_best filter) is written with
numba, and its kernels are compiled on their first call in every process:
about 1.5 s here, most of `soundscope classify`'s start-up on a 44.1 kHz file.
resampy does not ask numba to cache them (no `cache=True`), so this module
turns numba's own on-disk cache on for exactly those kernels before their
first call.  The machine code is the same numba would compile, so the
samples are bit-identical; the cache lives in the user's cache directory
(~/.cache/soundscope/numba, or $SOUNDSCOPE_JIT_CACHE_DIR, or numba's own
$NUMBA_CACHE_DIR when set), never in site-packages, and numba checks the source file's timestamp and the CPU
before reusing an entry.

A failure here never stops the program: resampling then compiles as usual.
"""

import logging
import os

CACHE_DIR_ENV = "SOUNDSCOPE_JIT_CACHE_DIR"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "soundscope", "numba")
# resampy.interpn attributes: the serial kernel and the gufunc that wraps it.
_KERNEL = "_resample_loop_s"
_GUFUNC = "resample_f_s"

_enabled = False


def cache_dir():
  """Where the compiled kernels are kept."""
  return os.path.expanduser(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)


def enable_resampy_cache():
  """Turns on numba's on-disk cache for resampy's serial kernel (idempotent).

  Returns:
    True when caching is on, False when it could not be enabled.
  """
  global _enabled
  if _enabled:
    return True
  try:
    from numba.core import config
    from resampy import interpn
    if not config.CACHE_DIR:
      # Read whenever a cache is created, including the gufunc wrapper's at
      # its first call, so it stays set; a user's NUMBA_CACHE_DIR wins.
      config.CACHE_DIR = cache_dir()
    getattr(interpn, _KERNEL).enable_caching()
    builder = getattr(interpn, _GUFUNC).gufunc_builder
    builder.nb_func.enable_caching()
    builder.cache = True  # The gufunc's wrapper is cached too.
    _enabled = True
  except Exception as exc:  # An older or newer resampy/numba: compile as usual.
    logging.getLogger(__name__).debug("resampy kernel cache not enabled: %s", exc)
  return _enabled
