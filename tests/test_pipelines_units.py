"""Pipeline building blocks without VGGish: inputs, labels, CSV parsing, options, outputs."""

import os

import pytest

from conftest import asset, blas_thread_counts
from soundscope.pipelines import audioset, dead_letter, inputs, labels, launch, options, outputs


def _touch(path, data=b"x"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as handle:
    handle.write(data)


def test_glob_ids_are_relative_to_the_pattern_root_and_stable(tmp_path, monkeypatch):
  _touch(str(tmp_path / "corpus" / "a.wav"))
  _touch(str(tmp_path / "corpus" / "sub" / "b.wav"))
  os.makedirs(tmp_path / "corpus" / "x.wav")       # A directory with an audio name: kept.
  os.makedirs(tmp_path / "corpus" / "plain_dir")   # Plain folders: skipped, dotted or not.
  os.makedirs(tmp_path / "corpus" / "2024.05")
  expansion = inputs.expand(str(tmp_path / "corpus" / "**" / "*"))
  assert [f.video_id for f in expansion.files] == ["a.wav", "sub/b.wav", "x.wav"]
  assert expansion.root == str(tmp_path / "corpus")
  monkeypatch.chdir(tmp_path)  # Relative pattern, other working directory: same ids.
  again = inputs.expand(os.path.join("corpus", "**", "*"))
  assert [f.video_id for f in again.files] == ["a.wav", "sub/b.wav", "x.wav"]
  assert all(os.path.isabs(f.path) for f in again.files)


def test_a_directory_input_follows_linked_folders_once(tmp_path):
  _touch(str(tmp_path / "corpus" / "b.wav"))
  _touch(str(tmp_path / "elsewhere" / "a.wav"))
  os.symlink(tmp_path / "elsewhere", tmp_path / "corpus" / "linked")
  os.symlink(tmp_path / "corpus", tmp_path / "corpus" / "loop")   # A link back up the tree.
  expansion = inputs.expand(str(tmp_path / "corpus"))
  assert [f.video_id for f in expansion.files] == ["b.wav", "linked/a.wav"]


def test_list_file_resolves_relative_paths_and_reports_duplicates(tmp_path):
  _touch(str(tmp_path / "data" / "one.flac"))
  _touch(str(tmp_path / "data" / "two.ogg"))
  outside = tmp_path.parent / f"{tmp_path.name}_outside.wav"
  _touch(str(outside))
  listing = tmp_path / "data" / "inputs.txt"
  listing.write_text(f"# my corpus\none.flac\n\ntwo.ogg\n./one.flac\n{outside}\n")
  expansion = inputs.expand(str(listing))
  ids = [f.video_id for f in expansion.files]
  assert ids == sorted(["one.flac", "two.ogg", str(outside)])
  assert [d.video_id for d in expansion.duplicates] == ["one.flac"]
  assert inputs.expand("@" + str(listing)).files == expansion.files


def test_expand_refuses_empty_globs_and_missing_lists(tmp_path):
  with pytest.raises(FileNotFoundError, match="no file matches"):
    inputs.expand(str(tmp_path / "*.wav"))
  with pytest.raises(FileNotFoundError, match="list file not found"):
    inputs.expand(str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("command", ["predict", "embed"])
def test_an_empty_archive_is_one_usage_line(tmp_path, capsys, command):
  """An empty folder or list is a usage error naming it (exit 2), not '0 in = 0 written + 0 errors'."""
  from soundscope.cli import main as cli_main
  folder = tmp_path / "archive"
  (folder / "2024" / "05").mkdir(parents=True)     # Folders, no file.
  listing = tmp_path / "inputs.txt"
  listing.write_text("# nothing yet\n\n")
  with pytest.raises(FileNotFoundError, match="the folder holds no file"):
    inputs.expand(str(folder))
  for given in (folder, listing):
    code = cli_main.main([command, "--input", str(given), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert str(given) in err[0] and "no file" in err[0]
  assert not list(tmp_path.glob("out*"))


def test_labels_accept_mids_and_indices():
  class_map = labels.load_class_map(asset("audioset/class_labels_indices.csv"))
  assert labels.parse("/m/09x0r,/t/dd00088", class_map) == (0, class_map["/t/dd00088"])
  assert labels.parse(" 5; 3,5 ", class_map) == (3, 5)
  with pytest.raises(labels.UnknownLabelError, match="not in the class map"):
    labels.parse("/m/nothing", class_map)
  with pytest.raises(labels.UnknownLabelError, match="out of range"):
    labels.parse("527", class_map)


@pytest.mark.parametrize("times", ["nan, 10.0", "0.0, inf", "-1.0, 9.0", "30.0, 30.0",
                                   "40.0, 30.0"])
def test_segment_times_must_be_a_real_interval(tmp_path, times):
  csv_path = tmp_path / "segments.csv"
  csv_path.write_text("# YTID, start_seconds, end_seconds, positive_labels\n"
                      "--PJHxphWEs, 30.000, 40.000, \"/m/09x0r\"\n"
                      f"--ZhevVpy1s, {times}, \"/m/012xff\"\n")
  with pytest.raises(ValueError, match=r"segments.csv:3: start/end must be finite seconds "
                                       r"with 0 <= start < end"):
    audioset.read_segments(csv_path)


@pytest.mark.parametrize("content, says", [
    (b"# YTID, start_seconds, end_seconds, positive_labels\n", "no segment rows"),
    (b"fLaC\x00\xfd\xff binary", "not a segments CSV (byte 5 is not UTF-8 text)"),
    (None, "cannot read the segments CSV: No such file or directory")])
def test_a_segments_csv_without_segments_is_named(tmp_path, content, says):
  csv_path = tmp_path / "segments.csv"
  if content is not None:
    csv_path.write_bytes(content)
  with pytest.raises(ValueError) as raised:
    audioset.read_segments(csv_path)
  assert str(raised.value).startswith(f"{csv_path}: {says}")


def test_resume_settings_name_the_model_folder_alike_and_leave_out_memory_flags(
    tmp_path, monkeypatch):
  """The same store named from elsewhere, or other --read-block/--score-block (memory
  against overhead, the same numbers), compare equal; another --top-k does not."""
  import argparse
  from soundscope.cli import flags
  from soundscope.configs import params as P
  from soundscope.pipelines import model_handlers, predict
  from support_store import yamnet_store
  yamnet_store(tmp_path / "store")
  (tmp_path / "elsewhere").mkdir()

  def settings(model_dir, read_block, score_block, top_k=3):
    args = argparse.Namespace(per_window=False, scores=False, labels=None,
                              params=P.VggishParams(read_block_seconds=read_block),
                              report=P.ReportOptions(model="yamnet", model_dir=model_dir,
                                                     top_k=top_k,
                                                     score_block_seconds=score_block))
    loader = model_handlers.ClassifierLoader("yamnet", model_dir, None)
    return launch.settings_of(predict.run_settings(args, loader, "audio"))

  monkeypatch.chdir(tmp_path)
  here = settings("store", 20.0, 60.0)
  monkeypatch.chdir(tmp_path / "elsewhere")
  assert settings("../store", 10.0, 30.0) == here
  assert settings(str(tmp_path / "store"), 20.0, 60.0, top_k=2) != here


def test_label_csv_rows_must_agree_and_inputs_without_a_row_are_counted(tmp_path):
  from soundscope.pipelines import embed
  _touch(str(tmp_path / "corpus" / "a.wav"))
  _touch(str(tmp_path / "corpus" / "b.wav"))
  files = inputs.expand(str(tmp_path / "corpus")).files
  table_csv = tmp_path / "labels.csv"
  table_csv.write_text('video_id,labels\na.wav,"0"\nc.wav,"3"\n')
  table = labels.load_file_labels(table_csv)
  assert embed.unlabelled_note(files, table, table_csv) == (
      f"1 of 2 inputs have a row in {table_csv}; the other 1 are embedded without labels")
  assert embed.unlabelled_note(files[:1], table, table_csv) is None
  assert embed.unlabelled_note(files, None, None) is None
  table_csv.write_text('video_id,labels\na.wav,"0"\na.wav,"0"\nb.wav,"1"\nb.wav,"2"\n')
  with pytest.raises(ValueError, match=r"labels.csv:5: b.wav is listed again with other "
                                       r"labels \('1', then '2'\)"):
    labels.load_file_labels(table_csv)


def test_released_segment_csv_is_read_exactly():
  segments = audioset.read_segments(asset("audioset/balanced_train_segments.csv"))
  assert len(segments) == 22160  # num_segs in the file's second header line.
  first = segments[0]
  assert (first.ytid, first.start, first.end, first.mids) == (
      "--PJHxphWEs", 30.0, 40.0, "/m/09x0r,/t/dd00088")
  assert all(len(s.ytid) == audioset.YTID_LENGTH for s in segments)


def test_audio_names_prefer_the_most_specific_form(tmp_path):
  ytid = "ab_cd-EF_gh"   # YouTube ids may contain '_' and '-'.
  for name in (f"{ytid}.wav", f"{ytid}_30.flac", f"{ytid}_30.000_40.000.ogg", "notes.txt",
               f"{ytid}.json"):
    _touch(str(tmp_path / name))
  index = audioset.index_audio(str(tmp_path))
  assert len(index[ytid]) == 3
  segment = audioset.Segment(ytid, 30.0, 40.0, "", "")
  audio, whole = audioset.find_audio(segment, index)
  assert audio.path.endswith("_30.000_40.000.ogg") and not whole
  audio, whole = audioset.find_audio(audioset.Segment(ytid, 30.0, 39.0, "", ""), index)
  assert audio.path.endswith("_30.flac") and not whole
  audio, whole = audioset.find_audio(audioset.Segment(ytid, 10.0, 20.0, "", ""), index)
  assert audio.path.endswith(f"{ytid}.wav") and whole
  assert audioset.find_audio(audioset.Segment("zzzzzzzzzzz", 0, 10, "", ""), index) == (None,
                                                                                        None)


def test_default_runner_skips_prism_and_beam_options_pass_through():
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner
  from apache_beam.options.pipeline_options import DirectOptions, SetupOptions, StandardOptions
  runner = options.default_runner([])
  assert isinstance(runner, FnApiRunner)
  # Its worker processes are told the quiet log level through the provision info.
  worker_options = runner._provision_info.provision_info.pipeline_options
  assert worker_options["default_sdk_harness_log_level"] == "WARNING"
  louder = options.default_runner(["--default_sdk_harness_log_level=DEBUG"])
  assert louder._provision_info.provision_info.pipeline_options[
      "default_sdk_harness_log_level"] == "DEBUG"
  args = ["--runner=DirectRunner", "--direct_num_workers=2", "--setup_file=./setup.py"]
  assert options.default_runner(args) is None
  beam_options = options.pipeline_options(args)
  assert beam_options.view_as(StandardOptions).runner == "DirectRunner"
  assert beam_options.view_as(DirectOptions).direct_num_workers == 2
  assert beam_options.view_as(SetupOptions).setup_file == "./setup.py"
  assert options.is_local(args) and not options.is_local(["--runner", "DataflowRunner"])


def test_bundles_are_timed_by_a_state_sampler_that_ticks_often():
  """A bundle ends at its state sampler's next tick: every 20 ms, not Beam's 200 ms."""
  import apache_beam as beam
  from apache_beam.runners.worker import statesampler
  from apache_beam.testing.util import assert_that, equal_to
  from soundscope.configs import pipelines as PC
  with options.make_pipeline([]) as pipeline:
    periods = (pipeline | beam.Create([0])
               | beam.Map(lambda _: statesampler.get_current_tracker().sampling_period_ms))
    assert_that(periods, equal_to([PC.STATE_SAMPLING_PERIOD_MS]))
  assert PC.STATE_SAMPLING_PERIOD_MS < statesampler.DEFAULT_SAMPLING_PERIOD_MS


@pytest.mark.parametrize("args, spread", [
    ([], False), (["--direct_num_workers=2"], True), (["--direct_num_workers=0"], True),
    (["--direct_running_mode=multi_processing"], True), (["--runner=DirectRunner"], True)])
def test_parts_are_reshuffled_wherever_workers_share_them(args, spread):
  pipeline = options.make_pipeline(args)
  try:
    assert options.spread_parts(pipeline) is spread
  finally:
    options.discard_pipeline(pipeline)


def test_beam_options_that_look_like_ours_reach_beam_unread(capsys):
  from apache_beam.options.pipeline_options import GoogleCloudOptions
  from soundscope.cli import main
  _, _, args = main.parse_command([
      "embed", "--input", "corpus/*.wav", "--output", "out/run", "--labels", "team=audio",
      "--labels-csv", "labels.csv", "--direct_num_workers", "2"])
  assert args.labels_csv == "labels.csv"
  # Dataflow's --labels is not our --labels-csv.
  assert args.pipeline_args == ["--labels", "team=audio", "--direct_num_workers", "2"]
  assert args.num_shards == 0
  beam_options = options.pipeline_options(args.pipeline_args)
  assert beam_options.view_as(GoogleCloudOptions).labels == ["team=audio"]
  # An option neither takes is a usage error, not an abbreviation of --num-shards nor a
  # flag Beam would only warn about.
  with pytest.raises(SystemExit) as raised:   # Seen as the command line is read.
    main.parse_command(["embed", "--input", "corpus/*.wav", "--output", "out/run",
                        "--dask-workers", "2"])
  assert raised.value.code == 2
  assert capsys.readouterr().err == ("soundscope embed: error: --dask-address and "
                                     "--dask-workers need --runner dask\n")
  for wrong, named in ((["--num", "3"], "unknown option --num"),
                       (["--num-shard", "3"], "unknown option --num-shard (did you mean "
                                              "--num-shards?)"),
                       (["--runner", "nosuch"], "--runner nosuch: Unexpected pipeline runner")):
    status = main.main(["embed", "--input", "corpus/*.wav", "--output", "out/run", *wrong])
    (line,) = capsys.readouterr().err.splitlines()
    assert status == 2 and line.startswith(f"soundscope embed: error: {named}"), line


def test_commit_replaces_every_old_shard(tmp_path):
  prefix = str(tmp_path / "out" / "run")
  os.makedirs(tmp_path / "out")
  old = [f"{prefix}-{i:05d}-of-00003.tfrecord" for i in range(3)] + [prefix + "-errors.jsonl"]
  for path in old:
    _touch(path, b"old")
  _touch(str(tmp_path / "out" / "other-00000-of-00001.tfrecord"), b"keep")
  staged = outputs.StagedOutput(prefix, outputs.EMBED_PATTERNS)
  for tail in ("-00000-of-00001.tfrecord", "-manifest.parquet", "-errors.parquet"):
    _touch(staged.staged(tail), b"new")
  final = staged.commit()
  assert sorted(os.listdir(tmp_path / "out")) == [
      "other-00000-of-00001.tfrecord", "run-00000-of-00001.tfrecord", "run-errors.parquet",
      "run-manifest.parquet"]
  assert all(open(path, "rb").read() == b"new" for path in final)


def test_local_listing_agrees_with_beams_match_and_takes_the_prefix_as_it_is(tmp_path):
  from apache_beam.io.filesystems import FileSystems
  from soundscope.pipelines import listing
  folder = tmp_path / "out[1]"
  for name in ("run-00000-of-00002.tfrecord", "run-00001-of-00002.tfrecord", "run-errors.jsonl",
               ".run.inputs.json", "run-manifest.parquet", "runner.txt",
               ".run.staging-ab/.owner.json", ".run.staging-ab/parts/part-00000.done.json",
               ".run.staging-cd/run.parquet"):
    _touch(str(folder / name))
  os.makedirs(folder / "run-00002-of-00002.tfrecord")   # A folder: not a file of the prefix.
  prefix = str(folder / "run")
  cases = [(prefix, outputs.SHARD_NUMBERS + ".tfrecord", "-errors.jsonl"),
           (str(folder / ".run.staging-"), "*/.owner.json"), (str(folder / ".run."), "*"),
           (str(folder / ".run.staging-"), "*/*"), (prefix + "-manifest.parquet",)]
  for literal, *tails in cases:
    found = listing.files_matching(literal, *tails)
    # Beam's match reads the brackets as a glob, so it is given a folder name without them.
    plain = str(tmp_path / "plain")
    if not os.path.exists(plain):
      os.symlink(folder, plain)
    beams = sorted({m.path.replace(plain, str(folder), 1)
                    for result in FileSystems.match(
                        [literal.replace(str(folder), plain, 1) + tail for tail in tails or [""]])
                    for m in result.metadata_list})
    assert found == beams, (literal, tails)
    assert found
  assert listing.files_matching(prefix, outputs.SHARD_NUMBERS + ".tfrecord") == [
      prefix + "-00000-of-00002.tfrecord", prefix + "-00001-of-00002.tfrecord"]


def test_the_prefix_bookkeeping_lists_its_folder_not_the_tree_below_it(tmp_path, monkeypatch):
  # Outputs written beside an archive: finding leftovers, old outputs and staged files must
  # not walk the archive (Beam's local match walks and stats the whole tree under a folder).
  prefix = str(tmp_path / "run")
  _touch(prefix + "-errors.jsonl", b"old")
  _touch(str(tmp_path / ".run.staging-0ld" / ".owner.json"), b'{"host": "gone", "pid": 1}')
  _touch(str(tmp_path / ".run.trash-0ld" / "run-errors.jsonl"), b"older")
  _touch(str(tmp_path / "archive" / "site" / "a.wav"))

  def no_walk(*unused_args, **unused_kwargs):
    raise AssertionError("os.walk over the output folder")
  monkeypatch.setattr(os, "walk", no_walk)
  staged = outputs.StagedOutput(prefix, outputs.EMBED_PATTERNS)
  _touch(staged.staged("-manifest.parquet"), b"new")
  final = staged.commit()
  assert final == [prefix + "-manifest.parquet"]
  assert sorted(os.listdir(tmp_path)) == ["archive", "run-manifest.parquet"]


def test_a_commit_that_fails_halfway_puts_the_previous_outputs_back(tmp_path, monkeypatch):
  from apache_beam.io.filesystems import FileSystems
  prefix = str(tmp_path / "out" / "run")
  os.makedirs(tmp_path / "out")
  old = [prefix + "-00000-of-00001.tfrecord", prefix + "-errors.jsonl"]
  for path in old:
    _touch(path, b"old")
  staged = outputs.StagedOutput(prefix, outputs.EMBED_PATTERNS)
  for tail in ("-00000-of-00001.tfrecord", "-manifest.parquet"):
    _touch(staged.staged(tail), b"new")
  rename = FileSystems.rename

  def full_disk_after_one_file(sources, destinations):
    if sources and ".staging-" in sources[0]:     # The new outputs: one moves, then a failure.
      rename(sources[:1], destinations[:1])
      raise OSError(28, "No space left on device")
    rename(sources, destinations)
  monkeypatch.setattr(FileSystems, "rename", full_disk_after_one_file)
  with pytest.raises(OSError, match="No space left"):
    staged.commit()
  assert sorted(os.listdir(tmp_path / "out")) == ["run-00000-of-00001.tfrecord",
                                                   "run-errors.jsonl"]   # No staging left.
  assert all(open(path, "rb").read() == b"old" for path in old)


def test_reconcile_reports_a_mismatch(capsys):
  assert dead_letter.reconcile("files", 5, 3, 2)
  assert not dead_letter.reconcile("files", 5, 3, 1)
  assert "MISMATCH" in capsys.readouterr().err


def _embed_args(*argv):
  """`soundscope embed` arguments parsed as the CLI does (unknown ones go to Beam)."""
  import argparse
  from soundscope.cli import embed
  parser = argparse.ArgumentParser()
  embed.add_arguments(parser)
  args, unknown = parser.parse_known_args(["--input", "in", "--output", "out", *argv])
  args.pipeline_args = unknown
  return args


def test_each_local_worker_gets_its_share_of_cores_for_tensorflow_and_one_decoding_thread(
    monkeypatch):
  monkeypatch.setattr(os, "cpu_count", lambda: 8)
  one = _embed_args()
  assert (options.vggish_threads(one), options.decode_threads(one)) == (0, 1)
  two = _embed_args("--direct_num_workers=2", "--direct_running_mode=multi_processing")
  assert (options.vggish_threads(two), options.decode_threads(two)) == (4, 1)
  pinned = _embed_args("--direct_num_workers=2", "--vggish-threads", "1", "--decode-threads", "3")
  assert (options.vggish_threads(pinned), options.decode_threads(pinned)) == (1, 3)
  remote = _embed_args("--runner=DataflowRunner", "--direct_num_workers=2")
  assert (options.vggish_threads(remote), options.decode_threads(remote)) == (0, 1)


def test_decode_threads_limit_the_blas_pool_of_the_process():
  import threadpoolctl
  with threadpoolctl.threadpool_limits(limits=None):  # Restores the pools afterwards.
    options.limit_decode_threads(1)
    blas = blas_thread_counts()
    assert blas and all(threads == 1 for threads in blas)


def test_progress_line_says_models_are_loading_until_a_worker_has_loaded_one(monkeypatch):
  import io
  import re
  import time
  from soundscope.pipelines import model_handlers, progress
  monkeypatch.setattr(progress, "LOG_INTERVAL_SECONDS", 0.05)
  stream = io.StringIO()
  with progress.Reporter("predict", 3, stream=stream) as reporter:
    time.sleep(0.3)
    assert re.fullmatch(r"predict: starting \(workers, models\)\.\.\. \d+ s", reporter.line())
    # What a worker does once its classifier is loaded (RunInference calls load_model).
    handler = model_handlers.ClassifierModelHandler(
        model_handlers.ClassifierLoader(factory="support_pipelines:make_tiny_classifier"),
        model_handlers.RowFormat(3, 0.0, False), beacon_dir=reporter.directory)
    handler.load_model()
    assert reporter.line().startswith("predict: 0/3 files (0%), 0.0 s of audio")
    beacon = progress.Beacon(reporter.directory)
    beacon.add(files=1, seconds=2.5)
    beacon.flush()
    assert reporter.line().startswith("predict: 1/3 files (33%), 2.5 s of audio")
  lines = stream.getvalue().splitlines()
  assert re.fullmatch(r"predict: starting \(workers, models\)\.\.\. 0 s", lines[0])
  assert lines[-1].startswith("predict: 1/3 files (33%)")
  assert not os.path.exists(reporter.directory)


def test_no_progress_prints_nothing_and_workers_have_nowhere_to_report():
  import io
  from soundscope.pipelines import progress
  stream = io.StringIO()
  with progress.Reporter("embed", 3, enabled=False, stream=stream) as reporter:
    assert reporter.directory is None
    progress.mark_ready(reporter.directory)
    progress.Beacon(reporter.directory).add(files=1, seconds=1.0)
  assert stream.getvalue() == ""


def test_unreadable_list_files_and_class_maps_are_errors_naming_the_file(tmp_path):
  listing = tmp_path / "inputs.txt"
  listing.write_bytes(b"a.wav\n\xff\xfe b.wav\n")
  with pytest.raises(ValueError, match=r"inputs.txt: a list file must be UTF-8 text"):
    inputs.expand(str(listing))
  class_map = tmp_path / "classes.csv"
  class_map.write_text("id,name\n0,Speech\n")
  with pytest.raises(ValueError, match=r"classes.csv: a class map needs 'index' and 'mid'"):
    labels.load_class_map(class_map)
  class_map.write_text("index,mid,display_name\nzero,/m/09x0r,Speech\n")
  with pytest.raises(ValueError, match=r"classes.csv:2: index is not a whole number"):
    labels.load_class_map(class_map)


@pytest.mark.parametrize("model_args,message", [
    (["--model", "nonesuch"], "model 'nonesuch' is not in the model store"),
    (["--model-factory", "no_such_module:make"], "--model-factory 'no_such_module:make': No "
                                                 "module named 'no_such_module'"),
    (["--model-factory", "json:no_such_function"], "json has no callable 'no_such_function'"),
])
def test_predict_names_a_model_it_cannot_load_before_running(tmp_path, capsys, model_args,
                                                             message):
  from soundscope.cli import main as cli
  _touch(str(tmp_path / "in" / "a.wav"))
  status = cli.main(["predict", "--input", str(tmp_path / "in"), "--output",
                            str(tmp_path / "out.parquet"), "--model-dir", str(tmp_path / "m"),
                            "--no-progress", *model_args])
  err = capsys.readouterr().err
  assert status == 2 and message in err and "Traceback" not in err
  assert sorted(os.listdir(tmp_path)) == ["in"]   # Nothing was written, not even staging.


class _QuantizingModel:
  """Stands in for VGGish in a part: a batch of examples -> uint8 [128] each (their mean
  level), failing on the batch that holds `fail_on` examples (as an out-of-memory would)."""

  batch_size = 4

  def __init__(self, fail_on):
    self.fail_on = fail_on

  def run_inference(self, batch, model=None):
    if len(batch) == self.fail_on:
      raise MemoryError("OOM in this batch")
    import numpy as np
    return [np.full(128, int(255 * abs(example).mean()) % 256, np.uint8) for example in batch]


@pytest.mark.slow   # Imports TensorFlow (its TFRecord writer) when run alone.
def test_a_part_writes_its_files_in_input_order_and_a_failed_batch_fails_its_files(tmp_path):
  """Three files of 2, 3 and 1 examples in batches of 4: the second batch (the last
  example of the second file and the third file's) fails: those two files are error rows
  naming their paths, the first is a record; the done-file is written last."""
  import soundfile
  import support_pipelines as support
  from soundscope.configs import params as P
  from soundscope.pipelines import embedding, parts
  paths = []
  for name, seconds in (("a.wav", 2.0), ("b.wav", 2.9), ("c.wav", 1.0)):
    paths.append(str(tmp_path / name))
    soundfile.write(paths[-1], support.tone(seconds, 16000, seed=len(paths)), 16000)
  jobs = [embedding.AudioJob(os.path.basename(p), os.path.basename(p), p, None, None, (), None,
                             None) for p in paths]
  config = embedding.EmbedConfig(P.VggishParams(), "unused", "unused", True, None)
  fn = embedding._EmbedPartsFn(config, str(tmp_path))
  fn._handler = _QuantizingModel(fail_on=2)
  fn._model = None
  fn._beacon = __import__("soundscope.pipelines.progress", fromlist=["Beacon"]).Beacon(None)
  (summary,) = list(fn.process(parts.Part(7, tuple(jobs))))
  assert summary == {"index": 7, "inputs": 3}
  done = parts.read_done(str(tmp_path))[7]
  assert done["counts"] == {"records": 1, "manifest": 1, "errors": 2}
  import pyarrow.parquet as pq
  errors = pq.read_table(str(tmp_path / "part-00007.errors.parquet")).to_pylist()
  assert [row["input"] for row in errors] == paths[1:]
  assert all(row["stage"] == "inference" and row["error_type"] == "MemoryError"
             and row["message"].startswith(row["input"] + ": VGGish failed: OOM")
             for row in errors)
  manifest = pq.read_table(str(tmp_path / "part-00007.manifest.parquet")).to_pylist()
  assert [row["video_id"] for row in manifest] == ["a.wav"]
  assert manifest[0]["embedding_frames"] == 2
  assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]


def test_dask_is_named_three_ways_and_a_missing_extra_is_one_line(tmp_path, capsys,
                                                                  monkeypatch):
  for name in ("dask", "DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner"):
    assert options.is_dask(["--runner", name]) and options.is_dask([f"--runner={name}"])
  assert not options.is_dask(["--runner", "DirectRunner"]) and not options.is_dask([])
  # Without the dask extra (its modules made unimportable): one line naming it, exit 2.
  import sys
  from soundscope.cli import main as cli
  monkeypatch.setitem(sys.modules, "distributed", None)
  _touch(str(tmp_path / "in" / "a.wav"))
  status = cli.main(["predict", "--model-factory", "support_pipelines:make_tiny_classifier",
                     "--input", str(tmp_path / "in"), "--output", str(tmp_path / "p.parquet"),
                     "--no-progress", "--runner", "dask"])
  err = capsys.readouterr().err
  assert status == 2 and err.strip().splitlines() == [
      "soundscope predict: --runner dask needs the dask extra (distributed is missing): "
      "pip install 'soundscope[dask]'"]
  assert sorted(os.listdir(tmp_path)) == ["in"]


def test_the_progress_line_counts_the_parts_this_run_runs_and_never_more_than_all(tmp_path):
  """Under --resume the parts folder also holds parts taken over: a remote run's line
  counts only its own; beacons of a part run twice never pass the total."""
  import io
  from soundscope.pipelines import parts, progress
  parts_dir = tmp_path / "parts"
  parts_dir.mkdir()
  for index, inputs in ((0, 5), (1, 5), (2, 4)):
    outputs.write_json(str(parts_dir / parts.done_name(index)),
                       {"index": index, "inputs": inputs, "seconds": 5.0 * inputs})
  remote = progress.Reporter("embed", 9, enabled=False, stream=io.StringIO(),
                             parts_dir=str(parts_dir), parts=[1, 2])
  assert remote.totals() == (9, 45.0)
  with progress.Reporter("embed", 3, stream=io.StringIO(), within=str(tmp_path)) as local:
    assert os.path.dirname(local.directory) == str(tmp_path)
    for _ in range(2):   # One part's beacons twice over: its worker was lost.
      beacon = progress.Beacon(local.directory)
      beacon.add(files=2, seconds=10.0)
      beacon.flush()
    assert local.line().startswith("embed: 3/3 files (100%)")
  assert not any(name.startswith(".progress-") for name in os.listdir(tmp_path))


def test_parts_spread_a_few_dozen_inputs_and_keep_their_order():
  from soundscope.pipelines import parts
  assert [parts.part_size(n) for n in (1, 30, 64, 65, 400, 4062, 10 ** 6)] == [
      1, 1, 1, 2, 7, 64, 64]
  # TFRecord files (44 wanted per part) still make at least 8 parts of a few dozen.
  assert [parts.part_size(n, 44) for n in (6, 30, 400, 4062)] == [1, 4, 44, 44]
  plan = parts.plan(list("abcdefg"), 3)
  assert plan == [parts.Part(0, ("a", "b", "c")), parts.Part(1, ("d", "e", "f")),
                  parts.Part(2, ("g",))]


def test_committed_rows_are_read_a_part_at_a_time_from_the_row_groups_that_hold_them(tmp_path):
  """resume's reader of committed outputs: rows taken in any order equal the whole table's
  (two Parquet files of 4-row groups, a JSON-lines file, a skip), only the row groups
  holding them are read, and TFRecord payloads come back by offset with their CRCs."""
  import json
  import numpy as np
  import pyarrow as pa
  import pyarrow.parquet as pq
  from soundscope.pipelines import resume
  schema = pa.schema([("source", pa.string()), ("value", pa.float32())])
  whole = pa.Table.from_pylist([{"source": f"s{i // 3}", "value": float(i)} for i in range(30)],
                               schema=schema)
  pq.write_table(whole.slice(0, 13), tmp_path / "a.parquet", row_group_size=4)
  pq.write_table(whole.slice(13, 11), tmp_path / "b.parquet", row_group_size=4)
  with open(tmp_path / "c.jsonl", "w") as handle:
    handle.write("".join(json.dumps(row) + "\n" for row in whole.slice(24).to_pylist()))
  reuse = resume.Reuse([str(tmp_path / n) for n in ("a.parquet", "b.parquet", "c.jsonl")],
                       "source", schema, 2)
  table = resume._CommittedTable(reuse)
  expected = whole.slice(2)
  assert table.keys.equals(expected["source"].combine_chunks())
  read = []
  original = table._read_piece
  table._read_piece = lambda index: read.append(index) or original(index)
  rows = pa.array([9, 8, 0, 27, 5], pa.int64())   # Rows 2-11 of a.parquet, 29 (JSON lines).
  assert table.take(rows).equals(expected.take(rows))
  assert read == [0, 1, 2, 7]   # a.parquet's groups 0-2 and the JSON lines' piece.
  rows = pa.array([3, 10, 2, 9], pa.int64())      # Rows 4-12: a.parquet's groups 1-3.
  assert table.take(rows).equals(expected.take(rows))
  assert read == [0, 1, 2, 7, 3]   # Groups 1 and 2 were kept; b.parquet is never read.
  assert table.take(pa.array([], pa.int64())).num_rows == 0
  payloads = [bytes([i]) * (i + 1) for i in range(6)]
  import tensorflow as tf
  with tf.io.TFRecordWriter(str(tmp_path / "r.tfrecord")) as writer:
    for payload in payloads:
      writer.write(payload)
  records = resume._CommittedTable(resume.Reuse([str(tmp_path / "r.tfrecord")], "rows", None, 1))
  assert records.take(np.array([4, 0, 2])) == [payloads[5], payloads[1], payloads[3]]


def test_parts_frame_tfrecords_byte_for_byte_as_tensorflow_does(tmp_path):
  """The parts' TFRecord files are written without TensorFlow (pipelines/tfrecords.py, crcmod's
  CRC32C); TensorFlow's writer gives the same bytes, and its reader the payloads back."""
  import tensorflow as tf
  from soundscope.pipelines import parts
  payloads = [b"", b"x", bytes(range(256)) * 40, b"\xff" * 100003]
  with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
    for payload in payloads:
      writer.write(payload)
  ours = parts._TFRecordFile(str(tmp_path / "ours.tfrecord"))
  ours.write(payloads[:2])
  ours.write(payloads[2:])
  ours.close()
  assert (tmp_path / "ours.tfrecord").read_bytes() == (tmp_path / "tf.tfrecord").read_bytes()
  assert [bytes(r) for r in tf.data.TFRecordDataset(str(tmp_path / "ours.tfrecord"))
          .as_numpy_iterator()] == payloads
