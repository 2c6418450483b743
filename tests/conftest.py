"""Shared fixtures: the real assets in ../shared/assets and a VGGish checkpoint.

Tests that need an asset skip with the reason when ../shared/assets is absent
(set SOUNDSCOPE_ASSETS to use another copy).  The VGGish checkpoint with
deterministic weights (288 MB, official V1 layout) is written once per recipe
into ~/.cache/soundscope/vggish-synthetic/ (outside the work tree, ~40 s the
first time); SOUNDSCOPE_TEST_VGGISH_CKPT may point at another written one.
"""

import os
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
ASSETS = pathlib.Path(os.environ.get("SOUNDSCOPE_ASSETS", REPO.parent / "shared" / "assets"))


def asset(relative):
  """Path of an asset, skipping the calling test when it is absent."""
  path = ASSETS / relative
  if not path.exists():
    pytest.skip(f"asset {relative} not found under {ASSETS} (../shared/assets is absent; "
                f"set SOUNDSCOPE_ASSETS)")
  return path


def blas_thread_counts():
  """Thread counts of the BLAS libraries loaded in this process (numpy's OpenBLAS), as a list."""
  import threadpoolctl
  return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
          if pool["user_api"] == "blas"]


@pytest.fixture
def probe_module(tmp_path, monkeypatch):
  """probe_module(source) -> the name of a fresh top-level module with that source, not
  imported yet (its first import is what a test watches); forgotten after the test."""
  made = []

  def make(source):
    name = f"ss_probe_{len(made)}_" + os.path.basename(str(tmp_path)).replace("-", "_")
    (tmp_path / f"{name}.py").write_text(source)
    made.append(name)
    return name
  monkeypatch.syspath_prepend(str(tmp_path))
  yield make
  for name in made:
    sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def assets_dir():
  """The shared assets folder (skips when absent)."""
  return asset(".")


@pytest.fixture(scope="session")
def golden():
  """The reference VGGish outputs, golden/vggish_golden.npz, as a dict of arrays."""
  import numpy as np
  with np.load(asset("golden/vggish_golden.npz")) as data:
    return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def pca_params_path():
  """The official VGGish PCA parameters."""
  return asset("vggish/vggish_pca_params.npz")


@pytest.fixture(scope="session")
def vggish_checkpoint():
  """Path of a V1 VGGish checkpoint with the README's deterministic weights."""
  prebuilt = os.environ.get("SOUNDSCOPE_TEST_VGGISH_CKPT")
  if prebuilt and os.path.exists(prebuilt):
    return prebuilt
  from bench import vggish_synthetic
  return vggish_synthetic.cached_checkpoint()


@pytest.fixture(scope="session")
def vggish_embedder(vggish_checkpoint):
  """A VggishEmbedder (LiteRT) on the deterministic checkpoint, shared by the session."""
  from soundscope.models.networks import vggish_litert
  return vggish_litert.VggishEmbedder(vggish_checkpoint)
