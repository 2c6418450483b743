"""Experiment (docs/experiments/events-tuning.md): bench_sed with a per-window gain before
YAMNet: each 0.975 s window scaled so its peak reaches GAIN_TARGET_DBFS (default -10),
never attenuated, the gain capped at GAIN_MAX_DB (default 20 dB).

  PYTHONPATH=. GAIN_MAX_DB=20 python3 bench/experiments/window_gain.py --folds 2 3 4 5
"""
import os
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from soundscope.models.networks import yamnet  # noqa: E402

TARGET = float(os.environ.get("GAIN_TARGET_DBFS", "-10"))   # dBFS peak
MAX_DB = float(os.environ.get("GAIN_MAX_DB", "20"))         # dB
ORIGINAL = yamnet.WindowModel.scores


def scores(self, windows):
  """float32 [w, 15600] windows, each raised toward TARGET by at most MAX_DB, then scored."""
  if MAX_DB > 0:
    peak = np.abs(windows).max(axis=1, keepdims=True)
    gain = np.clip(10 ** (TARGET / 20) / np.maximum(peak, 1e-12), 1.0, 10 ** (MAX_DB / 20))
    windows = (windows * gain).astype(np.float32)
  return ORIGINAL(self, windows)


if __name__ == "__main__":
  yamnet.WindowModel.scores = scores
  from bench import bench_sed
  sys.argv = ["bench_sed"] + sys.argv[1:]
  bench_sed.main()
