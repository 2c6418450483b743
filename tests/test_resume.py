"""--resume after kill -9, and the crash-safe commit, on real clips.

`soundscope predict` runs in a child process over 30 real ESC-10 clips (one
part each) and is killed with SIGKILL once a random number of its parts are
finished; `--resume` then takes those parts over and the outputs equal an
uninterrupted run's.  A kill between the commit's renames leaves the record
that the next run completes: the prefix then holds the complete new outputs,
never old and new mixed.  (200 files, embed too: bench/bench_scale.py.)
"""

import glob
import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from soundscope.cli import main as cli
from conftest import asset
import support_pipelines as support

pytestmark = pytest.mark.slow

FACTORY = "support_pipelines:make_tiny_classifier"
CLIPS = 30


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
  folder = tmp_path_factory.mktemp("resume_clips")
  names = sorted(os.listdir(asset("audio/esc10")))
  names = [name for name in names if name.endswith(".flac")][:CLIPS]
  for name in names:
    os.symlink(asset(f"audio/esc10/{name}"), folder / name)
  (folder / "zz_notes.wav").write_text("not audio\n" * 10)   # One error row too.
  return folder


def _argv(clips, output, *extra):
  return ["predict", "--model-factory", FACTORY, "--no-progress", "--input", str(clips),
          "--output", str(output), "--scores", "--per-window", *extra]


def _child(argv, patch=""):
  """`soundscope argv` in a child process (its own session), after `patch` (Python code)."""
  env = support.child_env()
  code = f"import sys\n{patch}\nfrom soundscope.cli import main\nsys.exit(main.main({argv!r}))"
  return subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _done_parts(directory, name):
  return glob.glob(str(directory / f".{name}.staging-*" / "parts" / "part-*.done.json"))


def _rows(path):
  return pq.read_table(path).drop_columns(["run_time"])


@pytest.fixture(scope="module")
def uninterrupted(clips, tmp_path_factory):
  output = tmp_path_factory.mktemp("whole") / "whole.parquet"
  assert cli.main(_argv(clips, output)) == 0
  return output


def test_resume_after_kill_9_gives_the_uninterrupted_outputs(clips, uninterrupted, tmp_path,
                                                              capsys):
  output = tmp_path / "preds.parquet"
  wanted = random.Random(19).randint(3, CLIPS - 5)   # Parts finished before the kill.
  process = _child(_argv(clips, output))
  deadline = time.monotonic() + 240
  while len(_done_parts(tmp_path, "preds")) < wanted:
    assert process.poll() is None, process.stderr.read().decode()
    assert time.monotonic() < deadline
    time.sleep(0.02)
  os.killpg(process.pid, signal.SIGKILL)
  process.wait()
  finished = len(_done_parts(tmp_path, "preds"))
  assert wanted <= finished < CLIPS + 1 and not output.exists()
  # Other settings refuse to mix, naming the difference; the leftover stays for a resume.
  status = cli.main(_argv(clips, output, "--resume", "--top-k", "2"))
  err = capsys.readouterr().err
  assert status == 2 and "report.top_k=3" in err and "report.top_k=2" in err
  assert len(err.strip().splitlines()) == 1
  status = cli.main(_argv(clips, output, "--resume"))
  out = capsys.readouterr().out
  assert status == 0, out
  assert f"--resume: {finished} of {CLIPS + 1} parts taken over" in out
  assert f"files: {CLIPS + 1} in = {CLIPS} written + 1 errors (all accounted for)" in out
  assert _rows(output).equals(_rows(uninterrupted))
  assert pq.read_table(tmp_path / "preds-errors.parquet").equals(
      pq.read_table(str(uninterrupted).replace(".parquet", "-errors.parquet")))
  assert pq.read_table(output).column("run_time").unique().to_pylist().__len__() == 1
  assert sorted(os.listdir(tmp_path)) == [".preds.inputs.json", "preds-errors.parquet",
                                          "preds.parquet"]


