"""VGGish on LiteRT: the conversion kept per checkpoint, and embedding without TensorFlow.

How close the conversion's embeddings are to exact is checked with the golden
cases (test_transforms_golden.py); here: which conversion a checkpoint gets, that
processes wanting it at once convert it once, that a failed conversion leaves
nothing behind, and that `embed` never imports TensorFlow.
"""

import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from soundscope.models.networks import vggish_litert


def _fake_convert(log_path, seconds=0.0):
  """A stand-in for the TensorFlow conversion (the cache's behaviour does not depend on
  what is converted): notes each call in `log_path`, takes `seconds`."""
  def convert(checkpoint_path, loaded=None):
    with open(log_path, "a") as log:
      log.write(f"{os.getpid()} {checkpoint_path}\n")
    time.sleep(seconds)
    return b"converted " + open(checkpoint_path, "rb").read()
  return convert


def _calls(log_path):
  return open(log_path).read().splitlines() if os.path.exists(log_path) else []


def test_a_checkpoint_is_converted_once_and_again_when_it_changes(tmp_path, monkeypatch):
  log = tmp_path / "calls.log"
  monkeypatch.setattr(vggish_litert, "convert", _fake_convert(log))
  folder = tmp_path / "converted"
  checkpoint = tmp_path / "vggish_model.ckpt"
  checkpoint.write_bytes(b"weights one")
  link = tmp_path / "link.ckpt"
  os.symlink(checkpoint, link)

  first = vggish_litert.converted(checkpoint, folder)
  assert first.read_bytes() == b"converted weights one"
  assert vggish_litert.converted(checkpoint, folder) == first
  assert vggish_litert.converted(link, folder) == first     # The same file by another name.
  assert len(_calls(log)) == 1

  checkpoint.write_bytes(b"weights two")                      # Replaced: size and time change.
  os.utime(checkpoint, ns=(time.time_ns(), time.time_ns() + 10**9))
  second = vggish_litert.converted(checkpoint, folder)
  assert second != first and second.read_bytes() == b"converted weights two"
  assert len(_calls(log)) == 2
  # The replaced checkpoint's conversion is removed (288 MB each for the real one).
  assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
      [second.name, second.name + ".json"])


def test_a_v2_checkpoint_is_named_by_its_index_and_data_files(tmp_path, monkeypatch):
  monkeypatch.setattr(vggish_litert, "convert", lambda path, loaded=None: b"v2")
  prefix = tmp_path / "model.ckpt"
  (tmp_path / "model.ckpt.index").write_bytes(b"index")
  (tmp_path / "model.ckpt.data-00000-of-00001").write_bytes(b"data")
  files = [os.path.basename(path) for path, _, _ in vggish_litert.source_identity(prefix)]
  assert files == ["model.ckpt.index", "model.ckpt.data-00000-of-00001"]
  assert vggish_litert.converted(prefix, tmp_path / "c").read_bytes() == b"v2"
  with pytest.raises(FileNotFoundError, match="no such checkpoint"):
    vggish_litert.converted(tmp_path / "absent.ckpt", tmp_path / "c")


def _convert_in_child(checkpoint, folder, log, queue):
  vggish_litert.convert = _fake_convert(log, seconds=1.0)
  queue.put(str(vggish_litert.converted(checkpoint, folder)))


def test_processes_that_want_one_conversion_at_once_make_it_once(tmp_path):
  """Dask workers on one host (or test processes) starting together: one converts, the
  others wait for it and load its file."""
  checkpoint = tmp_path / "vggish_model.ckpt"
  checkpoint.write_bytes(b"weights")
  folder, log = tmp_path / "converted", tmp_path / "calls.log"
  context = multiprocessing.get_context("fork")
  queue = context.Queue()
  children = [context.Process(target=_convert_in_child, args=(checkpoint, folder, log, queue))
              for _ in range(3)]
  for child in children:
    child.start()
  paths = [queue.get(timeout=60) for _ in children]
  for child in children:
    child.join(timeout=60)
    assert child.exitcode == 0
  assert len(set(paths)) == 1 and len(_calls(log)) == 1


def test_a_failed_conversion_leaves_no_file(tmp_path, monkeypatch):
  def failing(checkpoint_path, loaded=None):
    raise ValueError(f"{checkpoint_path}: not a readable TensorFlow checkpoint")
  monkeypatch.setattr(vggish_litert, "convert", failing)
  checkpoint = tmp_path / "vggish_model.ckpt"
  checkpoint.write_bytes(b"not a checkpoint")
  with pytest.raises(ValueError, match="not a readable"):
    vggish_litert.converted(checkpoint, tmp_path / "converted")
  assert not [p for p in (tmp_path / "converted").iterdir() if not p.name.endswith(".lock")]


