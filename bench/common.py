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
  print("a deterministic VGGish checkpoint (written once into ~/.cache/soundscope, ~40 s)",
        file=sys.stderr)
  return vggish_synthetic.cached_checkpoint()


def peak_rss_mb():
  """Peak resident set size of this process so far, in MiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_tensorflow():
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
