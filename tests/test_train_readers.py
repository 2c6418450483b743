"""models/readers on real release records: numpy loader, tf.data pipeline, cache, split."""

import os

import numpy as np
import pytest

import support_train as S

from soundscope.configs import params as P
from soundscope.transforms import postprocess, records


def test_loaded_arrays_match_the_records_codec():
  from soundscope.models import readers
  data = S.load_slice(S.EVAL_SLICE)
  paths = readers.expand_glob(S.slice_glob(S.EVAL_SLICE))
  decoded = [records.decode(raw) for path in paths for raw in records.read_tfrecord_file(path)]
  assert len(decoded) == len(data.frames) > 50
  by_id = {record.video_id: record for record in decoded}
  for row, video_id in enumerate(data.video_ids):
    record = by_id[video_id]
    count = len(record.embedding)
    assert data.num_frames[row] == min(count, P.MAX_FRAMES)
    np.testing.assert_array_equal(data.frames[row, :count], record.embedding[:10])
    assert not data.frames[row, count:].any()
    assert set(np.flatnonzero(data.labels[row])) == set(record.labels)


def test_dequantized_inputs_are_youtube8m_values_and_zero_padding():
  from soundscope.models import readers
  data = S.load_slice(S.EVAL_SLICE)
  inputs = readers.dequantized_inputs(data)
  short = int(np.argmin(data.num_frames))
  assert data.num_frames[short] < P.MAX_FRAMES  # The slice has a short record.
  count = data.num_frames[short]
  np.testing.assert_array_equal(inputs["frames"][short, :count],
                                postprocess.dequantize(data.frames[short, :count]))
  assert not inputs["frames"][short, count:].any()
  # q * 4/255 + 4/512 - 2 at the extremes.
  assert postprocess.dequantize(np.uint8(0)) == pytest.approx(-2 + 4 / 512)
  assert postprocess.dequantize(np.uint8(255)) == pytest.approx(2 + 4 / 512)


def test_tf_data_pipeline_yields_the_same_batches_as_the_numpy_loader():
  from soundscope.models import readers
  pattern = S.slice_glob(S.EVAL_SLICE)
  data = S.load_slice(S.EVAL_SLICE)
  expected = readers.dequantized_inputs(data)
  frames, counts, labels = [], [], []
  dataset = readers.frame_dataset(pattern, batch_size=64)
  # No autotune thread: dropping an iterator would wait for it
  # (docs/experiments/training-notebook.md, seventh round).
  assert dataset.options().autotune.enabled is False
  for inputs, batch_labels in dataset.as_numpy_iterator():
    frames.append(inputs["frames"])
    counts.append(inputs["num_frames"])
    labels.append(batch_labels)
  np.testing.assert_array_equal(np.concatenate(frames), expected["frames"])
  np.testing.assert_array_equal(np.concatenate(counts), expected["num_frames"])
  np.testing.assert_array_equal(np.concatenate(labels), data.labels)


def test_cache_round_trip_and_rebuild_for_other_files(tmp_path):
  from soundscope.models import readers
  pattern = S.slice_glob(S.EVAL_SLICE)
  cache = str(tmp_path / "eval.npz")
  first = readers.load_cached(pattern, cache)
  again = readers.load_cached(pattern, cache)
  for left, right in zip(first, again):
    np.testing.assert_array_equal(left, right)
  other = readers.load_cached(S.slice_glob(S.TRAIN_SLICE), cache)  # Different file list.
  assert len(other.frames) == len(S.load_slice(S.TRAIN_SLICE).frames)