def test_the_conversion_folder_comes_from_the_environment(tmp_path, monkeypatch):
  monkeypatch.setenv("SOUNDSCOPE_CONVERTED_DIR", str(tmp_path / "elsewhere"))
  assert vggish_litert.converted_dir() == tmp_path / "elsewhere"
  monkeypatch.delenv("SOUNDSCOPE_CONVERTED_DIR")
  assert vggish_litert.converted_dir() == (
      vggish_litert.pathlib.Path.home() / ".cache" / "soundscope" / "converted")


_EMBED_AND_LIST_MODULES = """
import sys
from soundscope.cli import main
status = main.main(sys.argv[1:])
print(status, "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_embed_never_imports_tensorflow(tmp_path, vggish_checkpoint, pca_params_path,
                                        vggish_embedder):
  """With the conversion kept (the session's embedder made it), `embed` loads VGGish in
  LiteRT: its process never imports TensorFlow (~3 s and ~0.6 GB less per worker)."""
  from conftest import asset
  clip = asset("audio/urbansound8k/7389-1-1-0.wav")
  ran = subprocess.run(
      [sys.executable, "-c", _EMBED_AND_LIST_MODULES, "embed", "--input", str(clip),
       "--output", str(tmp_path / "out" / "e"), "--vggish-checkpoint", str(vggish_checkpoint),
       "--pca-params", str(pca_params_path), "--no-progress"],
      capture_output=True, text=True, timeout=300, cwd=tmp_path)
  assert ran.returncode == 0, ran.stderr
  assert ran.stdout.strip().splitlines()[-1] == "0 False False", ran.stdout + ran.stderr
  assert (tmp_path / "out" / "e-00000-of-00001.tfrecord").stat().st_size > 0


def test_a_conversion_is_announced_once_and_then_loaded(tmp_path, monkeypatch, vggish_checkpoint,
                                                        vggish_embedder, golden):
  """The first embedder of a checkpoint says it converts (once its checkpoint is read);
  the next loads the kept file silently, with the same results.  (The conversion itself
  is stood in for by the session's: ~15 s each.)"""
  import numpy as np
  monkeypatch.setenv("SOUNDSCOPE_CONVERTED_DIR", str(tmp_path / "converted"))

  def convert(checkpoint_path, loaded=None):
    loaded()
    return vggish_embedder.model_path.read_bytes()
  monkeypatch.setattr(vggish_litert, "convert", convert)
  notes = []
  first = vggish_litert.VggishEmbedder(vggish_checkpoint, announce=notes.append)
  second = vggish_litert.VggishEmbedder(vggish_checkpoint, announce=notes.append)
  assert len(notes) == 1 and "converting the VGGish checkpoint" in notes[0]
  assert str(tmp_path / "converted") in notes[0]
  assert first.model_path == second.model_path
  assert first.model_path.parent == tmp_path / "converted"
  examples = golden["sweep16k_mono_examples"]
  np.testing.assert_array_equal(second.embed(examples), vggish_embedder.embed(examples))


def test_a_folder_that_cannot_be_written_falls_back_to_the_temporary_directory(
    tmp_path, monkeypatch):
  """A read-only home (a container, a cluster's worker image) still embeds: the conversion
  goes to a folder of the user's in the temporary directory, and is found there next time."""
  import tempfile
  log = tmp_path / "calls.log"
  monkeypatch.setattr(vggish_litert, "convert", _fake_convert(log))
  blocker = tmp_path / "not-a-folder"
  blocker.write_text("a file where the converted-models folder would be")
  monkeypatch.setenv("SOUNDSCOPE_CONVERTED_DIR", str(blocker / "converted"))
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
  (tmp_path / "tmp").mkdir()
  checkpoint = tmp_path / "vggish_model.ckpt"
  checkpoint.write_bytes(b"weights")
  path = vggish_litert.converted(checkpoint)
  assert path.parent == tmp_path / "tmp" / f"soundscope-converted-{os.getuid()}"
  assert vggish_litert.converted(checkpoint) == path and len(_calls(log)) == 1
  with pytest.raises(OSError):   # A folder given explicitly is the only one tried.
    vggish_litert.converted(checkpoint, blocker / "converted")
