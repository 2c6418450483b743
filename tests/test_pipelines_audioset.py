"""`soundscope audioset` on a released-format segments CSV with local audio."""

import numpy as np
import pandas as pd
import pytest
import soundfile

from soundscope.cli import main as cli
import support_pipelines as support
from conftest import asset
from soundscope.pipelines import labels
from soundscope.transforms import postprocess, vggish_input

CSV_HEADER = ("# Segments csv created Thu Nov 26 17:00:00 2026\n"
              "# num_ytids=5, num_segs=5, num_unique_labels=5, num_positive_labels=7\n"
              "# YTID, start_seconds, end_seconds, positive_labels\n")
ROWS = (
    ("aaaaaaaaaaa", 1.0, 4.0, "/m/09x0r,/m/04rlf,/m/0jbk"),  # Whole video, three labels.
    ("bbbbbbbbb_b", 2.0, 5.0, "/m/04rlf"),                   # Cut, YTID_start_end.
    ("cc-cccccccc", 30.0, 40.0, "/m/0jbk"),                   # Cut, YTID_start.
    ("ddddddddddd", 0.0, 10.0, "/m/09x0r"),                   # No audio at all.
    ("eeeeeeeeeee", 10.0, 20.0, "/m/09x0r"),                  # Video shorter than the start.
)


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
  root = tmp_path_factory.mktemp("audioset")
  audio_dir = root / "audio"
  (audio_dir / "nested").mkdir(parents=True)
  soundfile.write(str(audio_dir / "aaaaaaaaaaa.wav"), support.tone(6.0, 22050, 2, 300.0),
                  22050)
  soundfile.write(str(audio_dir / "nested" / "bbbbbbbbb_b_2.000_5.000.flac"),
                  support.tone(3.0, 16000, 1, 500.0, seed=2), 16000)
  soundfile.write(str(audio_dir / "cc-cccccccc_30.wav"), support.tone(1.5, 44100, 1, 700.0,
                                                                      seed=3), 44100)
  soundfile.write(str(audio_dir / "eeeeeeeeeee.ogg"), support.tone(2.0, 32000, seed=4), 32000)
  csv_path = root / "segments.csv"
  csv_path.write_text(CSV_HEADER + "".join(
      f'{ytid}, {start:.3f}, {end:.3f}, "{mids}"\n' for ytid, start, end, mids in ROWS))
  return csv_path, audio_dir


@pytest.mark.slow
def test_segments_become_labelled_records_and_missing_audio_is_reported(
    segments, vggish_checkpoint, pca_params_path, vggish_embedder, tmp_path, capsys):
  from soundscope.transforms import records as records_lib
  import tensorflow as tf
  csv_path, audio_dir = segments
  class_map_path = asset("audioset/class_labels_indices.csv")
  prefix = str(tmp_path / "bal")
  status = cli.main([
      "audioset", "--segments", str(csv_path), "--audio-dir", str(audio_dir),
      "--output", prefix, "--class-labels", str(class_map_path),
      "--vggish-checkpoint", str(vggish_checkpoint), "--pca-params", str(pca_params_path)])
  captured = capsys.readouterr()
  out = captured.out
  assert status == 0, out
  # The progress line (stderr): 4 segments with audio; 3 + 3 + 1.5 s decoded, the fourth
  # fails (it starts after its video ends).
  assert "audioset: 4/4 files (100%), 7.5 s of audio" in captured.err
  assert "coverage: audio found for 4 of 5 listed segments (80.0%)" in out
  assert "segments: 5 in = 3 written + 2 errors (all accounted for)" in out
  records = {}
  for serialized in tf.data.TFRecordDataset(prefix + "-00000-of-00001.tfrecord"):
    example = tf.train.SequenceExample.FromString(serialized.numpy())
    record = records_lib.from_proto(example)
    records[record.video_id] = record
  class_map = labels.load_class_map(class_map_path)
  assert set(records) == {"aaaaaaaaaaa", "bbbbbbbbb_b", "cc-cccccccc"}
  for ytid, start, end, mids in ROWS[:3]:
    record = records[ytid]
    assert (record.start_time_seconds, record.end_time_seconds) == (start, end)
    assert record.labels == tuple(sorted(class_map[m] for m in mids.split(",")))
  assert len(records["aaaaaaaaaaa"].labels) == 3
  # The whole video is cut to [1, 4] s: 3 s -> 3 frames, equal to the plain loop on the range.
  whole = str(audio_dir / "aaaaaaaaaaa.wav")
  expected = postprocess.Postprocessor(pca_params_path).postprocess(
      vggish_embedder.embed(vggish_input.file_to_examples(whole, start_seconds=1.0,
                                                          end_seconds=4.0)))
  got = records["aaaaaaaaaaa"].embedding
  assert got.shape == expected.shape == (3, 128)
  assert np.max(np.abs(got.astype(int) - expected.astype(int))) <= 1
  assert records["bbbbbbbbb_b"].embedding.shape == (3, 128)   # The cut file, whole.
  assert records["cc-cccccccc"].embedding.shape == (1, 128)
  errors = pd.read_parquet(prefix + "-errors.parquet").set_index("id")
  assert errors.loc["ddddddddddd_0.000", "error_type"] == "missing_audio"
  assert errors.loc["ddddddddddd_0.000", "stage"] == "locate"
  assert "missing audio" in errors.loc["ddddddddddd_0.000", "message"]
  assert errors.loc["ddddddddddd_0.000", "input"].startswith("ddddddddddd, 0.000, 10.000")
  assert errors.loc["eeeeeeeeeee_10.000", "error_type"] == "clip_too_short"
  manifest = pd.read_parquet(prefix + "-manifest.parquet").set_index("video_id")
  assert manifest.loc["aaaaaaaaaaa", "source"] == whole
  assert (manifest.loc["aaaaaaaaaaa", "sample_rate"], manifest.loc["aaaaaaaaaaa", "channels"]) \
      == (22050, 2)
  assert list(manifest.loc["aaaaaaaaaaa", "labels"]) == list(records["aaaaaaaaaaa"].labels)
