"""`soundscope predict` on real files, with a small real classifier built for the tests.

Outputs are read back with pyarrow and pandas; TFRecord inputs are the real
AudioSet eval records, cross-read with tf.data / tf.train.SequenceExample.
"""

import glob
import os
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from soundscope.cli import main as cli
import support_pipelines as support
from conftest import asset
from soundscope.models import classifier as classifier_lib
from soundscope.transforms import audio

FACTORY = "support_pipelines:make_tiny_classifier"
# Small read and score blocks, so that a 40 s file is decoded in 20 blocks and
# scored in ~14 pieces (the defaults are 20 s and 60 s).
SMALL_BLOCKS = ("--read-block", "2", "--score-block", "3")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  root = tmp_path_factory.mktemp("predict_corpus")
  good = support.write_good_corpus(str(root))
  bad = support.write_bad_files(str(root))
  return root, good, bad


def _predict(capsys, *args):
  status = cli.main(["predict", "--model-factory", FACTORY, "--no-progress", *args])
  out = capsys.readouterr().out
  return status, out


def test_audio_predictions_match_the_classifier_and_every_file_is_accounted(corpus, tmp_path,
                                                                             capsys):
  root, good, bad = corpus
  output = tmp_path / "preds.parquet"
  status, out = _predict(capsys, "--input", str(root / "**" / "*"), "--output", str(output),
                         "--top-k", "2", "--scores")
  assert status == 0, out
  assert "files: 12 in = 8 written + 4 errors (all accounted for)" in out
  table = pq.read_table(output)
  prediction = pa.struct([("label", pa.string()), ("index", pa.int32()),
                          ("score", pa.float32())])
  assert table.schema.field("predictions").type == pa.list_(prediction)
  assert table.schema.field("scores").type == pa.list_(pa.float32())
  assert table.schema.field("run_time").type == pa.timestamp("us", tz="UTC")
  rows = table.to_pandas().set_index("id")
  assert set(rows.index) == set(good) | {"bad/silence.wav", "bad/short_0.2s.wav"}
  assert rows["run_time"].nunique() == 1 and set(rows["model"]) == {"tiny"}
  classifier = support.TinyClassifier()
  for relative, (seconds, _, _) in good.items():
    row = rows.loc[relative]
    wave = audio.load_mono(str(root / relative))
    expected = classifier.clip_scores(wave)
    np.testing.assert_allclose(np.asarray(row["scores"]), expected, rtol=1e-5)
    best = np.argsort(-expected)[:2]
    assert [p["index"] for p in row["predictions"]] == list(best)
    assert [p["label"] for p in row["predictions"]] == [support.LABELS[i] for i in best]
    assert row["start_seconds"] == 0.0
    assert row["end_seconds"] == pytest.approx(seconds, abs=1e-3)
  errors = pd.read_parquet(tmp_path / "preds-errors.parquet").set_index("id")
  assert set(errors.index) == {"bad/zero_bytes.wav", "bad/text.wav", "bad/truncated_header.wav",
                               "bad/x.wav"}
  assert errors.loc["bad/zero_bytes.wav", "error_type"] == "empty_file"
  assert errors.loc["bad/x.wav", "error_type"] == "not_a_file"
  assert errors.loc["bad/truncated_header.wav", "error_type"] in ("unreadable_audio",
                                                                  "truncated_audio")
  assert "truncated_header.wav" in errors.loc["bad/truncated_header.wav", "message"]
  assert set(errors["stage"]) == {"read"}


