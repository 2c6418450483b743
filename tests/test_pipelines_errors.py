"""Errors a person can act on: failed runs, BOMs and file names that are not UTF-8.

On real inputs: the released AudioSet eval records and segments CSV, ESC-10
clips; the tiny classifiers of support_pipelines stand in for real models.
"""

import glob
import os
import shutil
import tempfile

import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile

from soundscope.cli import main as cli
import support_pipelines as support
from conftest import asset
from soundscope.pipelines import audioset, labels

ESC10_CLIP = "1-100032-A-0.flac"
NON_UTF8_NAME = b"caf\xe9.wav"
ESCAPED_NAME = "caf\\xe9.wav"


def _predict(capsys, factory, *args):
  status = cli.main(["predict", "--model-factory", factory, "--no-progress", *args])
  captured = capsys.readouterr()
  return status, captured.out, captured.err


def _eval_records(folder, count=3):
  """Copies the first `count` released eval TFRecords into folder; returns their records."""
  import tensorflow as tf
  folder.mkdir()
  total = 0
  for path in sorted(glob.glob(str(asset("audioset/eval") / "*.tfrecord")))[:count]:
    shutil.copy(path, folder)
    total += sum(1 for _ in tf.data.TFRecordDataset(path))
  return total


def test_predict_where_every_record_fails_exits_1_naming_the_reasons(tmp_path, capsys):
  records = _eval_records(tmp_path / "eval")
  output = tmp_path / "preds.parquet"
  status, out, err = _predict(capsys, "support_pipelines:make_audio_only_classifier",
                              "--input", str(tmp_path / "eval" / "*.tfrecord"),
                              "--output", str(output))
  assert status == 1, out + err
  assert f"records: {records} in = 0 written + {records} errors (all accounted for)" in out
  lines = [line for line in err.splitlines() if "failed" in line]
  assert len(lines) == 1, err
  assert lines[0].startswith(f"predict: {records} of {records} records failed "
                             f"({records} NotImplementedError; e.g. ")
  assert "does not read AudioSet embeddings" in lines[0]
  assert "Traceback" not in err
  errors = pd.read_parquet(tmp_path / "preds-errors.parquet")   # Written: what to act on.
  assert len(errors) == records and pq.read_table(output).num_rows == 0


def test_max_error_fraction_fails_a_run_with_too_many_errors(tmp_path, capsys):
  folder = tmp_path / "clips"
  folder.mkdir()
  for name in ("1-100032-A-0.flac", "1-110389-A-0.flac", "1-17150-A-12.flac"):
    shutil.copy(asset(f"audio/esc10/{name}"), folder)
  (folder / "notes.wav").write_text("not audio\n" * 10)
  output = tmp_path / "preds.parquet"
  common = ("--input", str(folder), "--output", str(output))
  status, out, err = _predict(capsys, "support_pipelines:make_tiny_classifier", *common)
  assert status == 0, err
  assert "files: 4 in = 3 written + 1 errors (all accounted for)" in out
  status, out, err = _predict(capsys, "support_pipelines:make_tiny_classifier", *common,
                              "--max-error-fraction", "0.2")
  assert status == 1
  assert "predict: 1 of 4 files failed (1 unreadable_audio; e.g. " in err
  assert "notes.wav" in err
  assert pq.read_table(output).num_rows == 3   # Written all the same.
  with pytest.raises(SystemExit) as usage:   # argparse's usage error.
    cli.main(["predict", "--model-factory", "support_pipelines:make_tiny_classifier",
              *common, "--max-error-fraction", "1.5"])
  assert usage.value.code == 2
  assert "--max-error-fraction" in capsys.readouterr().err


def _released_segments(path, count, bom):
  """The header and first `count` rows of the released balanced-train CSV, optionally with a BOM."""
  with open(asset("audioset/balanced_train_segments.csv"), encoding="utf-8") as handle:
    lines = [next(handle) for _ in range(audioset.HEADER_LINES + count)]
  path.write_text(("\ufeff" if bom else "") + "".join(lines), encoding="utf-8")
  return path


