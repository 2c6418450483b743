"""TensorFlow's first import in a soundscope process: lean, and quiet unless asked.

prepare() is called before anything can import TensorFlow, through
pipelines/options.prepare_imports: by the command line and by every worker process.

  lean    Keras's optional integrations that soundscope never uses (scikit-learn,
          matplotlib) are not imported with it (configs/imports.py: ~1.1-1.4 s of a
          4.7 s import where they are installed).  Keras takes its own paths for
          their absence; a later `import sklearn` or `import matplotlib` in the
          process works as usual.  Nothing in soundscope imports them meanwhile.
  quiet   TensorFlow's C++ INFO and WARNING lines stay off stderr: its log level is
          set where the environment does not set one, and the records written while
          it is imported, before absl reads that level (which ones depends on the
          CPU: oneDNN's "custom operations are on" only where oneDNN is on by
          default), are caught on fd 2 (transforms/native_stderr.py).
          Not with -v, nor with TF_CPP_MIN_LOG_LEVEL=0 in the environment.

Nothing here imports TensorFlow.
"""

import os

from soundscope.configs import imports, logs
from soundscope.transforms import native_stderr
from soundscope.util import first_import


def prepare(verbose=False):
  """Sets up this process's first import of TensorFlow (see the module docstring).

  Args:
    verbose: True lets every native line through (the command line's -v).
  """
  first_import.around("tensorflow", "lean", _lean)
  if verbose or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", logs.QUIET_TF_CPP_LOG_LEVEL)
  native_stderr.quiet_imports(logs.NOISY_NATIVE_IMPORTS)


def _lean():
  return first_import.absent(imports.ABSENT_DURING_TENSORFLOW_IMPORT)