def test_per_window_rows_threshold_and_short_clip_error_policy(corpus, tmp_path, capsys):
  root, good, _ = corpus
  output = tmp_path / "windows.parquet"
  status, out = _predict(capsys, "--input", str(root / "**" / "*.wav"), "--output", str(output),
                         "--per-window", "--threshold", "0.5", "--short-clips", "error",
                         "--errors-format", "jsonl")
  assert status == 0, out
  rows = pd.read_parquet(output)
  assert "scores" not in rows.columns
  long_rows = rows[rows["id"] == "long/mono_11k_30s.wav"].sort_values("start_seconds")
  windows = support.TinyClassifier().window_scores(audio.load_mono(
      str(root / "long/mono_11k_30s.wav")))
  assert len(long_rows) == len(windows.starts) == 31
  np.testing.assert_allclose(long_rows["start_seconds"], windows.starts)
  for top, scores in zip(long_rows["predictions"], windows.scores):
    assert [p["index"] for p in top] == [i for i in np.argsort(-scores)[:3] if scores[i] >= 0.5]
    assert all(p["score"] >= 0.5 for p in top)
  errors = pd.read_json(tmp_path / "windows-errors.jsonl", lines=True).set_index("id")
  assert errors.loc["bad/short_0.2s.wav", "error_type"] == "clip_too_short"


def _write_sweep(path, seconds, rate=44100):
  """A stereo sweep whose level and pitch change along the file (windows all differ)."""
  import soundfile
  t = np.arange(int(seconds * rate)) / rate
  level = 0.05 + 0.45 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 7.3))
  left = level * np.sin(2 * np.pi * (200 + 40 * t) * t)
  noise = 0.02 * np.random.default_rng(5).standard_normal(len(t))
  wave = np.stack([left + noise, 0.5 * left - noise], axis=1)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  soundfile.write(path, wave.astype(np.float32), rate, subtype="PCM_16")


@pytest.mark.slow
def test_long_audio_is_scored_in_pieces_with_the_whole_file_numbers(tmp_path, capsys):
  path = str(tmp_path / "long" / "sweep_44k_40s.wav")
  _write_sweep(path, 40.0)
  bounded = "support_pipelines:make_bounded_classifier"  # Refuses clips over 8 s.

  def predict(name, *args, expected_status=0):
    output = tmp_path / name
    status = cli.main(["predict", "--model-factory", bounded, "--no-progress",
                              "--input", path, "--output", str(output), "--scores", *args])
    captured = capsys.readouterr()
    assert status == expected_status, captured.out
    # --no-progress: no progress line at all; a failed run says so in one line.
    said = [line for line in captured.err.splitlines() if line.startswith("predict: ")]
    if expected_status == 0:
      assert not said, captured.err
    else:
      assert len(said) == 1 and said[0].startswith("predict: 1 of 1 files failed"), captured.err
    return captured.out, output

  # Whole-file numbers: the decoded clip (float32, as predict always gave it) scored at once.
  whole = support.TinyClassifier().window_scores(audio.load_mono(path).astype(np.float32))
  assert len(whole.starts) == 41
  _, windows_path = predict("windows.parquet", "--per-window", *SMALL_BLOCKS)
  windows = pd.read_parquet(windows_path).sort_values("start_seconds")
  assert len(windows) == 41
  np.testing.assert_allclose(windows["start_seconds"], whole.starts, rtol=0, atol=1e-9)
  np.testing.assert_allclose(windows["end_seconds"], whole.ends, rtol=0, atol=1e-9)
  np.testing.assert_array_equal(np.stack(windows["scores"]), whole.scores)
  for top, scores in zip(windows["predictions"], whole.scores):
    assert [p["index"] for p in top] == list(np.argsort(-scores, kind="stable")[:3])
  _, file_path = predict("file.parquet", *SMALL_BLOCKS)
  (row,) = pd.read_parquet(file_path).to_dict("records")
  assert (row["start_seconds"], row["end_seconds"]) == (0.0, 40.0)
  np.testing.assert_array_equal(row["scores"], classifier_lib.aggregate(whole.scores, "mean"))
  # The same model given the whole file refuses it: the rows above came from pieces.
  # Its only input failed: a failed run (exit 1), its error row written.
  out, _ = predict("refused.parquet", "--score-block", "100", expected_status=1)
  assert "files: 1 in = 0 written + 1 errors (all accounted for)" in out
  errors = pd.read_parquet(tmp_path / "refused-errors.parquet")
  assert list(errors["stage"]) == ["inference"] and "over 8.0 s" in errors["message"][0]