def test_resume_over_a_growing_archive_runs_only_new_and_changed_inputs(
    clips, tmp_path, capsys, monkeypatch):
  """A committed plain run (no --resume) over 6 clips and a broken file; 2 clips are added
  (sorting between the others) and 1 is touched: --resume scores exactly those 3 and the
  outputs equal a fresh run over all 9 inputs; other settings refuse; all committed: no
  model."""
  import shutil
  archive = tmp_path / "archive"
  archive.mkdir()
  names = sorted(name for name in os.listdir(clips) if name.endswith(".flac"))[:8]
  added = [names[2], names[5]]
  for name in names:
    if name not in added:
      shutil.copyfile(os.path.realpath(clips / name), archive / name)
  shutil.copyfile(clips / "zz_notes.wav", archive / "zz_notes.wav")
  output = tmp_path / "out" / "preds.parquet"
  assert cli.main(_argv(archive, output)) == 0     # Commits its inputs record too.
  capsys.readouterr()
  for name in added:
    shutil.copyfile(os.path.realpath(clips / name), archive / name)
  touched = archive / names[0]
  stamp = touched.stat().st_mtime_ns + 10 ** 9
  os.utime(touched, ns=(stamp, stamp))
  assert cli.main(_argv(archive, output, "--resume")) == 0
  out = capsys.readouterr().out
  assert "--resume: 6 of 9 inputs already committed unchanged; 3 to run" in out, out
  assert "files_read=3 " in out and "files: 9 in = 8 written + 1 errors (all accounted for)" in out, out
  fresh = tmp_path / "fresh" / "preds.parquet"
  assert cli.main(_argv(archive, fresh, "--resume")) == 0    # Nothing there: runs all.
  assert "no interrupted run or committed inputs on this output" in capsys.readouterr().out

  def same_as_fresh():
    assert _rows(output).equals(_rows(fresh))
    assert len(set(pq.read_table(output).column("run_time").to_pylist())) == 1
    assert pq.read_table(tmp_path / "out" / "preds-errors.parquet").equals(
        pq.read_table(tmp_path / "fresh" / "preds-errors.parquet"))
  same_as_fresh()
  assert len(set(_rows(output).column("source").to_pylist())) == 8
  # Other settings than the committed output's: one line naming the difference, exit 2.
  assert cli.main(_argv(archive, output, "--resume", "--top-k", "2")) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "committed output" in err and "report.top_k=2" in err
  # Everything committed: no model is loaded, the same outputs are committed again.
  from soundscope.pipelines import model_handlers

  def no_model(*_):
    raise AssertionError("a model was loaded")
  monkeypatch.setattr(model_handlers, "shared_model", no_model)
  assert cli.main(_argv(archive, output, "--resume")) == 0
  out = capsys.readouterr().out
  assert "9 of 9 inputs already committed unchanged" in out and "0 to run" in out, out
  assert "files: 9 in = 8 written + 1 errors (all accounted for)" in out
  same_as_fresh()
  assert sorted(os.listdir(tmp_path / "out")) == [".preds.inputs.json",
                                                  "preds-errors.parquet", "preds.parquet"]


def test_a_kill_between_the_commit_renames_is_completed_by_the_next_run(clips, tmp_path,
                                                                        capsys):
  listing = tmp_path / "five.txt"   # Five clips and the broken file: a quick child.
  listing.write_text("".join(f"{clips / name}\n" for name in sorted(os.listdir(clips))[-6:]))
  whole = tmp_path / "whole" / "whole.parquet"
  assert cli.main(_argv(listing, whole)) == 0
  output = tmp_path / "preds.parquet"
  # A previous output of other inputs (one clip), to be replaced whole.
  assert cli.main(_argv(str(clips / sorted(os.listdir(clips))[0]), output)) == 0
  capsys.readouterr()
  old = _rows(output)
  # The child dies after the first of the commit's renames of new files (old ones are in
  # the trash by then): the prefix has the new rows without their errors file.
  patch = ("import os\nfrom apache_beam.io.filesystems import FileSystems\n"
           "rename = FileSystems.rename\n"
           "def dying(sources, targets):\n"
           "  if sources and '.staging-' in sources[0] and '.staging-' not in targets[0]:\n"
           "    rename(sources[-1:], targets[-1:]); os._exit(9)\n"
           "  rename(sources, targets)\n"
           "FileSystems.rename = staticmethod(dying)\n")
  process = _child(_argv(listing, output), patch)
  process.communicate(timeout=300)
  assert process.returncode == 9
  assert output.exists() and not (tmp_path / "preds-errors.parquet").exists()
  assert glob.glob(str(tmp_path / ".preds.commit.json"))
  # The next run on the prefix first completes that commit: the crashed run's whole outputs.
  from soundscope.pipelines import outputs
  assert outputs.recover(str(tmp_path), "preds")
  assert _rows(output).equals(_rows(whole)) and not _rows(output).equals(old)
  assert pq.read_table(tmp_path / "preds-errors.parquet").num_rows == 1
  assert sorted(os.listdir(tmp_path)) == [".preds.inputs.json", "five.txt", "preds-errors.parquet",
                                          "preds.parquet", "whole"]


