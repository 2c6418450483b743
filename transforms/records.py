"""AudioSet release records: tf.train.SequenceExample encode and decode.

The release schema (AudioSet v1 embeddings, YouTube-8M frame format):
  context:
    video_id            bytes_list[1]   YouTube id, or our stable id for local files
    start_time_seconds  float_list[1]   segment start within the source, seconds
    end_time_seconds    float_list[1]   segment end, seconds
    labels              int64_list[k]   class indices (class_labels_indices.csv)
  feature_lists:
    audio_embedding     one feature per 0.96 s frame: bytes_list[1] of 128 uint8

Uses wire-identical message classes from transforms.example_proto, so encoding
and decoding never import TensorFlow (tests cross-check with tf.train).
"""

import collections

import numpy as np
from soundscope.configs import params as P
from soundscope.transforms import example_proto

AudioSetRecord = collections.namedtuple(
    "AudioSetRecord", ["video_id", "start_time_seconds", "end_time_seconds", "labels",
                       "embedding"])
AudioSetRecord.__doc__ = """One decoded record.

  video_id: str.
  start_time_seconds, end_time_seconds: float.
  labels: tuple of int class indices.
  embedding: uint8 [frames, 128].
"""


def encode(video_id, embedding, start_time_seconds=0.0, end_time_seconds=None, labels=()):
  """Builds a SequenceExample in the release schema.

  Args:
    video_id: str id.
    embedding: uint8 [frames, 128] quantized embeddings.
    start_time_seconds, end_time_seconds: segment bounds, seconds (end defaults
      to start + 0.96 * frames).
    labels: iterable of int class indices.

  Returns:
    SequenceExample message (wire-compatible with tf.train.SequenceExample).
  """
  embedding = np.asarray(embedding)
  if embedding.dtype != np.uint8 or embedding.ndim != 2:
    raise ValueError(f"embedding must be uint8 [frames, dim], got {embedding.dtype} "
                     f"{embedding.shape}")
  if end_time_seconds is None:
    end_time_seconds = start_time_seconds + P.EXAMPLE_HOP_SECONDS * embedding.shape[0]
  example = example_proto.SequenceExample()
  context = example.context.feature
  context[P.VIDEO_ID_FEATURE].bytes_list.value.append(video_id.encode("utf-8"))
  context[P.START_TIME_FEATURE].float_list.value.append(float(start_time_seconds))
  context[P.END_TIME_FEATURE].float_list.value.append(float(end_time_seconds))
  context[P.LABELS_FEATURE].int64_list.value.extend(int(label) for label in labels)
  frames = example.feature_lists.feature_list[P.AUDIO_EMBEDDING_FEATURE].feature
  for row in embedding:
    frames.add().bytes_list.value.append(row.tobytes())
  return example


def serialize(video_id, embedding, start_time_seconds=0.0, end_time_seconds=None, labels=()):
  """encode() then SerializeToString(): the bytes of one TFRecord entry."""
  return encode(video_id, embedding, start_time_seconds, end_time_seconds,
                labels).SerializeToString()


def decode(serialized, feature_name=P.AUDIO_EMBEDDING_FEATURE):
  """Parses one serialized SequenceExample of the release schema.

  Args:
    serialized: bytes.
    feature_name: the frame feature list to read.

  Returns:
    AudioSetRecord (embedding uint8 [frames, dim]; [0, 128] if the list is empty).

  Raises:
    ValueError: when the bytes are not a SequenceExample of this schema.
  """
  example = example_proto.SequenceExample()
  try:
    example.ParseFromString(serialized)
  except Exception as exc:  # protobuf raises DecodeError, a private subclass.
    raise ValueError(f"not a SequenceExample: {exc}") from None
  return from_proto(example, feature_name)


def from_proto(example, feature_name=P.AUDIO_EMBEDDING_FEATURE):
  """AudioSetRecord of a parsed SequenceExample message."""
  context = example.context.feature
  ids = context[P.VIDEO_ID_FEATURE].bytes_list.value if P.VIDEO_ID_FEATURE in context else ()
  if not ids:
    raise ValueError("record has no video_id")
  try:
    video_id = ids[0].decode("utf-8")
  except UnicodeDecodeError:
    raise ValueError(f"record's video_id {ids[0][:40]!r} is not UTF-8 text") from None
  start = _first_float(context, P.START_TIME_FEATURE)
  end = _first_float(context, P.END_TIME_FEATURE)
  labels = tuple(context[P.LABELS_FEATURE].int64_list.value) if P.LABELS_FEATURE in context else ()
  rows = []
  for index, feature in enumerate(example.feature_lists.feature_list[feature_name].feature):
    if len(feature.bytes_list.value) != 1:
      raise ValueError(f"frame {index} of {feature_name!r} holds "
                       f"{len(feature.bytes_list.value)} byte strings, not 1")
    rows.append(feature.bytes_list.value[0])
  sizes = sorted({len(row) for row in rows})
  if len(sizes) > 1 or sizes == [0]:
    raise ValueError(f"frames of {feature_name!r} are {sizes} bytes long, not one size above 0")
  if rows:
    embedding = np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), -1)
  else:
    embedding = np.zeros((0, P.EMBEDDING_SIZE), np.uint8)
  return AudioSetRecord(video_id, start, end, labels, embedding)


def _first_float(context, key):
  if key not in context or not context[key].float_list.value:
    return float("nan")
  return float(context[key].float_list.value[0])


def to_proto(record):
  """SequenceExample message of an AudioSetRecord (inverse of from_proto)."""
  return encode(record.video_id, record.embedding, record.start_time_seconds,
                record.end_time_seconds, record.labels)


def read_tfrecord_file(path):
  """Yields the raw serialized records of one TFRecord file (uncompressed).

  Uses tf.data, the reference reader; importing TensorFlow ops happens here.
  """
  import tensorflow as tf
  for serialized in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
    yield serialized