@pytest.mark.slow
def test_a_vggish_head_scores_long_audio_in_pieces_as_the_whole_file(
    tmp_path, capsys, vggish_checkpoint, pca_params_path):
  import support_train
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  store_root = tmp_path / "store"
  (store_root / "vggish").mkdir(parents=True)
  os.symlink(os.path.abspath(vggish_checkpoint), store_root / "vggish" / "vggish_model.ckpt")
  os.symlink(os.path.abspath(pca_params_path), store_root / "vggish" / "vggish_pca_params.npz")
  heads.export_head(frame_models.build("AttentionPoolingModel", 527, hidden_units=16),
                    store_root / "head", support_train.class_labels_csv())
  path = str(tmp_path / "sweep_44k_30s.wav")
  _write_sweep(path, 30.0)
  output = tmp_path / "head.parquet"
  # Pieces of one head window (10 VGGish examples, 9.6 s): 3 pieces of 30 s.
  status = cli.main(["predict", "--input", path, "--output", str(output), "--model",
                            "head", "--model-dir", str(store_root), "--per-window", "--scores",
                            "--no-progress", "--read-block", "2", "--score-block", "9.6"])
  assert status == 0, capsys.readouterr().out
  head = heads.load_head_classifier(store_root / "head", store_root)
  wave = audio.load_mono(path).astype(np.float32)
  whole = head.window_scores(wave)
  assert len(list(head.stream_window_scores([wave], 9.6))) == 3  # What the pipeline did.
  rows = pd.read_parquet(output).sort_values("start_seconds")
  assert len(rows) == len(whole.starts) == 4  # 31 examples: 10 + 10 + 10 + 1.
  np.testing.assert_allclose(rows["start_seconds"], whole.starts, rtol=0, atol=1e-9)
  np.testing.assert_allclose(rows["end_seconds"], whole.ends, rtol=0, atol=1e-9)
  np.testing.assert_allclose(np.stack(rows["scores"]), whole.scores, rtol=1e-5, atol=1e-6)


def test_running_aggregate_equals_pooling_every_window_at_once():
  rng = np.random.default_rng(3)
  scores = rng.random((1001, 521), dtype=np.float32)
  for aggregation in classifier_lib.AGGREGATIONS:
    running = classifier_lib.RunningAggregate(aggregation)
    for start, stop in ((0, 1), (1, 130), (130, 131), (131, 1001)):
      running.add(scores[start:stop])
    assert running.count == 1001
    np.testing.assert_array_equal(running.result(),
                                  classifier_lib.aggregate(scores, aggregation))
  with pytest.raises(ValueError, match="no windows"):
    classifier_lib.RunningAggregate("mean").result()


def _first_eval_records(count):
  files = sorted(glob.glob(str(asset("audioset/eval") / "*.tfrecord")))[:count]
  if len(files) < count:
    pytest.skip("AudioSet eval TFRecords not found")
  return files


