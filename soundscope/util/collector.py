"""Python's cyclic garbage collector paused while a large package is first imported.

Importing Beam, Dask or TensorFlow makes hundreds of thousands of objects that live
as long as the process.  The collector, which runs every 700 allocations and now and
then over every object, goes over them again and again while they are made.
paused_during_first_imports(names) runs each named package's first import with the
collector off; once it is imported, what it left alive is frozen (gc.freeze: later
collections skip those objects, which a forked worker also inherits) and the
collector is on again.  Cyclic garbage the import made is frozen with it and never
freed: ~1,800 objects after Beam's and pyarrow's.  configs/imports.py names the
packages and the figures.

  paused()                             context manager: the collector off in the block
  paused_during_first_imports(names)   paused() around each name's first import
"""

import contextlib
import gc

from soundscope.util import first_import

_KEY = "collector paused"


@contextlib.contextmanager
def paused():
  """The cyclic collector off during the block, then the objects alive frozen and the
  collector on again.  Where the collector is already off (another pause, a caller's
  gc.disable()), the block runs as it is and nothing changes after it."""
  if not gc.isenabled():
    yield
    return
  gc.disable()
  try:
    yield
  finally:
    gc.freeze()
    gc.enable()


def paused_during_first_imports(names):
  """The first import of each top-level module in `names` runs inside paused() (once per
  process; soundscope/util/first_import.py); an imported one is left as it is."""
  for name in names:
    first_import.around(name, _KEY, paused)
