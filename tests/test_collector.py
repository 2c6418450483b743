"""soundscope/util/collector.py: the garbage collector paused during large first imports.

Checked on a small package written by the test (its import records whether the
collector ran), and in a fresh process for the command line's wiring.
"""

import gc
import subprocess
import sys

import pytest

from soundscope.util import collector, first_import


@pytest.fixture
def restore_collector():
  """The collector on and nothing frozen by the test, whatever it did."""
  frozen = gc.get_freeze_count()
  yield
  gc.enable()
  if gc.get_freeze_count() > frozen:
    gc.unfreeze()


def test_paused_runs_the_block_without_the_collector_then_freezes_and_resumes(
    restore_collector):
  assert gc.isenabled()
  before = gc.get_freeze_count()
  with collector.paused():
    assert not gc.isenabled()
    made = [[i] for i in range(1000)]   # Objects the collector tracks, alive after the block.
  assert gc.isenabled()
  assert gc.get_freeze_count() >= before + len(made)


def test_paused_turns_the_collector_back_on_after_an_exception(restore_collector):
  with pytest.raises(RuntimeError):
    with collector.paused():
      raise RuntimeError("an import that fails")
  assert gc.isenabled()


def test_a_collector_already_off_stays_off_and_nothing_is_frozen(restore_collector):
  gc.disable()
  before = gc.get_freeze_count()
  with collector.paused():
    made = [[i] for i in range(100)]
  assert not gc.isenabled() and gc.get_freeze_count() == before and len(made) == 100


@pytest.fixture
def package(probe_module):
  """A module that records whether the collector was on as it ran."""
  return probe_module("import gc\nCOLLECTOR_ON = gc.isenabled()\n")


def test_a_named_package_is_first_imported_with_the_collector_paused(package,
                                                                     restore_collector):
  collector.paused_during_first_imports([package])
  assert first_import.waiting(package) == ["collector paused"]
  assert __import__(package).COLLECTOR_ON is False
  assert gc.isenabled() and first_import.waiting(package) == []


def test_the_command_line_pauses_it_for_beam_and_tensorflow():
  code = ("from soundscope.cli import main\n"
          "from soundscope.util import first_import\n"
          "main.parse_command(['predict', '--input', 'a', '--output', 'b.parquet'])\n"
          "print(first_import.waiting('apache_beam'), first_import.waiting('tensorflow'))\n")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
  beam, tensorflow = result.stdout.strip().split("] [")
  assert "collector paused" in beam and "collector paused" in tensorflow