def test_embedding_tfrecords_are_scored_without_audio(tmp_path, capsys):
  import tensorflow as tf
  sources = _first_eval_records(4)
  folder = tmp_path / "eval"
  folder.mkdir()
  for path in sources:
    shutil.copy(path, folder)
  with open(sources[0], "rb") as whole:  # A damaged copy: cut inside its last record.
    data = whole.read()
  (folder / "damaged.tfrecord").write_bytes(data[:len(data) - 7])
  # A file whose second record has an empty video_id: only that record is lost.
  intact = list(tf.data.TFRecordDataset(sources[1]).as_numpy_iterator())[:2]
  malformed = tf.train.SequenceExample.FromString(intact[0])
  del malformed.context.feature["video_id"].bytes_list.value[:]
  with tf.io.TFRecordWriter(str(folder / "malformed.tfrecord")) as writer:
    for serialized in (intact[0], malformed.SerializeToString(), intact[1]):
      writer.write(serialized)
  expected = {}
  for path in sources:
    for index, serialized in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
      example = tf.train.SequenceExample.FromString(serialized)
      video_id = example.context.feature["video_id"].bytes_list.value[0].decode()
      start = example.context.feature["start_time_seconds"].float_list.value[0]
      frames = np.stack([np.frombuffer(f.bytes_list.value[0], np.uint8) for f in
                         example.feature_lists.feature_list["audio_embedding"].feature])
      expected[(os.path.basename(path), index)] = (video_id, start, frames)
  output = tmp_path / "eval.parquet"
  status, out = _predict(capsys, "--input", str(folder / "*.tfrecord"), "--output", str(output),
                         "--scores")
  assert status == 0, out
  rows = pd.read_parquet(output)
  rows["file"] = rows["source"].map(os.path.basename)
  good_rows = rows[~rows["file"].isin(["damaged.tfrecord", "malformed.tfrecord"])]
  assert len(good_rows) == len(expected)
  around = rows[rows["file"] == "malformed.tfrecord"].sort_values("record")
  assert list(around["record"]) == [0, 2]
  assert list(around["id"]) == [expected[(os.path.basename(sources[1]), i)][0] for i in (0, 1)]
  classifier = support.TinyClassifier()
  for _, row in good_rows.iterrows():
    video_id, start, frames = expected[(row["file"], row["record"])]
    assert row["id"] == video_id
    assert row["start_seconds"] == pytest.approx(start)
    assert row["end_seconds"] == pytest.approx(start + 0.96 * len(frames))
    np.testing.assert_allclose(row["scores"], classifier.embedding_scores(frames), rtol=1e-5)
  # Every record before the cut one is scored.
  damaged_records = len(rows[rows["file"] == "damaged.tfrecord"])
  assert damaged_records == sum(1 for file, _ in expected
                                if file == os.path.basename(sources[0])) - 1
  errors = pd.read_parquet(tmp_path / "eval-errors.parquet").sort_values("error_type")
  assert list(errors["error_type"]) == ["bad_record", "unreadable_tfrecord"]
  bad, unreadable = errors["message"]
  assert "malformed.tfrecord: record 1: record has no video_id" in bad
  assert "damaged.tfrecord" in unreadable
  total = len(expected) + damaged_records + 1 + 3
  assert f"records: {total} in = {len(rows)} written + 2 errors (all accounted for)" in out


def test_a_record_failing_its_payload_crc_is_one_error_and_the_records_after_it_are_read(
    tmp_path, capsys):
  """A flipped byte inside a record's payload (its length intact) loses that record only."""
  from soundscope.pipelines import tfrecords
  (source,) = _first_eval_records(1)
  data = bytearray(open(source, "rb").read())
  with open(source, "rb") as handle:
    offsets = list(tfrecords.record_offsets(handle))
  assert len(offsets) >= 3
  data[offsets[1] + 12 + 20] ^= 0xFF                # 20 bytes into record 1's payload.
  damaged = tmp_path / "flipped.tfrecord"
  damaged.write_bytes(bytes(data))
  output = tmp_path / "flipped.parquet"
  status, out = _predict(capsys, "--input", str(damaged), "--output", str(output))
  assert status == 0, out
  records = sorted(pd.read_parquet(output)["record"])
  assert records == [i for i in range(len(offsets)) if i != 1]
  errors = pd.read_parquet(tmp_path / "flipped-errors.parquet")
  assert list(errors["error_type"]) == ["bad_record"]
  assert errors["message"][0] == f"{damaged}: record 1: its payload fails its CRC check"
  assert (f"records: {len(offsets)} in = {len(offsets) - 1} written + 1 errors "
          f"(all accounted for)") in out


class _NoMetrics:
  def metrics(self):
    raise NotImplementedError("this runner keeps its metrics")


def test_a_runner_without_metrics_still_reconciles_from_the_outputs(tmp_path, capsys,
                                                                   monkeypatch):
  from soundscope.pipelines import progress
  assert progress.counter_totals(_NoMetrics()) is None
  assert ("warning: the runner reported no metrics (NotImplementedError: this runner keeps "
          "its metrics)") in capsys.readouterr().err
  monkeypatch.setattr(progress, "counter_totals", lambda result: None)
  source = _first_eval_records(1)[0]
  output = tmp_path / "one.parquet"
  status, out = _predict(capsys, "--input", source, "--output", str(output))
  written = len(pd.read_parquet(output))
  assert status == 0 and written > 0
  # The records read are counted from the parts' files, not from the runner's metrics.
  assert f"records: {written} in = {written} written + 0 errors (all accounted for)" in out


