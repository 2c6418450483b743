"""Helpers shared by the bench scripts: assets, a VGGish checkpoint, RSS."""

import os
import pathlib
import resource
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
ASSETS = pathlib.Path(os.environ.get("SOUNDSCOPE_ASSETS", REPO.parent / "shared" / "assets"))


def require_asset(relative):
  path = ASSETS / relative
  if not path.exists():
    sys.exit(f"bench: {path} not found (needs ../shared/assets; set SOUNDSCOPE_ASSETS)")
  return path


def vggish_checkpoint():
  """The official checkpoint from the store if present, else a deterministic stand-in.

  Speed does not depend on the weights' values, so the stand-in (written once
  per recipe into ~/.cache/soundscope, 288 MB) gives the same timings as the
  official checkpoint.
  """
  official = pathlib.Path(os.environ.get("SOUNDSCOPE_MODEL_DIR",
                                         pathlib.Path.home() / ".cache/soundscope/models"))
  official = official / "vggish" / "vggish_model.ckpt"
  if official.exists():
    return str(official)
  prebuilt = os.environ.get("SOUNDSCOPE_TEST_VGGISH_CKPT")
  if prebuilt and os.path.exists(prebuilt):
    return prebuilt
  from bench import vggish_synthetic
  return vggish_synthetic.cached_checkpoint(announce=lambda path: print(
      f"writing a deterministic VGGish checkpoint once: {path} (~40 s)", file=sys.stderr))


def peak_rss_mb():
  """Peak resident set size of this process so far, in MiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_tensorflow():
  """This process's TensorFlow import as the command line's: quiet (also its native
  import-time lines) and lean (models/tensorflow_import.py)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from soundscope.models import tensorflow_import
  tensorflow_import.prepare()