def test_cache_is_rebuilt_when_a_file_is_written_again(tmp_path):
  import glob
  import shutil
  import tensorflow as tf
  from soundscope.models import readers
  for path in sorted(glob.glob(S.slice_glob(S.EVAL_SLICE)))[:3]:
    shutil.copy(path, tmp_path)
  pattern, cache = str(tmp_path / "*.tfrecord"), str(tmp_path / "cache.npz")
  before = readers.load_cached(pattern, cache)
  # The same file names, new content (e.g. `soundscope embed` run again into the prefix).
  rewritten = sorted(glob.glob(pattern))[0]
  with tf.io.TFRecordWriter(rewritten) as writer:
    writer.write(records.serialize("new-clip", np.full((2, 128), 7, np.uint8), labels=[3]))
  after = readers.load_cached(pattern, cache)
  assert "new-clip" in list(after.video_ids) and "new-clip" not in list(before.video_ids)
  np.testing.assert_array_equal(after.frames, readers.load_records(pattern).frames)


def test_validation_split_is_seeded_and_disjoint():
  from soundscope.models import readers
  data = S.load_slice(S.TRAIN_SLICE)
  train, validation = readers.validation_split(data, 0.25, seed=3)
  train_again, validation_again = readers.validation_split(data, 0.25, seed=3)
  assert list(validation.video_ids) == list(validation_again.video_ids)
  assert not set(train.video_ids) & set(validation.video_ids)
  assert len(train.frames) + len(validation.frames) == len(data.frames)
  assert len(validation.frames) == round(0.25 * len(data.frames))


def test_training_fractions_are_seeded_nested_subsets_of_the_records():
  from soundscope.models import readers
  data = S.load_slice(S.TRAIN_SLICE)
  quarter = readers.nested_subset(data, 0.25, seed=1)
  half = readers.nested_subset(data, 0.5, seed=1)
  assert len(quarter.frames) == round(0.25 * len(data.frames))
  assert len(half.frames) == round(0.5 * len(data.frames))
  assert set(quarter.video_ids) < set(half.video_ids)
  assert list(readers.nested_subset(data, 0.25, seed=1).video_ids) == list(quarter.video_ids)
  assert set(readers.nested_subset(data, 0.25, seed=2).video_ids) != set(quarter.video_ids)
  rows = [list(data.video_ids).index(video_id) for video_id in quarter.video_ids]
  assert rows == sorted(rows)   # Kept in their original order, with their own rows.
  np.testing.assert_array_equal(quarter.frames, data.frames[rows])
  np.testing.assert_array_equal(quarter.labels, data.labels[rows])
  assert len(readers.nested_subset(data, 1.0).frames) == len(data.frames)
  for fraction in (0.0, 1.5):
    with pytest.raises(ValueError, match="training fraction"):
      readers.nested_subset(data, fraction)


def test_no_matching_files_is_a_clear_error(tmp_path):
  from soundscope.models import readers
  with pytest.raises(ValueError, match="no files match"):
    readers.load_records(str(tmp_path / "*.tfrecord"))


def test_wrong_feature_size_names_the_file(tmp_path):
  import tensorflow as tf
  from soundscope.models import readers
  path = tmp_path / "odd.tfrecord"
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(records.serialize("odd", np.zeros((3, 64), np.uint8), labels=[1]))
  with pytest.raises(ValueError, match="odd.tfrecord.*64 bytes, expected 128"):
    readers.load_records(str(path))


def _corpus_with_broken_files(folder):
  """Real release files plus three broken ones: {name: why it is broken}."""
  import glob
  import shutil
  import tensorflow as tf
  good = sorted(glob.glob(S.slice_glob(S.EVAL_SLICE)))[:6]
  for path in good:
    shutil.copy(path, folder)
  with open(good[0], "rb") as source:
    (folder / "truncated.tfrecord").write_bytes(source.read()[:3000])
  (folder / "text.tfrecord").write_text("video_id,start,end,labels\n")
  with tf.io.TFRecordWriter(str(folder / "odd.tfrecord")) as writer:
    writer.write(records.serialize("odd", np.zeros((3, 64), np.uint8), labels=[1]))
  with tf.io.TFRecordWriter(str(folder / "label.tfrecord")) as writer:   # A typo'd label.
    writer.write(records.serialize("typo", np.zeros((3, 128), np.uint8), labels=[0, 5277]))
  return good, {"truncated.tfrecord": "truncated record", "text.tfrecord": "corrupted record",
                "odd.tfrecord": "64 bytes, expected 128",
                "label.tfrecord": "record typo has label 5277, outside the 527 classes"}


