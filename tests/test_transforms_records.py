"""AudioSet release records: every real record decodes and re-encodes to the same message."""

import glob

import numpy as np
import pytest

from conftest import asset
from soundscope.transforms import records


def _real_record_files():
  files = []
  for split in ("bal_train", "eval"):
    files += sorted(glob.glob(str(asset(f"audioset/{split}")) + "/*.tfrecord"))
  return files


@pytest.mark.slow
def test_every_real_record_decodes_and_reencodes_identically():
  import tensorflow as tf
  files = _real_record_files()
  assert len(files) == 4070 + 4062
  count = 0
  for serialized in tf.data.TFRecordDataset(files, num_parallel_reads=4).as_numpy_iterator():
    record = records.decode(serialized)
    assert record.embedding.dtype == np.uint8 and record.embedding.shape[1] == 128
    assert 0 < record.embedding.shape[0] <= 10
    assert record.labels and all(0 <= label < 527 for label in record.labels)
    original = tf.train.SequenceExample.FromString(serialized)
    reencoded = tf.train.SequenceExample.FromString(records.to_proto(record).SerializeToString())
    assert reencoded == original   # Protobuf equality: every field, maps in any order.
    count += 1
  assert count == 22160 + 20371


def test_serialized_records_parse_with_tensorflow():
  import tensorflow as tf
  embedding = np.arange(3 * 128, dtype=np.int64).reshape(3, 128).astype(np.uint8)
  serialized = records.serialize("clip/one.wav", embedding, 1.5, 4.38, labels=[0, 137, 526])
  context, sequence = tf.io.parse_single_sequence_example(
      serialized,
      context_features={
          "video_id": tf.io.FixedLenFeature([], tf.string),
          "start_time_seconds": tf.io.FixedLenFeature([], tf.float32),
          "end_time_seconds": tf.io.FixedLenFeature([], tf.float32),
          "labels": tf.io.VarLenFeature(tf.int64)},
      sequence_features={"audio_embedding": tf.io.FixedLenSequenceFeature([], tf.string)})
  assert context["video_id"].numpy() == b"clip/one.wav"
  assert context["start_time_seconds"].numpy() == pytest.approx(1.5)
  assert context["end_time_seconds"].numpy() == pytest.approx(4.38)
  assert list(tf.sparse.to_dense(context["labels"]).numpy()) == [0, 137, 526]
  frames = tf.io.decode_raw(sequence["audio_embedding"], tf.uint8).numpy()
  np.testing.assert_array_equal(frames, embedding)


def test_decode_rejects_garbage():
  with pytest.raises(ValueError):
    records.decode(b"\xff\xff\xff not a protobuf")


def _malformed(case):
  """A serialized release record broken in one way."""
  example = records.encode("clip", np.ones((3, 128), np.uint8), 0.0, 2.88, labels=[1])
  frames = example.feature_lists.feature_list["audio_embedding"].feature
  if case == "empty video_id":
    del example.context.feature["video_id"].bytes_list.value[:]
  elif case == "binary video_id":
    example.context.feature["video_id"].bytes_list.value[0] = b"\xff\xfe"
  elif case == "frame without bytes":
    del frames[1].bytes_list.value[:]
  elif case == "frame with two byte strings":
    frames[1].bytes_list.value.append(b"x" * 128)
  elif case == "frames of two sizes":
    frames[2].bytes_list.value[0] = b"x" * 64
  elif case == "empty frames":
    for frame in frames:
      frame.bytes_list.value[0] = b""
  return example.SerializeToString()


@pytest.mark.parametrize("case,message", [
    ("empty video_id", "record has no video_id"),
    ("binary video_id", "video_id b'\\xff\\xfe' is not UTF-8 text"),
    ("frame without bytes", "frame 1 of 'audio_embedding' holds 0 byte strings, not 1"),
    ("frame with two byte strings", "frame 1 of 'audio_embedding' holds 2 byte strings, not 1"),
    ("frames of two sizes", "frames of 'audio_embedding' are [64, 128] bytes long"),
    ("empty frames", "frames of 'audio_embedding' are [0] bytes long"),
])
def test_malformed_records_are_value_errors_that_say_what_is_wrong(case, message):
  with pytest.raises(ValueError) as error:
    records.decode(_malformed(case))
  assert message in str(error.value)


def test_encode_requires_uint8_frames():
  with pytest.raises(ValueError, match="uint8"):
    records.serialize("x", np.zeros((2, 128), np.float32))