@pytest.mark.slow
def test_a_head_scores_the_records_of_a_batch_together_as_each_alone(tmp_path, capsys):
  import support_train
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  from soundscope.transforms import records
  store_root = tmp_path / "store"
  heads.export_head(frame_models.build("AttentionPoolingModel", 527, hidden_units=16),
                    store_root / "head", support_train.class_labels_csv())
  head = heads.load_head_classifier(store_root / "head", store_root)
  sources = _first_eval_records(3)
  frames = {(path, index): records.decode(serialized).embedding for path in sources
            for index, serialized in enumerate(records.read_tfrecord_file(path))}
  listing = tmp_path / "records.txt"
  listing.write_text("".join(f"{path}\n" for path in sources))
  for mode in ([], ["--per-window"]):
    output = tmp_path / f"head{len(mode)}.parquet"
    status = cli.main(["predict", "--input", str(listing), "--output", str(output),
                              "--model", "head", "--model-dir", str(store_root), "--scores",
                              "--no-progress", *mode])
    assert status == 0, capsys.readouterr().out
    rows = pd.read_parquet(output)
    for (path, index), record in frames.items():
      got = rows[(rows["source"] == path) & (rows["record"] == index)].sort_values(
          "start_seconds")
      if mode:   # One row per 0.96 s frame, scored alone.
        expected = np.stack([head.embedding_scores(record[i:i + 1]) for i in range(len(record))])
      else:
        expected = head.embedding_scores(record)[np.newaxis]
      assert len(got) == len(expected)
      np.testing.assert_allclose(np.stack(got["scores"]), expected, rtol=1e-5, atol=1e-7)


def test_inference_failures_become_error_rows(corpus, tmp_path, capsys):
  root, good, _ = corpus
  listing = tmp_path / "good.txt"
  listing.write_text("".join(f"{root / relative}\n" for relative in sorted(good)))
  output = tmp_path / "failing.parquet"
  # All six files fit in one inference batch; the classifier fails on the 30 s one only.
  status = cli.main(["predict", "--model-factory",
                            "support_pipelines:make_failing_classifier", "--no-progress",
                            "--input", str(listing), "--output", str(output)])
  out = capsys.readouterr().out
  assert status == 0, out
  errors = pd.read_parquet(tmp_path / "failing-errors.parquet")
  assert list(errors["stage"]) == ["inference"]
  assert list(errors["input"]) == [str(root / "long" / "mono_11k_30s.wav")]
  assert "mono_11k_30s.wav" in errors["message"][0]
  assert "longer than 10 s" in errors["message"][0]
  rows = pd.read_parquet(output)
  assert sorted(rows["source"]) == sorted(str(root / relative) for relative in good
                                          if not relative.startswith("long/"))
  assert "files: 6 in = 5 written + 1 errors (all accounted for)" in out


def test_rerun_replaces_the_output_whole(corpus, tmp_path, capsys):
  root, _, _ = corpus
  output = tmp_path / "again.parquet"
  assert _predict(capsys, "--input", str(root / "wav" / "*"), "--output", str(output))[0] == 0
  assert _predict(capsys, "--input", str(root / "flac" / "*"), "--output", str(output))[0] == 0
  assert set(pd.read_parquet(output)["id"]) == {"mono_8k.flac", "stereo_22k.flac"}
  # The outputs and the record of their inputs (for a later --resume), nothing else.
  assert sorted(os.listdir(tmp_path)) == [".again.inputs.json", "again-errors.parquet",
                                         "again.parquet"]


