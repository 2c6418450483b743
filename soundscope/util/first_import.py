"""A module's first import run inside a context: around(name, key, context).

The first `import name` of a top-level module in the process runs the module's
own code inside `context()`, a context manager; later imports find the module in
sys.modules as usual.  A finder placed first on sys.meta_path finds the module
through the other finders and wraps its loader; it leaves sys.meta_path once
every module it waits for has been imported.  A forked process inherits it.

  around(name, key, context)   context() around name's first import (once per key)
  absent(names)                context manager: the named modules, where not yet
                               imported, cannot be imported during the block

Used for TensorFlow's import (models/tensorflow_import.py): its native start-up
lines caught (transforms/native_stderr.py), Keras's unused integrations left out;
for Beam's (pipelines/beam_import.py): pandas left out; and for the garbage
collector's pause (soundscope/util/collector.py).
"""

import contextlib
import importlib.abc
import importlib.util
import sys


class _Loader(importlib.abc.Loader):
  """Another loader, whose exec_module runs inside the contexts (first outermost)."""

  def __init__(self, loader, contexts):
    self._loader = loader
    self._contexts = contexts

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    with contextlib.ExitStack() as stack:
      for context in self._contexts:
        stack.enter_context(context())
      self._loader.exec_module(module)

  def __getattr__(self, name):   # is_package, get_resource_reader, ... of the real loader.
    return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
  """Wraps the loader of each module it waits for, at that module's first import."""

  def __init__(self):
    self.waiting = {}   # Top-level module name -> [(key, context factory)].

  def find_spec(self, fullname, path=None, target=None):
    entries = self.waiting.pop(fullname, None)
    if entries is None:
      return None
    if not self.waiting and self in sys.meta_path:
      sys.meta_path.remove(self)
    spec = importlib.util.find_spec(fullname)
    if spec is not None and spec.loader is not None:
      spec.loader = _Loader(spec.loader, [context for _, context in entries])
    return spec


_finder = _Finder()


def around(name, key, context):
  """The first import of top-level module `name` runs inside `context()`.

  Args:
    name: a top-level module name, e.g. "tensorflow"; nothing happens when it is
      already imported.
    key: what the context is for; a second call with the same key for the same
      module does nothing (a forked worker's preload repeats its parent's).
    context: callable returning a context manager.
  """
  if name in sys.modules:
    return
  entries = _finder.waiting.setdefault(name, [])
  if all(known != key for known, _ in entries):
    entries.append((key, context))
  if _finder not in sys.meta_path:
    sys.meta_path.insert(0, _finder)


def waiting(name):
  """The keys waiting for the first import of `name` (empty once it was imported)."""
  return [key for key, _ in _finder.waiting.get(name, ())]


class _Absent(importlib.abc.MetaPathFinder):
  """Finds the named top-level modules and their submodules as not installed."""

  def __init__(self, names):
    self.names = frozenset(names)

  def find_spec(self, fullname, path=None, target=None):
    if fullname.partition(".")[0] in self.names:
      raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
    return None


@contextlib.contextmanager
def absent(names):
  """During the block, importing any of `names` not yet imported raises ImportError.

  A finder first on sys.meta_path answers for them as for a module that is not
  installed (ModuleNotFoundError), for `import` statements and for extension
  modules' own imports alike (pyarrow's Cython code takes a None that marks a
  module absent in sys.modules for the module itself); it leaves after the block,
  so a later import works as usual.
  """
  finder = _Absent(name for name in names if name not in sys.modules)
  sys.meta_path.insert(0, finder)
  try:
    yield
  finally:
    sys.meta_path.remove(finder)
