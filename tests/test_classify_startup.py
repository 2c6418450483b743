"""Start-up: resampy's kernels cached on disk give the same samples (models/jit_cache.py)."""

import subprocess
import sys

import numpy as np

from conftest import REPO

RESAMPLE_TWICE = """
import sys, numpy as np
from models import jit_cache
assert jit_cache.enable_resampy_cache()
import resampy
x = np.sin(np.arange(44100 * 2) * 0.01) * 0.5
np.save(sys.argv[1], resampy.resample(x, 44100, 16000))
"""


def test_cached_kernels_give_the_same_samples_and_live_in_the_cache_dir(tmp_path):
  cache = tmp_path / "jit"
  env = {"SOUNDSCOPE_JIT_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
  for run in ("first", "second"):  # First compiles and saves, second loads.
    subprocess.run([sys.executable, "-c", RESAMPLE_TWICE, str(tmp_path / f"{run}.npy")],
                   cwd=REPO, env=env, check=True)
  cached = sorted(p.name for p in cache.rglob("*.nbi"))
  assert any("resample_loop" in name for name in cached), cached
  import resampy
  x = np.sin(np.arange(44100 * 2) * 0.01) * 0.5
  expected = resampy.resample(x, 44100, 16000)
  for run in ("first", "second"):
    np.testing.assert_array_equal(np.load(tmp_path / f"{run}.npy"), expected)