def test_unreadable_files_are_left_out_and_named_with_their_reason(tmp_path):
  from soundscope.models import readers
  good, broken = _corpus_with_broken_files(tmp_path)
  data = readers.load_records(str(tmp_path / "*.tfrecord"))
  expected = readers.load_records(",".join(good))
  # Every record of the readable files, none of the broken ones (not even the
  # truncated file's first records), and each broken file named once.
  assert list(data.video_ids) == list(expected.video_ids)
  np.testing.assert_array_equal(data.frames, expected.frames)
  assert expected.unreadable == ()
  assert sorted(os.path.basename(path) for path, _ in data.unreadable) == sorted(broken)
  for path, reason in data.unreadable:
    assert broken[os.path.basename(path)] in reason
  # The cache keeps the list; a split keeps it on both sides.
  cached = readers.load_cached(str(tmp_path / "*.tfrecord"), str(tmp_path / "cache.npz"))
  again = readers.load_cached(str(tmp_path / "*.tfrecord"), str(tmp_path / "cache.npz"))
  assert again.unreadable == cached.unreadable == data.unreadable
  assert readers.validation_split(data, 0.25)[1].unreadable == data.unreadable


def test_train_and_evaluate_report_the_files_they_skipped(tmp_path, capsys):
  import json
  from soundscope.cli import main as cli
  corpus = tmp_path / "corpus"
  corpus.mkdir()
  good, broken = _corpus_with_broken_files(corpus)
  pattern = str(corpus / "*.tfrecord")
  assert cli.main(["train", "--train-data", pattern, "--train-dir", str(tmp_path / "run"),
                          "--num-epochs", "1", "--validation-fraction", "0", "--quiet",
                          "--eval-data", pattern]) == 0
  err = capsys.readouterr().err
  for name in broken:
    assert f"skipped {corpus / name}: " in err
  assert f"train files: {len(good) + 4} matched = {len(good)} read + 4 unreadable" in err
  with open(tmp_path / "run" / "training.json") as stream:
    summary = json.load(stream)
  from soundscope.models import readers
  assert summary["train_examples"] == len(readers.load_records(",".join(good)).labels)
  assert sorted(os.path.basename(item["path"]) for item in summary["unreadable_files"]) == \
      sorted(broken)
  assert len(summary["metrics"]["eval"]["unreadable_files"]) == 4
  assert cli.main(["evaluate", "--eval-data", pattern, "--model", str(tmp_path / "run"),
                          "--output-dir", str(tmp_path / "report")]) == 0
  with open(tmp_path / "report" / "summary.json") as stream:
    report = json.load(stream)
  assert report["num_examples"] == summary["train_examples"]
  assert {item["path"] for item in report["unreadable_files"]} == \
      {str(corpus / name) for name in broken}
  # Nothing readable at all is an error that names the files, not an empty run.
  assert cli.main(["train", "--train-data", str(corpus / "t*.tfrecord"),
                          "--train-dir", str(tmp_path / "none")]) == 2
  err = capsys.readouterr().err
  assert "could be read" in err and "truncated.tfrecord" in err


def test_streaming_reader_refuses_a_label_outside_the_classes(tmp_path):
  import tensorflow as tf
  from soundscope.models import readers
  path = tmp_path / "typo.tfrecord"
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(records.serialize("ok", np.zeros((2, 128), np.uint8), labels=[0, 526]))
    writer.write(records.serialize("typo", np.zeros((2, 128), np.uint8), labels=[5277]))
  batches = iter(readers.frame_dataset(str(path), batch_size=1))
  _, labels = next(batches)
  assert labels.numpy()[0, [0, 526]].tolist() == [1.0, 1.0] and labels.numpy().sum() == 2
  with pytest.raises(tf.errors.InvalidArgumentError, match="label outside the 527 classes"):
    next(batches)