@pytest.mark.slow
def test_two_worker_processes_give_the_same_rows(corpus, tmp_path, capfd, monkeypatch):
  root, good, _ = corpus
  # The worker processes import the test classifier's module like any custom model.
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
      [os.path.dirname(support.__file__), os.environ.get("PYTHONPATH", "")]))
  # The workers' model imports TensorFlow, which then writes its oneDNN line on any CPU.
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
  monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
  output = tmp_path / "two.parquet"
  status = cli.main(["predict", "--model-factory",
                     "support_pipelines:make_tiny_classifier_after_tensorflow", "--no-progress",
                     "--input", str(root / "**" / "*"), "--output", str(output),
                     "--scores", "--direct_num_workers=2",
                     "--direct_running_mode=multi_processing"])
  # capfd: the worker processes write to the file descriptors, not to sys.stderr.
  captured = capfd.readouterr()
  assert status == 0, captured.out
  assert "files: 12 in = 8 written + 4 errors (all accounted for)" in captured.out
  # Quiet logs: the workers get WARNING as their log level (their SDK harness logs
  # ~20 INFO lines each otherwise) and run pipelines/beam_worker.py (Beam's import
  # warning and the start-up lines after it, and TensorFlow's import-time lines), and
  # the main process does not repeat their noise: nothing at all on stderr.
  assert captured.err == "", captured.err
  rows = pd.read_parquet(output).set_index("id")
  classifier = support.TinyClassifier()
  for relative in good:
    expected = classifier.clip_scores(audio.load_mono(str(root / relative)))
    np.testing.assert_allclose(np.asarray(rows.loc[relative, "scores"]), expected, rtol=1e-5)
  # The row shards the workers wrote were merged into the one file and removed.
  assert sorted(os.listdir(tmp_path)) == [".two.inputs.json", "two-errors.parquet",
                                         "two.parquet"]
  # Kept instead, they are the output: one shard per bundle, so one or more per worker.
  status = cli.main(["predict", "--model-factory", FACTORY, "--no-progress",
                            "--input", str(root / "**" / "*"), "--output", str(output),
                            "--scores", "--keep-shards", "--direct_num_workers=2",
                            "--direct_running_mode=multi_processing"])
  assert status == 0, capfd.readouterr().out
  shards = sorted(str(path) for path in tmp_path.glob("two-*-of-*.parquet"))
  assert len(shards) >= 2 and not (tmp_path / "two.parquet").exists()
  kept = pq.ParquetDataset(shards).read().to_pandas().set_index("id")
  assert sorted(kept.index) == sorted(rows.index)
  for relative in good:
    np.testing.assert_array_equal(np.asarray(kept.loc[relative, "scores"]),
                                  np.asarray(rows.loc[relative, "scores"]))


def test_a_failed_merge_keeps_the_previous_output_and_leaves_no_staging(corpus, tmp_path,
                                                                        capsys, monkeypatch):
  from soundscope.pipelines import merge, parts
  root, _, _ = corpus
  output = tmp_path / "kept.parquet"
  assert _predict(capsys, "--input", str(root / "wav" / "*"), "--output", str(output))[0] == 0
  before = output.read_bytes()

  def disk_full(sources, destination, *args, **kwargs):
    raise parts.write_error(destination, OSError(28, "No space left on device"))
  monkeypatch.setattr(merge, "concat_parquet", disk_full)
  status = cli.main(["predict", "--model-factory", FACTORY, "--no-progress", "--input",
                     str(root / "flac" / "*"), "--output", str(output)])
  err = capsys.readouterr().err
  assert status == 1
  assert err.strip().endswith("kept.parquet: No space left on device") and len(
      err.strip().splitlines()) == 1
  assert output.read_bytes() == before
  assert sorted(os.listdir(tmp_path)) == [".kept.inputs.json", "kept-errors.parquet",
                                         "kept.parquet"]


