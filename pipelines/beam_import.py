"""Beam's first import in a soundscope process: without pandas.

`import apache_beam` imports pandas whenever it is installed, to register the
pandas converters of Beam's DataFrame API, and pyarrow imports it at its first
conversion of Python objects (a list to an array), to look for pandas types.
soundscope's pipelines use neither, and pandas' import is a third of Beam's
(configs/imports.py).  prepare() makes Beam's first import run with pandas absent
(soundscope/util/first_import.py), and lets pyarrow take its one look for pandas
then, so that neither imports it later in the process.  A later `import pandas`
works as usual, and so do pyarrow's pandas conversions (to_pandas, from_pandas),
which import it when called.  Beam's DataFrame API is then without its pandas
converters in this process: soundscope builds no DataFrame pipeline.

prepare() is called before anything can import Beam, through
pipelines/options.prepare_imports: by the command line and by every worker process.
Nothing here imports Beam.
"""

import contextlib
import sys

from soundscope.configs import imports
from soundscope.util import first_import


def prepare():
  """Sets up this process's first import of Beam (see the module docstring)."""
  first_import.around("apache_beam", "lean", _lean)


@contextlib.contextmanager
def _lean():
  with first_import.absent(imports.ABSENT_DURING_BEAM_IMPORT):
    yield
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and hasattr(pyarrow, "array"):
      pyarrow.array([0])   # pyarrow's one look for pandas (array of a list), made now.
