"""Readers of AudioSet release-format records for training and evaluation.

YouTube-8M's readers (readers.py, YT8MFrameFeatureReader) turn each
SequenceExample into (dequantized frames padded or cut to `max_frames`, the
number of real frames, a multi-hot label vector).  This module does the same
in two interchangeable ways:

  * `load_records(glob)` decodes every record with transforms.records (no
    TensorFlow) into a `FrameData` of numpy arrays: AudioSet's embeddings are
    tiny (22k balanced-train segments of at most 10 frames), so training reads
    them once, optionally caching the arrays in an .npz file.
  * `frame_dataset(glob)` is the streaming tf.data pipeline for sets that do
    not fit in memory; it yields the same tensors.

Frames stay uint8 in memory; `dequantize` (transforms.postprocess, YouTube-8M's
q * 4/255 + 4/512 - 2) is applied when a batch is built, so padding rows are
exact zeros after dequantization, as YouTube-8M's resize_axis pads with 0.
"""

import collections
import glob as globlib
import os
import re
import sys

import numpy as np

from soundscope.configs import params as P
from soundscope.transforms import postprocess, records
from soundscope.util import atomic

PROGRESS_SECONDS = 0.5   # Least time between two redraws of the reading progress bar.


FrameData = collections.namedtuple(
    "FrameData", ["video_ids", "frames", "num_frames", "labels", "unreadable"],
    defaults=((),))
FrameData.__doc__ = """Decoded records as arrays.

  video_ids: str [n] (object array).
  frames: uint8 [n, max_frames, feature_size], zero bytes after num_frames.
  num_frames: int32 [n], real frames per record (<= max_frames).
  labels: float32 [n, num_classes] multi-hot.
  unreadable: ((path, reason), ...) files that could not be read; none of
    their records is in the arrays.
"""


def expand_glob(pattern):
  """Sorted files of a glob or comma-separated globs; ValueError when none match."""
  paths = []
  for part in str(pattern).split(","):
    part = part.strip()
    if part:
      paths += sorted(globlib.glob(os.path.expanduser(part)))
  if not paths:
    raise ValueError(f"no files match {pattern!r}")
  return paths


def multi_hot(labels, num_classes):
  """float32 [num_classes] with 1 at each index of `labels` (each in [0, num_classes))."""
  vector = np.zeros(num_classes, np.float32)
  vector[[int(i) for i in labels]] = 1.0
  return vector


def pad_frames(embedding, max_frames):
  """uint8 [frames, d] -> (uint8 [max_frames, d] zero-padded or cut, real frame count)."""
  count = min(len(embedding), max_frames)
  padded = np.zeros((max_frames, embedding.shape[1]), np.uint8)
  padded[:count] = embedding[:count]
  return padded, count


def load_records(pattern, num_classes=P.NUM_AUDIOSET_CLASSES, max_frames=P.MAX_FRAMES,
                 feature_name=P.AUDIO_EMBEDDING_FEATURE, feature_size=P.EMBEDDING_SIZE,
                 progress=False):
  """Decodes every record of the matching TFRecord files into arrays.

  A file that cannot be read whole (broken TFRecord framing, a record that is
  not a SequenceExample of the release schema, frames of another size) is
  left out and listed in FrameData.unreadable with its reason, so one bad file
  does not stop a run.

  Args:
    pattern: glob (or comma-separated globs) of release-format TFRecord files.
    num_classes: length of the multi-hot label vectors.
    max_frames: frames kept per record (longer records are cut).
    feature_name: the frame feature list to read.
    feature_size: expected bytes per frame.
    progress: print a count, rate and time left to stderr.

  Returns:
    FrameData.

  Raises:
    ValueError: no file matches, or no file could be read (the first reasons named).
  """
  import tqdm
  paths = expand_glob(pattern)
  ids, frames, counts, labels, unreadable = [], [], [], [], []
  bar = tqdm.tqdm(total=len(paths), desc="read", unit=" files", file=sys.stderr,
                  disable=not progress, mininterval=PROGRESS_SECONDS, leave=True)
  for path, serialized_records, error in _records_by_file(paths):
    decoded = []
    if error is None:
      try:
        decoded = [_decode_record(serialized, feature_name, feature_size, max_frames,
                                  num_classes) for serialized in serialized_records]
      except ValueError as exc:
        error = str(exc)
    if error is not None:
      unreadable.append((path, error))
    else:
      for video_id, padded, count, label_vector in decoded:
        ids.append(video_id)
        frames.append(padded)
        counts.append(count)
        labels.append(label_vector)
    bar.update(1)
    bar.set_postfix_str(f"{len(ids)} records", refresh=False)
  bar.close()
  if len(unreadable) == len(paths):
    raise ValueError(f"no file of {pattern!r} could be read: "
                     + "; ".join(f"{path}: {reason}" for path, reason in unreadable[:3]))
  return FrameData(np.array(ids, dtype=object),
                   np.stack(frames) if frames else np.zeros((0, max_frames, feature_size),
                                                             np.uint8),
                   np.array(counts, np.int32),
                   np.stack(labels) if labels else np.zeros((0, num_classes), np.float32),
                   tuple(unreadable))


