"""What a Beam command may write over, and what it reads back, on real clips.

`--output` naming a folder, a folder holding the command's own earlier outputs,
an output that would replace an input, another command's outputs on the same
prefix, inputs that hold nothing, and Ctrl-C: each is a usage error or a note in
one line, and nothing a person had there is lost.  The tiny classifiers of
support_pipelines stand in for real models.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import asset
from soundscope.cli import main as cli
from soundscope.pipelines import inputs, outputs
import support_pipelines as support

FACTORY = "support_pipelines:make_tiny_classifier"


def _clips(folder, count=3):
  folder.mkdir(exist_ok=True)
  names = sorted(n for n in os.listdir(asset("audio/esc10")) if n.endswith(".flac"))[:count]
  for name in names:
    shutil.copy(asset(f"audio/esc10/{name}"), folder)
  return folder


def _predict(capsys, *args):
  status = cli.main(["predict", "--model-factory", FACTORY, "--no-progress", *args])
  captured = capsys.readouterr()
  return status, captured.out, captured.err


@pytest.mark.parametrize("output", ["kept", "kept/", ".", ""])
def test_an_output_that_names_a_folder_is_refused_and_the_folder_kept(tmp_path, capsys,
                                                                     monkeypatch, output):
  clips = _clips(tmp_path / "clips", 1)
  (tmp_path / "kept").mkdir()
  (tmp_path / "kept" / "notes.txt").write_text("mine\n")
  monkeypatch.chdir(tmp_path)
  status, out, err = _predict(capsys, "--input", str(clips), "--output", output)
  assert status == 2 and out == ""
  (line,) = err.splitlines()
  assert line.startswith("soundscope predict: error: --output ") and (
      "is a folder" in line or "is empty" in line), line
  assert (tmp_path / "kept" / "notes.txt").read_text() == "mine\n"
  assert sorted(os.listdir(tmp_path)) == ["clips", "kept"]


def test_a_failed_commit_never_deletes_what_was_there_before(tmp_path):
  """A final path that is a folder (made between the checks and the commit) makes the
  rename fail: the rollback takes back only what the run moved."""
  prefix = str(tmp_path / "run")
  staged = outputs.StagedOutput(prefix, outputs.EMBED_PATTERNS)
  for tail in ("-manifest.parquet", "-errors.parquet"):
    with open(staged.staged(tail), "wb") as handle:
      handle.write(b"new")
  (tmp_path / "run-manifest.parquet").mkdir()
  (tmp_path / "run-manifest.parquet" / "inside.txt").write_text("keep")
  with pytest.raises(Exception):
    staged.commit()
  assert (tmp_path / "run-manifest.parquet" / "inside.txt").read_text() == "keep"
  assert not (tmp_path / "run-errors.parquet").exists()


def test_a_folder_holding_the_runs_own_outputs_is_read_without_them(tmp_path, capsys):
  clips = _clips(tmp_path / "clips")
  output = clips / "preds.parquet"
  first = _predict(capsys, "--input", str(clips), "--output", str(output))
  rows = pq.read_table(output).drop_columns(["run_time"])
  second = _predict(capsys, "--input", str(clips), "--output", str(output))
  assert first[0] == second[0] == 0
  assert "files: 3 in = 3 written + 0 errors" in first[1] and (
      "files: 3 in = 3 written + 0 errors" in second[1]), second
  assert "are its earlier outputs of" in second[2] and "not read" in second[2]
  assert pq.read_table(output).drop_columns(["run_time"]).equals(rows)


def test_an_output_that_would_replace_an_input_is_refused(tmp_path, capsys):
  clips = _clips(tmp_path / "clips", 2)
  victim = sorted(clips.iterdir())[0]
  before = victim.read_bytes()
  status, _, err = _predict(capsys, "--input", str(clips), "--output", str(victim))
  assert status == 2 and len(err.splitlines()) == 1
  assert f"would replace the input {victim}" in err
  assert victim.read_bytes() == before


def test_another_commands_outputs_on_the_prefix_are_refused(tmp_path, capsys):
  clips = _clips(tmp_path / "clips", 1)
  assert _predict(capsys, "--input", str(clips), "--output",
                  str(tmp_path / "out" / "corpus.parquet"))[0] == 0
  committed = sorted(os.listdir(tmp_path / "out"))
  status = cli.main(["embed", "--input", str(clips), "--output", str(tmp_path / "out" / "corpus"),
                     "--no-progress"])
  err = capsys.readouterr().err
  assert status == 2 and len(err.splitlines()) == 1
  assert "holds the outputs of `soundscope predict`; give embed another --output" in err
  assert sorted(os.listdir(tmp_path / "out")) == committed


def test_inputs_that_hold_no_record_exit_2_and_keep_the_previous_outputs(tmp_path, capsys):
  clips = _clips(tmp_path / "clips", 1)
  output = tmp_path / "preds.parquet"
  assert _predict(capsys, "--input", str(clips), "--output", str(output))[0] == 0
  before = output.read_bytes()
  empty = tmp_path / "empty.tfrecord"
  empty.write_bytes(b"")
  status, _, err = _predict(capsys, "--input", str(empty), "--output", str(output))
  assert status == 2
  assert err.splitlines()[-1] == ("soundscope predict: error: the inputs hold no records; "
                                  "nothing written (the previous outputs stay)")
  assert output.read_bytes() == before


def test_a_folder_input_skips_hidden_files_and_folders(tmp_path):
  folder = _clips(tmp_path / "clips", 2)
  (folder / ".notes.wav").write_bytes(b"x")
  (folder / ".preds.staging-0123").mkdir()
  (folder / ".preds.staging-0123" / "part.wav").write_bytes(b"x")
  found = inputs.expand(str(folder))
  assert [item.video_id for item in found.files] == sorted(
      n for n in os.listdir(folder) if not n.startswith("."))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_the_pipeline_is_one_line_and_exit_130(tmp_path, stop):
  """SIGINT (Ctrl-C) or SIGTERM (a batch scheduler's stop) once a part is finished:
  'interrupted' in one line, the finished parts kept."""
  clips = _clips(tmp_path / "clips", 12)
  output = tmp_path / "preds.parquet"
  code = ("import sys\nfrom soundscope.cli import main\n"
          f"sys.exit(main.main({['predict', '--model-factory', FACTORY, '--no-progress', '--input', str(clips), '--output', str(output), '--per-window', '--scores']!r}))")
  process = subprocess.Popen([sys.executable, "-c", code], env=support.child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  deadline = time.monotonic() + 120
  while not list(tmp_path.glob(".preds.staging-*/parts/part-*.done.json")):
    assert process.poll() is None, process.stderr.read().decode()
    assert time.monotonic() < deadline
    time.sleep(0.01)
  process.send_signal(stop)
  _, err = process.communicate(timeout=120)
  lines = err.decode().strip().splitlines()
  assert process.returncode == 130 and len(lines) == 1, lines
  assert lines[0].startswith("predict: interrupted (previous outputs left as they were; its ")
  assert lines[0].endswith(" finished parts are kept for --resume)")
  assert not output.exists()
  # The progress line's folder was in the staging folder, and is gone with the run.
  (staging,) = tmp_path.glob(".preds.staging-*")
  assert not list(staging.glob(".progress-*"))


def test_a_run_whose_parts_wrote_nothing_is_one_line_not_finished(tmp_path, capsys):
  """A pipeline that ends DONE with parts missing (Beam's DaskRunner says DONE when its
  scheduler is lost) fails in one line, the outputs untouched."""
  import argparse
  import apache_beam as beam
  from soundscope.pipelines import launch

  def build(pipeline, todo, parts_dir, beacon_dir, run_time):
    _ = pipeline | "Nothing" >> beam.Create([1])   # Runs, writes no part.

  def merge(*_):
    raise AssertionError("merge must not run")

  job = launch.Job("predict", "files", ["a", "b"], [["a"], ["b"]], {"command": "predict"},
                   build, merge, 2, 0)
  args = argparse.Namespace(pipeline_args=[], no_progress=True, resume=False,
                            errors_format="parquet", dask_address=None, dask_workers=0)
  status = launch.run_command(args, job, str(tmp_path / "out" / "preds"), ("*.parquet",))
  captured = capsys.readouterr()
  assert status == 1 and "finished" not in captured.out, captured
  assert captured.err == ("predict: the pipeline ended but 2 of 2 parts wrote no results "
                          "(first: part 0) (previous outputs left as they were)\n")
  assert os.listdir(tmp_path / "out") == []


def test_relative_model_paths_travel_absolute(tmp_path, monkeypatch):
  import argparse
  from soundscope.pipelines import listing, options
  (tmp_path / "vg").mkdir()
  for name in ("vggish_model.ckpt", "pca.npz"):
    (tmp_path / "vg" / name).write_bytes(b"x")
  monkeypatch.chdir(tmp_path)
  args = argparse.Namespace(vggish_checkpoint="vg/vggish_model.ckpt", pca_params="vg/pca.npz",
                            model_dir=None)
  assert options.vggish_files(args) == (str(tmp_path / "vg" / "vggish_model.ckpt"),
                                        str(tmp_path / "vg" / "pca.npz"))
  assert listing.local_absolute("store") == str(tmp_path / "store")
  assert listing.local_absolute("gs://bucket/store") == "gs://bucket/store"
