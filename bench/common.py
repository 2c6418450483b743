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
  to /tmp, 288 MB) gives the same timings as the official checkpoint.
  """
  official = pathlib.Path(os.environ.get("SOUNDSCOPE_MODEL_DIR",
                                         pathlib.Path.home() / ".cache/soundscope/models"))
  official = official / "vggish" / "vggish_model.ckpt"
  if official.exists():
    return str(official)
  path = pathlib.Path(os.environ.get("SOUNDSCOPE_TEST_VGGISH_CKPT",
                                     "/tmp/soundscope-bench/vggish_model.ckpt"))
  if not path.exists():
    path.parent.mkdir(parents=True, exist_ok=True)
    from models import vggish_synthetic
    print(f"writing a deterministic VGGish checkpoint to {path} (~40 s)", file=sys.stderr)
    vggish_synthetic.write_checkpoint(path)
  return str(path)


def peak_rss_mb():
  """Peak resident set size of this process so far, in MiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_tensorflow():
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