def _decode_record(serialized, feature_name, feature_size, max_frames, num_classes):
  """(video id, uint8 [max_frames, d] frames, frame count, multi-hot labels) of one record.

  Raises:
    ValueError: not a release-format record, frames of another size, or a label
      outside [0, num_classes).
  """
  record = records.decode(serialized, feature_name)
  if record.embedding.shape[0] and record.embedding.shape[1] != feature_size:
    raise ValueError(f"record {record.video_id} has {feature_name} frames of "
                     f"{record.embedding.shape[1]} bytes, expected {feature_size}")
  outside = [label for label in record.labels if not 0 <= label < num_classes]
  if outside:   # Dropping it would train on a wrong target without a word.
    raise ValueError(f"record {record.video_id} has label {outside[0]}, outside the "
                     f"{num_classes} classes (--num-classes)")
  padded, count = pad_frames(record.embedding.reshape(-1, feature_size), max_frames)
  return record.video_id, padded, count, multi_hot(record.labels, num_classes)


def _records_by_file(paths, files_per_read=256):
  """Yields (path, [serialized records], error message or None) per file.

  One TFRecordDataset per file costs ~50 ms of setup; AudioSet ships ~5 records
  per file, so files are read in groups with their records tagged by file.  A
  group that fails is read again file by file, to name the broken file.
  """
  import tensorflow as tf
  for first in range(0, len(paths), files_per_read):
    group = paths[first:first + files_per_read]
    dataset = tf.data.Dataset.from_tensor_slices(tf.range(len(group), dtype=tf.int64))
    dataset = dataset.flat_map(lambda index: tf.data.TFRecordDataset(
        tf.gather(tf.constant(group), index)).map(lambda record: (index, record)))
    by_file = [[] for _ in group]
    try:
      for index, serialized in dataset.as_numpy_iterator():
        by_file[index].append(serialized)
    except tf.errors.OpError:
      for path in group:
        yield (path, *_read_one_file(path))
    else:
      yield from ((path, file_records, None) for path, file_records in zip(group, by_file))


def _read_one_file(path):
  """([serialized records], None) of one TFRecord file, or ([], error message)."""
  import tensorflow as tf
  try:
    return [record.numpy() for record in tf.data.TFRecordDataset(path)], None
  except tf.errors.OpError as error:
    # TensorFlow wraps the reason ("truncated record at 1526", "corrupted record
    # at 0") in the names of the op and function that met it.
    reason = re.sub(r"\{\{function_node [^}]*\}\}|\[Op:.*$", "", error.message).strip()
    return [], f"not a readable TFRecord file: {reason}"


