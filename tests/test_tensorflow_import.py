"""TensorFlow's first import in a soundscope process: lean, and quiet unless asked.

models/tensorflow_import.py on soundscope/util/first_import.py: a module's first
import run inside a context (checked on a small package written by the test), and
TensorFlow imported without Keras's scikit-learn and matplotlib integrations
(checked in fresh processes, which have not imported TensorFlow yet).
"""

import os
import subprocess
import sys
import textwrap

import pytest

from soundscope.util import first_import


@pytest.fixture
def package(probe_module):
  """A module that records, when imported, what its context had set."""
  return probe_module("import os\nSEEN = os.environ.get('SS_PROBE_CONTEXT')\n")


def _context(value, calls):
  import contextlib

  @contextlib.contextmanager
  def context():
    calls.append(value)
    os.environ["SS_PROBE_CONTEXT"] = value
    try:
      yield
    finally:
      del os.environ["SS_PROBE_CONTEXT"]
  return context


def test_the_first_import_runs_inside_the_context_once_per_key(package):
  calls = []
  first_import.around(package, "a", _context("first", calls))
  first_import.around(package, "a", _context("again", calls))   # Same key: ignored.
  assert first_import.waiting(package) == ["a"]
  module = __import__(package)
  assert module.SEEN == "first" and calls == ["first"]
  assert "SS_PROBE_CONTEXT" not in os.environ
  assert first_import.waiting(package) == []
  first_import.around(package, "b", _context("late", calls))   # Already imported: nothing.
  assert first_import.waiting(package) == [] and calls == ["first"]


def test_absent_modules_cannot_be_imported_during_the_block_only(package):
  import importlib
  assert "json" in sys.modules
  with first_import.absent([package, "json"]):
    with pytest.raises(ModuleNotFoundError):
      __import__(package)
    with pytest.raises(ModuleNotFoundError):   # As an extension module imports it.
      importlib.import_module(package + ".sub")
    assert package not in sys.modules           # Not marked None there: pyarrow takes None.
    import json   # Imported before the block: untouched.
    assert json.dumps(1) == "1"
  assert __import__(package).SEEN is None and sys.modules["json"] is json


def _fresh(code, env=None):
  result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=120)
  assert result.returncode == 0, result.stderr
  return result


def _import_tensorflow(level):
  """A fresh process: prepare(), then TensorFlow's import with TF_CPP_MIN_LOG_LEVEL=`level`
  and TF_ENABLE_ONEDNN_OPTS=1 (every CPU then writes oneDNN's record while importing)."""
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env.update(TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL=level)
  return _fresh("""
      import importlib.util, sys
      from soundscope.models import tensorflow_import
      tensorflow_import.prepare()
      import tensorflow as tf
      import keras
      print([n for n in ("sklearn", "matplotlib") if n in sys.modules],
            sys.modules["keras.src.wrappers.fixes"].sklearn,
            sys.modules["keras.src.visualization.plot_image_gallery"].plt,
            importlib.util.find_spec("sklearn") is not None)
      import sklearn, matplotlib.pyplot
      layer = keras.layers.Dense(3, kernel_initializer="ones")
      print(float(tf.reduce_sum(layer(tf.ones((1, 2))))), sklearn.__name__)
      """, env)


@pytest.mark.slow
def test_tensorflow_is_imported_lean_and_quiet_under_a_user_s_log_level():
  """Keras imports scikit-learn and matplotlib where installed (both are, with the test
  extra): after prepare() it looked for them during TensorFlow's import and found
  neither; they import afterwards and Keras works.  The command line and the workers
  share one rule: quiet unless TF_CPP_MIN_LOG_LEVEL=0 (or -v), so a level the user set
  (2) no longer lets the import-time lines through."""
  pytest.importorskip("sklearn")
  pytest.importorskip("matplotlib")
  result = _import_tensorflow("2")
  assert result.stdout.splitlines() == ["[] None None True", "6.0 sklearn"]
  assert result.stderr == ""


@pytest.mark.slow
def test_tensorflow_s_native_start_up_lines_show_with_log_level_0():
  result = _import_tensorflow("0")
  assert "oneDNN custom operations are on" in result.stderr