def test_segments_csv_with_a_bom_reads_as_without(tmp_path):
  plain = audioset.read_segments(_released_segments(tmp_path / "plain.csv", 20, False))
  with_bom = audioset.read_segments(_released_segments(tmp_path / "bom.csv", 20, True))
  assert len(plain) == 20 and with_bom == plain


def test_labels_csv_with_a_bom_reads_as_without(tmp_path):
  path = tmp_path / "labels.csv"
  path.write_text("\ufeffvideo_id,labels\nwav/a.wav,\"/m/09x0r,/m/04rlf\"\nb.wav,137\n",
                  encoding="utf-8")
  assert labels.load_file_labels(str(path)) == {"wav/a.wav": "/m/09x0r,/m/04rlf",
                                                 "b.wav": "137"}


def test_audioset_with_every_segment_missing_exits_1(tmp_path, capsys, vggish_checkpoint,
                                                     pca_params_path):
  csv_path = _released_segments(tmp_path / "segments.csv", 20, bom=True)
  (tmp_path / "audio").mkdir()
  output = tmp_path / "out" / "bal"
  status = cli.main(["audioset", "--segments", str(csv_path), "--audio-dir",
                     str(tmp_path / "audio"), "--output", str(output), "--class-labels",
                     str(asset("audioset/class_labels_indices.csv")), "--vggish-checkpoint",
                     vggish_checkpoint, "--pca-params", str(pca_params_path), "--no-progress"])
  captured = capsys.readouterr()
  assert status == 1, captured.out + captured.err
  assert "segments: 20 in = 0 written + 20 errors (all accounted for)" in captured.out
  assert "audioset: 20 of 20 segments failed (20 missing_audio; e.g. " in captured.err
  assert "missing audio" in captured.err
  assert len(pd.read_parquet(str(output) + "-errors.parquet")) == 20


@pytest.fixture
def non_utf8_folder(tmp_path):
  """A folder with a real clip under a non-UTF-8 name (as WAV) and the same clip named ok.wav."""
  folder = tmp_path / "clips"
  folder.mkdir()
  wave, rate = soundfile.read(str(asset(f"audio/esc10/{ESC10_CLIP}")))
  soundfile.write(str(folder / "ok.wav"), wave, rate)
  shutil.copy(folder / "ok.wav", os.path.join(os.fsencode(folder), NON_UTF8_NAME))
  assert sorted(os.listdir(os.fsencode(folder))) == [NON_UTF8_NAME, b"ok.wav"]
  return folder


def test_predict_accounts_for_a_file_name_that_is_not_utf8(non_utf8_folder, tmp_path, capsys):
  output = tmp_path / "preds.parquet"
  status, out, err = _predict(capsys, "support_pipelines:make_tiny_classifier",
                              "--input", str(non_utf8_folder), "--output", str(output))
  assert status == 0, err
  assert "files: 2 in = 1 written + 1 errors (all accounted for)" in out
  assert list(pq.read_table(output).column("id").to_pylist()) == ["ok.wav"]
  errors = pd.read_parquet(tmp_path / "preds-errors.parquet")
  assert errors.to_dict("records") == [{
      "id": ESCAPED_NAME, "input": os.path.join(str(non_utf8_folder), ESCAPED_NAME),
      "stage": "read", "error_type": "file_name_not_utf8",
      "message": f"{os.path.join(str(non_utf8_folder), ESCAPED_NAME)}: the file name is not "
                 f"UTF-8 (shown with \\x escapes); rename the file to process it"}]


