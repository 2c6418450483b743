"""soundscope/util/heap.py: glibc's malloc keeps freed memory for the next file.

The thresholds are configs/memory.py's; a second call changes nothing.

Each check runs in a fresh Python process, since the thresholds are the
process's own and set once.
"""

import json
import os
import subprocess
import sys

import pytest

from soundscope.util import heap

pytestmark = pytest.mark.skipif(not heap._glibc(), reason="mallopt thresholds are glibc's")

# Three 16 MiB arrays made and freed, five times over: the minor page faults of each round.
# A heap that gives its freed top back to the kernel faults its pages in again every round.
_ROUNDS = """
import json, resource, sys
import numpy as np
from soundscope.configs import memory as M
from soundscope.util import heap
keep = sys.argv[1] == "keep"
kept = heap.keep_freed_memory(M.HEAP_MMAP_THRESHOLD_BYTES, M.HEAP_TRIM_THRESHOLD_BYTES) if keep else None
again = heap.keep_freed_memory(1, 1) if keep else None
def faults():
  return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds = []
for _ in range(5):
  before = faults()
  blocks = [np.ones(16 * 2**20 // 8) for _ in range(3)]
  del blocks
  rounds.append(faults() - before)
print(json.dumps({"kept": kept, "again": again, "rounds": rounds}))
"""


def _rounds(mode, **environ):
  env = {name: value for name, value in os.environ.items()
         if name not in heap.MALLOC_VARIABLES and name != "GLIBC_TUNABLES"}
  env.update(environ)
  result = subprocess.run([sys.executable, "-c", _ROUNDS, mode], capture_output=True, text=True,
                          env=env, check=True)
  return json.loads(result.stdout)


def test_freed_blocks_are_reused_without_page_faults_once_kept():
  plain = _rounds("plain")
  kept = _rounds("keep")
  assert kept["kept"] is True and kept["again"] is True
  # The first round faults the memory in either way (how many faults: the kernel's page
  # sizes, transparent huge pages included).  Kept: later rounds reuse the heap.  Not kept:
  # glibc trims the freed top and faults it in again (its adaptive trim threshold, twice
  # the 16 MiB block, is under the 48 MiB freed; configs/memory.py keeps 64 MiB).
  first = kept["rounds"][0]
  assert first > 0 and max(kept["rounds"][1:]) <= first / 10, kept
  assert min(plain["rounds"][2:]) >= plain["rounds"][0] / 3, plain


@pytest.mark.parametrize("environ", [{"MALLOC_TRIM_THRESHOLD_": "65536"},
                                     {"MALLOC_TOP_PAD_": "0"},
                                     {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=65536"}])
def test_malloc_settings_in_the_environment_are_left_as_they_are(environ):
  found = _rounds("keep", **environ)
  assert found["kept"] is False and found["again"] is False
  if "MALLOC_TRIM_THRESHOLD_" in environ:   # Dask's nanny's setting: trimmed every round.
    assert min(found["rounds"][1:]) >= found["rounds"][0] / 3, found


def test_malloc_set_in_names_the_variable():
  assert heap.malloc_set_in({}) is None
  assert heap.malloc_set_in({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2"}) is None
  assert heap.malloc_set_in({"MALLOC_MMAP_THRESHOLD_": "1"}) == "MALLOC_MMAP_THRESHOLD_"
  assert heap.malloc_set_in({"GLIBC_TUNABLES": "glibc.malloc.top_pad=1"}) == "GLIBC_TUNABLES"
