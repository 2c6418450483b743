"""`soundscope embed` end to end: generated corpus, bad files and ESC-10 clips.

One run of the default runner over a list file covering everything; the
TFRecords are read back with tf.data and tf.train.SequenceExample, the
manifest and errors with pandas and pyarrow, and the embeddings compared with
the plain transforms loop (iter_file_examples + VggishEmbedder + Postprocessor).
(Two worker processes are tested in test_pipelines_predict.py, where the model
loads in a fraction of a second, and measured on VGGish in bench/bench_pipelines.py.)
"""

import glob
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile

from soundscope.cli import main as cli
import support_pipelines as support
from conftest import asset
from soundscope.transforms import postprocess, vggish_input

ESC10_CLIPS = ("1-100032-A-0.flac", "1-110389-A-0.flac", "1-17150-A-12.flac")
LABELLED = {"wav/mono_16k.wav": "/m/09x0r,/m/04rlf", "ogg/mono_32k.ogg": "137"}


def _expected_frames(frames, rate):
  """Embedding frames VGGish gives a file: whole 0.96 s examples, at least one (padding)."""
  samples_16k = int(frames * (16000 / rate))
  return max(1, 1 + (samples_16k - vggish_input.EXAMPLE_SPAN_SAMPLES) // 15360)


def _read_tfrecords(prefix):
  """{video_id: (start, end, labels, uint8 [frames, 128])} via tf.data + tf.train."""
  import tensorflow as tf
  records = {}
  for path in sorted(glob.glob(prefix + "-*-of-*.tfrecord")):
    for serialized in tf.data.TFRecordDataset(path).as_numpy_iterator():
      example = tf.train.SequenceExample.FromString(serialized)
      context = example.context.feature
      video_id = context["video_id"].bytes_list.value[0].decode()
      frames = [np.frombuffer(f.bytes_list.value[0], np.uint8) for f in
                example.feature_lists.feature_list["audio_embedding"].feature]
      records[video_id] = (context["start_time_seconds"].float_list.value[0],
                           context["end_time_seconds"].float_list.value[0],
                           tuple(context["labels"].int64_list.value), np.stack(frames))
  return records


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  root = tmp_path_factory.mktemp("embed_corpus")
  good = support.write_good_corpus(str(root))
  bad = support.write_bad_files(str(root))
  esc10 = [asset(f"audio/esc10/{name}") for name in ESC10_CLIPS]
  listing = root / "inputs.txt"
  entries = sorted(good) + sorted(bad) + ["bad/short_0.2s.wav", "wav/mono_16k.wav"]
  listing.write_text("\n".join(entries + [str(path) for path in esc10]) + "\n")
  label_csv = root / "labels.csv"
  label_csv.write_text("video_id,labels\n" + "".join(
      f'{video_id},"{text}"\n' for video_id, text in LABELLED.items()))
  return root, good, bad, esc10, listing, label_csv


@pytest.fixture(scope="module")
def embedded(corpus, vggish_checkpoint, pca_params_path, tmp_path_factory):
  root, _, _, _, listing, label_csv = corpus
  prefix = str(tmp_path_factory.mktemp("embed_out") / "corpus")
  status = cli.main([
      "embed", "--input", str(listing), "--output", prefix, "--num-shards", "2",
      "--labels-csv", str(label_csv), "--class-labels",
      str(asset("audioset/class_labels_indices.csv")),
      "--vggish-checkpoint", str(vggish_checkpoint), "--pca-params", str(pca_params_path)])
  return status, prefix


@pytest.mark.slow
def test_embed_writes_release_records_for_every_good_file(corpus, embedded, capfd):
  root, good, _, esc10, _, _ = corpus
  status, prefix = embedded
  assert status == 0
  assert sorted(os.path.basename(p) for p in glob.glob(prefix + "-0*.tfrecord")) == [
      "corpus-00000-of-00002.tfrecord", "corpus-00001-of-00002.tfrecord"]
  records = _read_tfrecords(prefix)
  expected_ids = set(good) | {"bad/short_0.2s.wav"} | {str(p) for p in esc10}
  assert set(records) == expected_ids
  for video_id, (start, end, labels, frames) in records.items():
    path = video_id if os.path.isabs(video_id) else str(root / video_id)
    info = soundfile.info(path)
    assert frames.shape == (_expected_frames(info.frames, info.samplerate), 128)
    assert start == 0.0 and end == pytest.approx(info.frames / info.samplerate, abs=1e-4)
  assert records["wav/mono_16k.wav"][2] == (0, 137)   # Speech, Music (mids).
  assert records["ogg/mono_32k.ogg"][2] == (137,)     # An index.
  assert records["flac/mono_8k.flac"][2] == ()


def test_embeddings_equal_the_plain_transforms_loop(corpus, embedded, vggish_embedder,
                                                    pca_params_path):
  root, _, _, esc10, _, _ = corpus
  records = _read_tfrecords(embedded[1])
  postprocessor = postprocess.Postprocessor(pca_params_path)
  for video_id, path in (("wav/stereo_48k.wav", str(root / "wav/stereo_48k.wav")),
                         (str(esc10[0]), str(esc10[0]))):
    examples = vggish_input.file_to_examples(path)
    expected = postprocessor.postprocess(vggish_embedder.embed(examples))
    got = records[video_id][3]
    assert got.shape == expected.shape
    assert np.max(np.abs(got.astype(int) - expected.astype(int))) <= 1  # Rounding boundary.
    assert np.mean(got == expected) > 0.99


def test_manifest_and_errors_account_for_every_input(corpus, embedded, capfd):
  root, good, bad, esc10, listing, _ = corpus
  prefix = embedded[1]
  manifest = pd.read_parquet(prefix + "-manifest.parquet").set_index("video_id")
  schema = pq.read_schema(prefix + "-manifest.parquet")
  label_type = schema.field("labels").type
  assert pa.types.is_list(label_type) and label_type.value_type == pa.int64()
  for relative, (seconds, rate, channels) in good.items():
    row = manifest.loc[relative]
    assert row["source"] == str(root / relative)
    assert (row["sample_rate"], row["channels"]) == (rate, channels)
    assert row["duration_seconds"] == pytest.approx(seconds, abs=1e-3)
    assert row["frames"] == soundfile.info(str(root / relative)).frames
  esc_row = manifest.loc[str(esc10[0])]
  assert (esc_row["sample_rate"], esc_row["channels"], esc_row["frames"]) == (44100, 1, 220500)
  errors = pq.read_table(prefix + "-errors.parquet").to_pandas().set_index("id")
  assert errors.loc["wav/mono_16k.wav", "error_type"] == "duplicate_input"
  for relative, kind in bad.items():
    if relative == "bad/truncated_header.wav":
      assert errors.loc[relative, "error_type"] in ("unreadable_audio", "truncated_audio")
    else:
      assert errors.loc[relative, "error_type"] == kind, relative
    assert relative.split("/")[-1] in errors.loc[relative, "message"]
  listed = [line for line in listing.read_text().splitlines() if line]
  assert len(manifest) + len(errors) == len(listed)
  assert not set(manifest.index) & set(errors.index) - {"wav/mono_16k.wav"}


def test_a_file_that_fails_after_some_blocks_is_an_error_and_its_neighbours_are_whole(
    tmp_path, vggish_checkpoint, pca_params_path, vggish_embedder):
  """A part's files are decoded a few blocks ahead of VGGish in a thread: a FLAC cut short
  fails after 20 of its examples were decoded and batched with its neighbours'; it
  becomes one error row, and the files before and after it in the same part get exactly
  the records they get embedded alone."""
  wave = (0.3 * np.sin(np.arange(16000 * 40) * 0.05)).astype(np.float32)
  soundfile.write(tmp_path / "whole.flac", wave, 16000)
  data = (tmp_path / "whole.flac").read_bytes()
  (tmp_path / "cut.flac").write_bytes(data[:int(len(data) * 0.6)])
  (tmp_path / "whole.flac").unlink()
  clips = [asset(f"audio/esc10/{name}") for name in ESC10_CLIPS]
  listing = tmp_path / "inputs.txt"
  listing.write_text("\n".join([str(clips[0]), str(tmp_path / "cut.flac"), str(clips[1]),
                                str(clips[2])]) + "\n")
  prefix = str(tmp_path / "out" / "e")
  status = cli.main(["embed", "--input", str(listing), "--output", prefix, "--read-block", "5",
                     "--vggish-checkpoint", str(vggish_checkpoint), "--pca-params",
                     str(pca_params_path), "--no-progress"])
  assert status == 0
  errors = pq.read_table(prefix + "-errors.parquet").to_pandas().set_index("input")
  assert list(errors.index) == [str(tmp_path / "cut.flac")]
  assert errors.iloc[0]["error_type"] == "unreadable_audio"
  assert "lost sync" in errors.iloc[0]["message"]
  records = _read_tfrecords(prefix)
  assert sorted(records) == sorted(str(clip) for clip in clips)
  postprocessor = postprocess.Postprocessor(pca_params_path)
  for clip in clips:
    alone = postprocessor.postprocess(vggish_embedder.embed(vggish_input.file_to_examples(
        str(clip))))
    np.testing.assert_array_equal(records[str(clip)][3], alone)