def test_part_rows_are_streamed_into_one_file_in_part_order(tmp_path):
  from soundscope.pipelines import merge, prediction
  output = str(tmp_path / "preds.parquet")
  schema = prediction.predictions_schema(with_scores=True)

  def rows(first, count):
    return [{"id": f"clip{i}", "source": f"/a/clip{i}.wav", "record": 0,
             "start_seconds": 0.96 * i, "end_seconds": 0.96 * (i + 1),
             "predictions": [{"label": "Speech", "index": 0, "score": 0.5}],
             "scores": [float(i), 1.0], "model": "m", "model_version": "1",
             "run_time": pd.Timestamp("2026-11-27", tz="UTC")} for i in range(first, first + count)]
  # Three parts' row files, one of them empty (a part whose inputs all failed).
  (tmp_path / "parts").mkdir()
  for index, (first, count) in enumerate([(0, 7), (7, 0), (7, 5)]):
    pq.write_table(pa.Table.from_pylist(rows(first, count), schema=schema),
                   str(tmp_path / "parts" / f"part-{index:05d}.rows.parquet"))
  sources = merge.part_files(str(tmp_path / "parts"), [0, 1, 2], "rows")
  # Batches of 3 rows: every part is read in several pieces.
  assert merge.concat_parquet(sources, output, schema, batch_rows=3) == 12
  # Row groups of 3 rows across the parts' files, not one (or more) per part.
  metadata = pq.ParquetFile(output).metadata
  assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [3] * 4
  merged = pq.read_table(output)
  assert merged.schema.equals(schema)
  assert merged.column("id").to_pylist() == [f"clip{i}" for i in range(12)]
  assert [s[0] for s in merged.column("scores").to_pylist()] == [float(i) for i in range(12)]
  assert prediction.count_written([output]) == 12


@pytest.mark.slow
def test_yamnet_from_the_model_store_scores_esc10_clips(tmp_path, capsys):
  import support_store
  from soundscope.models.store import registry
  store_root = tmp_path / "store"
  support_store.yamnet_store(str(store_root))
  clips = [asset(f"audio/esc10/{name}") for name in
           ("1-100032-A-0.flac", "1-110389-A-0.flac", "1-17150-A-12.flac")]
  listing = tmp_path / "clips.txt"
  listing.write_text("\n".join(str(path) for path in clips) + "\n")
  output = tmp_path / "yamnet.parquet"
  status = cli.main(["predict", "--input", str(listing), "--output", str(output),
                            "--model", "yamnet", "--model-dir", str(store_root), "--scores",
                            "--no-progress"])
  out = capsys.readouterr().out
  assert status == 0, out
  rows = pd.read_parquet(output).set_index("source")
  yamnet = registry.load_classifier("yamnet", str(store_root))
  assert set(rows["model"]) == {yamnet.name}
  assert set(rows["model_version"]) == {str(yamnet.version)}
  for path in clips:
    expected = yamnet.clip_scores(audio.load_mono(str(path)))
    row = rows.loc[str(path)]
    assert len(row["scores"]) == len(yamnet.labels) == 521
    np.testing.assert_allclose(np.asarray(row["scores"]), expected, atol=1e-5)
    assert row["predictions"][0]["label"] == yamnet.labels[int(np.argmax(expected))]
  dog_labels = {p["label"] for path in clips[:2] for p in rows.loc[str(path), "predictions"]}
  assert dog_labels & {"Dog", "Animal", "Bark", "Domestic animals, pets"}
  # Scored in 0.96 s pieces (2 of YAMNet's 0.48 s hops), the windows are the whole clip's.
  windows_path = tmp_path / "yamnet-windows.parquet"
  status = cli.main(["predict", "--input", str(listing), "--output", str(windows_path),
                            "--model", "yamnet", "--model-dir", str(store_root), "--scores",
                            "--per-window", "--no-progress", "--read-block", "2",
                            "--score-block", "1"])
  assert status == 0, capsys.readouterr().out
  windows = pd.read_parquet(windows_path)
  for path in clips:
    expected = yamnet.window_scores(audio.load_mono(str(path)).astype(np.float32))
    got = windows[windows["source"] == str(path)].sort_values("start_seconds")
    assert len(got) == len(expected.starts) == 10
    np.testing.assert_allclose(got["start_seconds"], expected.starts, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.stack(got["scores"]), expected.scores, atol=1e-5)