def test_embed_resumes_after_a_full_disk_with_the_uninterrupted_records(
    clips, tmp_path, capsys, vggish_checkpoint, pca_params_path):
  """embed on a 1 MiB tmpfs that fills after a few parts: exit 1, the finished parts kept;
  space freed, --resume takes them over and the shards equal an uninterrupted run's."""
  import subprocess
  import test_pipelines_errors as errors_tests
  listing = tmp_path / "eight.txt"
  listing.write_text("".join(f"{clips / name}\n" for name in sorted(os.listdir(clips))[:8]))
  vggish = ["--vggish-checkpoint", str(vggish_checkpoint), "--pca-params", str(pca_params_path),
            "--no-progress", "--input", str(listing)]
  assert cli.main(["embed", *vggish, "--output", str(tmp_path / "whole" / "clips")]) == 0
  disk = errors_tests._mount_tmpfs(tmp_path / "small", "size=1m")
  try:
    with open(disk / "filler", "wb") as filler:
      filler.write(b"\0" * (1024 * 1024 - 40 * 1024))
    assert cli.main(["embed", *vggish, "--output", str(disk / "clips")]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "kept for --resume" in err, err
    finished = len(_done_parts(disk, "clips"))
    assert 0 < finished < 8
    os.remove(disk / "filler")
    assert cli.main(["embed", *vggish, "--output", str(disk / "clips"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"--resume: {finished} of 8 parts taken over" in out
    assert "files: 8 in = 8 written + 0 errors (all accounted for)" in out
    for tail in ("-00000-of-00001.tfrecord", "-manifest.parquet", "-errors.parquet"):
      assert (disk / f"clips{tail}").read_bytes() == (tmp_path / "whole" / f"clips{tail}"
                                                      ).read_bytes(), tail
    assert sorted(os.listdir(disk)) == [".clips.inputs.json", "clips-00000-of-00001.tfrecord",
                                        "clips-errors.parquet",
                                        "clips-manifest.parquet"]
    # One more clip, sorting first: --resume embeds it alone; the outputs are a fresh run's.
    names = sorted(os.listdir(clips))
    listing.write_text("".join(f"{clips / name}\n" for name in [names[8]] + names[:8]))
    assert cli.main(["embed", *vggish, "--output", str(disk / "clips"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "--resume: 8 of 9 inputs already committed unchanged; 1 to run" in out, out
    assert "files_read=1 " in out and "files: 9 in = 9 written + 0 errors (all accounted for)" in out
    assert cli.main(["embed", *vggish, "--output", str(tmp_path / "fresh" / "clips")]) == 0
    assert (disk / "clips-00000-of-00001.tfrecord").read_bytes() == (
        tmp_path / "fresh" / "clips-00000-of-00001.tfrecord").read_bytes()
    for tail in ("-manifest.parquet", "-errors.parquet"):   # Row groups follow the parts.
      assert pq.read_table(disk / f"clips{tail}").equals(
          pq.read_table(tmp_path / "fresh" / f"clips{tail}")), tail
  finally:
    subprocess.run(["umount", "-l", str(disk)], check=False)