def load_cached(pattern, cache_path=None, **kwargs):
  """load_records, reading from / writing to an .npz cache when `cache_path` is given.

  The cache stores the file list with each file's size and modification time,
  so a cache made from other files, or from files written again since, is rebuilt.
  """
  paths = expand_glob(pattern)
  stamps = file_stamps(paths)
  if cache_path and os.path.exists(cache_path):
    data = _read_cache(cache_path, paths, stamps, kwargs)
    if data is not None:
      return data
  data = load_records(pattern, **kwargs)
  if cache_path:
    os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
    with atomic.replacing(cache_path, suffix=".part.npz") as temporary:  # numpy wants .npz.
      np.savez(temporary, paths=np.array(paths), stamps=stamps, video_ids=data.video_ids,
               frames=data.frames, num_frames=data.num_frames, labels=data.labels,
               unreadable=np.array(data.unreadable, dtype=object).reshape(-1, 2))
  return data


def _read_cache(cache_path, paths, stamps, kwargs):
  """FrameData of an .npz cache made from `paths` as they are now, else None.

  A cache of other files, of files written since, of other shapes, or one
  that cannot be read (truncated, corrupt) is None: load_cached rebuilds it.
  """
  import zipfile
  try:
    with np.load(cache_path, allow_pickle=True) as cached:
      if list(cached["paths"]) == paths and "stamps" in cached and np.array_equal(
          cached["stamps"], stamps) and all(
          cached[key].shape[1:] == expected for key, expected in (
              ("frames", (kwargs.get("max_frames", P.MAX_FRAMES),
                          kwargs.get("feature_size", P.EMBEDDING_SIZE))),
              ("labels", (kwargs.get("num_classes", P.NUM_AUDIOSET_CLASSES),)))):
        return FrameData(cached["video_ids"], cached["frames"], cached["num_frames"],
                         cached["labels"], tuple(map(tuple, cached["unreadable"].tolist()))
                         if "unreadable" in cached else ())
  except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError,
          zipfile.BadZipFile) as exc:
    print(f"{cache_path}: unreadable cache ({type(exc).__name__}), rebuilding it",
          file=sys.stderr)
  return None


def file_stamps(paths):
  """int64 [n, 2]: each file's size in bytes and modification time in ns."""
  stats = [os.stat(path) for path in paths]
  return np.array([(st.st_size, st.st_mtime_ns) for st in stats], np.int64).reshape(-1, 2)


def unreadable_report(*datasets):
  """[{"path", "reason"}] of the files left out of any of `datasets` (FrameData), once each."""
  seen = dict.fromkeys(item for data in datasets for item in data.unreadable)
  return [{"path": path, "reason": reason} for path, reason in seen]


def subset(data, indices):
  """FrameData of the rows `indices`."""
  return FrameData(*(array[indices] for array in data[:4]), data.unreadable)


def validation_split(data, fraction, seed=0):
  """Splits FrameData into (train, validation) with `fraction` of records held out.

  The split is a seeded permutation, so every run and every model sees the same
  validation records.
  """
  if not 0.0 < fraction < 1.0:
    raise ValueError(f"validation fraction must be in (0, 1), not {fraction}")
  order = np.random.default_rng(seed).permutation(len(data.frames))
  held = int(round(fraction * len(order)))
  return subset(data, np.sort(order[held:])), subset(data, np.sort(order[:held]))


def nested_subset(data, fraction, seed=0):
  """FrameData of the first round(fraction * n) records in a seeded order.

  The order depends on the seed and n only, so for one seed a smaller fraction's
  records are a subset of a larger one's (learning curves compare nested sets).
  The kept records stay in their original order.
  """
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"training fraction must be in (0, 1], not {fraction}")
  order = np.random.default_rng(seed).permutation(len(data.frames))
  return subset(data, np.sort(order[:max(1, int(round(fraction * len(order))))]))


def dequantized_inputs(data):
  """Model inputs of FrameData: dict of float32 frames [n, max_frames, d] and num_frames [n].

  Rows past num_frames are zeros, as YouTube-8M pads after dequantizing.
  """
  frames = postprocess.dequantize(data.frames)
  mask = np.arange(frames.shape[1])[None, :] < data.num_frames[:, None]
  frames *= mask[:, :, None]
  return {"frames": frames, "num_frames": data.num_frames.astype(np.int32)}