def test_a_count_mismatch_fails_and_keeps_the_previous_output(corpus, tmp_path, capsys,
                                                              monkeypatch):
  from soundscope.pipelines import prediction
  root, _, _ = corpus
  output = tmp_path / "kept.parquet"
  assert _predict(capsys, "--input", str(root / "wav" / "*"), "--output", str(output))[0] == 0
  before = output.read_bytes()
  real_count = prediction.count_written
  monkeypatch.setattr(prediction, "count_written", lambda path: real_count(path) - 1)
  status = cli.main(["predict", "--model-factory", FACTORY, "--no-progress", "--input",
                            str(root / "flac" / "*"), "--output", str(output)])
  captured = capsys.readouterr()
  assert status == 1
  assert "files: 2 in = 1 written + 0 errors (MISMATCH" in captured.out
  assert output.read_bytes() == before
  assert sorted(os.listdir(tmp_path)) == [".kept.inputs.json", "kept-errors.parquet",
                                         "kept.parquet"]


@pytest.mark.slow
def test_kept_shards_are_the_output_and_either_layout_replaces_the_other(corpus, tmp_path,
                                                                          capsys):
  root, good, _ = corpus
  output = tmp_path / "kept.parquet"
  status, out = _predict(capsys, "--input", str(root / "**" / "*"), "--output", str(output),
                         "--scores", "--keep-shards")
  assert status == 0, out
  assert "files: 12 in = 8 written + 4 errors (all accounted for)" in out
  shards = sorted(os.listdir(tmp_path))
  shards.remove("kept-errors.parquet")
  shards.remove(".kept.inputs.json")
  assert shards == [f"kept-{i:05d}-of-{len(shards):05d}.parquet" for i in range(len(shards))]
  # Read back as one dataset, as a user would read the shards.
  rows = pq.ParquetDataset([str(tmp_path / name) for name in shards]).read().to_pandas()
  assert sorted(rows["id"]) == sorted(set(good) | {"bad/silence.wav", "bad/short_0.2s.wav"})
  rows = rows.set_index("id")
  classifier = support.TinyClassifier()
  for relative in good:
    expected = classifier.clip_scores(audio.load_mono(str(root / relative)))
    np.testing.assert_allclose(np.asarray(rows.loc[relative, "scores"]), expected, rtol=1e-5)
  # The prefix owns both layouts: a merged rerun replaces the shards, and back.
  assert _predict(capsys, "--input", str(root / "wav" / "*"), "--output", str(output))[0] == 0
  assert sorted(os.listdir(tmp_path)) == [".kept.inputs.json", "kept-errors.parquet",
                                         "kept.parquet"]
  status, out = _predict(capsys, "--input", str(root / "flac" / "*"), "--output", str(output),
                         "--keep-shards")
  assert status == 0, out
  assert "kept.parquet" not in os.listdir(tmp_path)
  kept = [str(path) for path in sorted(tmp_path.glob("kept-*-of-*.parquet"))]
  assert set(pd.read_parquet(kept[0]).columns) >= {"id", "predictions"}
  assert set(pq.ParquetDataset(kept).read().column("id").to_pylist()) == {"mono_8k.flac",
                                                                        "stereo_22k.flac"}


def test_kept_shards_of_a_run_without_rows_still_give_a_readable_empty_output(corpus, tmp_path,
                                                                               capsys):
  root, _, _ = corpus
  unreadable = tmp_path / "unreadable.txt"
  unreadable.write_text("".join(f"{root / 'bad' / name}\n" for name in (
      "zero_bytes.wav", "text.wav", "truncated_header.wav")))
  output = tmp_path / "none.parquet"
  status, out = _predict(capsys, "--input", str(unreadable), "--output", str(output),
                         "--keep-shards")
  assert status == 1, out   # Every input failed: a failed run, its outputs still written.
  assert "files: 3 in = 0 written + 3 errors (all accounted for)" in out
  kept = sorted(tmp_path.glob("none-*-of-*.parquet"))
  table = pq.ParquetDataset([str(path) for path in kept]).read()
  assert table.num_rows == 0 and "predictions" in table.schema.names