def test_embed_accounts_for_a_file_name_that_is_not_utf8(non_utf8_folder, tmp_path, capsys,
                                                         vggish_checkpoint, pca_params_path):
  output = tmp_path / "out" / "clips"
  status = cli.main(["embed", "--input", str(non_utf8_folder), "--output", str(output),
                     "--vggish-checkpoint", vggish_checkpoint, "--pca-params",
                     str(pca_params_path), "--no-progress"])
  captured = capsys.readouterr()
  assert status == 0, captured.err
  assert "files: 2 in = 1 written + 1 errors (all accounted for)" in captured.out
  manifest = pd.read_parquet(str(output) + "-manifest.parquet")
  assert list(manifest["video_id"]) == ["ok.wav"]
  errors = pd.read_parquet(str(output) + "-errors.parquet")
  assert list(errors["id"]) == [ESCAPED_NAME]
  assert list(errors["error_type"]) == ["file_name_not_utf8"]


# ------------------------------------------------ outputs that cannot be written, models
def _mount_tmpfs(folder, options):
  """Mounts a tmpfs on `folder` (skips when this machine does not allow it)."""
  import subprocess
  folder.mkdir(exist_ok=True)
  result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
  if result.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
  return folder


@pytest.fixture
def small_disk(tmp_path):
  """A 1 MiB tmpfs with ~24 KiB left (unmounted afterwards)."""
  import subprocess
  folder = _mount_tmpfs(tmp_path / "small", "size=1m")
  with open(folder / "filler", "wb") as filler:
    filler.write(b"\0" * (1024 * 1024 - 24 * 1024))
  yield folder
  subprocess.run(["umount", "-l", str(folder)], check=False)


def _clips(folder, count=6):
  folder.mkdir(exist_ok=True)
  for name in sorted(os.listdir(asset("audio/esc10")))[:count]:
    shutil.copy(asset(f"audio/esc10/{name}"), folder)
  return folder


def test_a_full_disk_is_one_line_naming_the_file_and_exit_1(small_disk, tmp_path, capsys):
  status, out, err = _predict(capsys, "support_pipelines:make_tiny_classifier",
                              "--input", str(_clips(tmp_path / "clips")), "--scores",
                              "--per-window", "--output", str(small_disk / "preds.parquet"))
  assert status == 1
  lines = err.strip().splitlines()
  assert len(lines) == 1 and "Traceback" not in err, err
  assert str(small_disk) in lines[0] and "No space left on device" in lines[0]
  assert not (small_disk / "preds.parquet").exists()


def test_a_read_only_output_folder_is_one_line_and_exit_1(tmp_path, capsys):
  import subprocess
  folder = _mount_tmpfs(tmp_path / "readonly", "ro,size=1m")
  try:
    status, _, err = _predict(capsys, "support_pipelines:make_tiny_classifier",
                              "--input", str(_clips(tmp_path / "clips", 2)),
                              "--output", str(folder / "preds.parquet"))
  finally:
    subprocess.run(["umount", "-l", str(folder)], check=False)
  assert status == 1
  lines = err.strip().splitlines()
  assert len(lines) == 1 and str(folder) in lines[0] and "Read-only file system" in lines[0]


def test_a_vggish_checkpoint_that_does_not_load_is_one_line_and_exit_1(tmp_path, capsys,
                                                                        pca_params_path,
                                                                        monkeypatch):
  temporary = tmp_path / "tmp"   # Where Beam makes its pipeline's folder (tempfile's).
  temporary.mkdir()
  monkeypatch.setattr(tempfile, "tempdir", str(temporary))
  checkpoint = tmp_path / "vggish_model.ckpt"
  checkpoint.write_bytes(b"not a checkpoint" * 100)
  status = cli.main(["embed", "--input", str(_clips(tmp_path / "clips", 2)), "--output",
                     str(tmp_path / "out" / "clips"), "--vggish-checkpoint", str(checkpoint),
                     "--pca-params", str(pca_params_path), "--no-progress"])
  err = capsys.readouterr().err
  assert status == 1
  lines = err.strip().splitlines()
  assert len(lines) == 1 and "Traceback" not in err, err
  assert str(checkpoint) in lines[0] and "failed to load" in lines[0]
  assert os.listdir(tmp_path / "out") == []
  # Nothing left behind, Beam's folder of the pipeline that never ran included.
  assert [name for name in os.listdir(temporary) if name.startswith("beam-")] == []