def dequantize_tensor(quantized):
  """transforms.postprocess.dequantize in TensorFlow: uint8 tensor -> float32, the same values."""
  import tensorflow as tf
  value_range = P.QUANTIZE_MAX_VAL - P.QUANTIZE_MIN_VAL
  return (tf.cast(quantized, tf.float32) * np.float32(value_range / 255.0)
          + np.float32(value_range / 512.0 + P.QUANTIZE_MIN_VAL))


def dequantized_batch(frames, num_frames):
  """dequantized_inputs in TensorFlow: uint8 [b, F, D] + int32 counts [b] -> float32 [b, F, D].

  Rows past num_frames become exact zeros, as YouTube-8M pads after dequantizing.
  """
  import tensorflow as tf
  mask = tf.sequence_mask(num_frames, maxlen=tf.shape(frames)[1], dtype=tf.float32)
  return dequantize_tensor(frames) * mask[:, :, None]


def frame_dataset(pattern, num_classes=P.NUM_AUDIOSET_CLASSES, max_frames=P.MAX_FRAMES,
                  feature_name=P.AUDIO_EMBEDDING_FEATURE, feature_size=P.EMBEDDING_SIZE,
                  batch_size=512, shuffle_buffer=0, seed=0):
  """Streaming tf.data pipeline over release-format records (YT8MFrameFeatureReader).

  Args:
    pattern: glob (or comma-separated globs) of TFRecord files.
    num_classes, max_frames, feature_name, feature_size: as in load_records.
    batch_size: records per batch.
    shuffle_buffer: records to shuffle over (0: keep file order).
    seed: shuffle seed.

  Returns:
    tf.data.Dataset of ({"frames": float32 [b, max_frames, d], "num_frames": int32 [b]},
    labels float32 [b, num_classes]).
  """
  import tensorflow as tf
  dataset = tf.data.TFRecordDataset(expand_glob(pattern))
  if shuffle_buffer:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

  def parse(serialized):
    context, sequence = tf.io.parse_single_sequence_example(
        serialized,
        context_features={P.LABELS_FEATURE: tf.io.VarLenFeature(tf.int64)},
        sequence_features={feature_name: tf.io.FixedLenSequenceFeature([], tf.string)})
    raw = tf.reshape(tf.io.decode_raw(sequence[feature_name], tf.uint8), [-1, feature_size])
    raw = raw[:max_frames]
    count = tf.shape(raw)[0]
    frames = tf.pad(dequantize_tensor(raw), [[0, max_frames - count], [0, 0]])
    frames.set_shape([max_frames, feature_size])
    label_ids = context[P.LABELS_FEATURE].values
    # As load_records: a label outside the classes is an error, never dropped quietly.
    check = tf.debugging.assert_less(
        label_ids, tf.constant(num_classes, tf.int64),
        message=f"a record has a label outside the {num_classes} classes (--num-classes)")
    with tf.control_dependencies([check, tf.debugging.assert_non_negative(label_ids)]):
      labels = tf.reduce_max(tf.one_hot(label_ids, num_classes), axis=0)
    labels = tf.reshape(tf.maximum(labels, tf.zeros([num_classes])), [num_classes])
    return {"frames": frames, "num_frames": tf.cast(count, tf.int32)}, labels

  parsed = dataset.map(parse, num_parallel_calls=os.cpu_count() or 1)
  return without_autotune(parsed.batch(batch_size).prefetch(2))


def without_autotune(dataset):
  """`dataset` with tf.data's autotuning off (its parallelism and buffers as given).

  Dropping an iterator waits for the iterator's autotune thread, which sleeps
  up to a minute between its runs; Keras drops one every epoch, and that
  stalled training by ~36 s every other epoch (docs/experiments/training-notebook.md,
  seventh round).
  """
  import tensorflow as tf
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options)
