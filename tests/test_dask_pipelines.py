"""embed, predict (audio and TFRecords) and audioset on a real Dask cluster.

(TFRecord predict also on Beam's multi_processing worker processes.)

A scheduler and two single-threaded workers run as separate processes on
loopback (tests/support_dask.py, started once for the module); each command
runs on it through `--runner dask --dask-address` and on the default runner,
and the outputs must be equal: prediction rows (all but run_time) and errors
as tables, TFRecord shards byte for byte, manifests as tables.  The
scheduler's record of the tasks shows that both workers ran parts of each
pipeline.  Inputs: real ESC-10 clips and AudioSet eval records, plus broken
files (the error rows must match too).
"""

import glob
import os
import re
import shutil

import pyarrow.parquet as pq
import pytest
import soundfile

from soundscope.cli import main as cli
import support_dask
import support_pipelines as support
from conftest import asset

pytestmark = pytest.mark.slow

CLIPS = ("1-100032-A-0.flac", "1-110389-A-0.flac", "1-17150-A-12.flac", "1-172649-A-40.flac")
FACTORY = "support_pipelines:make_tiny_classifier"


@pytest.fixture(scope="module")
def cluster():
  with support_dask.DaskCluster(workers=2) as running:
    yield running


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
  """Four real clips and two broken files in one folder."""
  folder = tmp_path_factory.mktemp("dask_clips")
  for name in CLIPS:
    shutil.copy(asset(f"audio/esc10/{name}"), folder)
  (folder / "notes.wav").write_text("not audio\n" * 10)
  (folder / "empty.flac").write_bytes(b"")
  return folder


def _run(capsys, command, output, *args, dask=None):
  """Runs a command on the default runner, or on the cluster `dask`; returns its stdout."""
  runner = ["--runner", "dask", "--dask-address", dask.address] if dask else []
  status = cli.main([command, "--no-progress", "--output", str(output), *args, *runner])
  captured = capsys.readouterr()
  assert status == 0, captured.out + captured.err
  return captured.out


def _ran_on_both_workers(cluster, before):
  """The pipeline's part tasks since `before` (tasks_by_worker) ran on both workers."""
  after = cluster.tasks_by_worker()
  new = {worker: [key for key in keys[len(before.get(worker, [])):]
                  if "apply_dofn_to_bundle" in key]
         for worker, keys in after.items()}
  assert len(new) == 2 and all(new.values()), new


def _table(path, drop=()):
  table = pq.read_table(path)
  return table.drop_columns(list(drop)) if drop else table


def test_predict_audio_on_dask_equals_the_default_runner(cluster, clips, tmp_path, capsys):
  common = ("--model-factory", FACTORY, "--input", str(clips), "--scores", "--per-window")
  _run(capsys, "predict", tmp_path / "local.parquet", *common)
  before = cluster.tasks_by_worker()
  out = _run(capsys, "predict", tmp_path / "dask.parquet", *common, dask=cluster)
  assert "files: 6 in = 4 written + 2 errors (all accounted for)" in out
  _ran_on_both_workers(cluster, before)
  local = _table(tmp_path / "local.parquet", ["run_time"])
  assert local.num_rows == 4 * 5 and _table(tmp_path / "dask.parquet", ["run_time"]).equals(
      local)
  assert _table(tmp_path / "dask-errors.parquet").equals(_table(tmp_path / "local-errors.parquet"))


def test_predict_tfrecords_on_dask_equals_the_default_runner(cluster, tmp_path, capsys,
                                                             monkeypatch):
  # Beam's worker processes (multi_processing, below) import the tests' model like any custom one.
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
      [os.path.dirname(support.__file__), os.environ.get("PYTHONPATH", "")]))
  folder = tmp_path / "eval"
  folder.mkdir()
  sources = sorted(glob.glob(str(asset("audioset/eval") / "*.tfrecord")))[:5]
  for path in sources:
    shutil.copy(path, folder)
  data = open(sources[0], "rb").read()
  (folder / "zz_damaged.tfrecord").write_bytes(data[:len(data) - 7])   # Cut in its last record.
  common = ("--model-factory", FACTORY, "--input", str(folder / "*.tfrecord"), "--scores")
  local_out = _run(capsys, "predict", tmp_path / "local.parquet", *common)
  before = cluster.tasks_by_worker()
  out = _run(capsys, "predict", tmp_path / "dask.parquet", *common, dask=cluster)
  _ran_on_both_workers(cluster, before)
  count_line = [line for line in local_out.splitlines() if line.startswith("records:")]
  assert count_line and count_line[0] in out and "+ 1 errors (all accounted for)" in count_line[0]
  assert _table(tmp_path / "dask.parquet", ["run_time"]).equals(
      _table(tmp_path / "local.parquet", ["run_time"]))
  assert _table(tmp_path / "dask-errors.parquet").equals(_table(tmp_path / "local-errors.parquet"))
  # Beam's own worker processes give the same outputs too.
  out = _run(capsys, "predict", tmp_path / "mp.parquet", *common, "--direct_num_workers=2",
             "--direct_running_mode=multi_processing")
  assert count_line[0] in out
  assert _table(tmp_path / "mp.parquet", ["run_time"]).equals(
      _table(tmp_path / "local.parquet", ["run_time"]))
  assert _table(tmp_path / "mp-errors.parquet").equals(_table(tmp_path / "local-errors.parquet"))


def test_embed_and_audioset_on_dask_equal_the_default_runner(cluster, clips, tmp_path, capsys,
                                                             vggish_checkpoint, pca_params_path):
  vggish = ("--vggish-checkpoint", str(vggish_checkpoint), "--pca-params", str(pca_params_path),
            "--num-shards", "2")
  _run(capsys, "embed", tmp_path / "local" / "clips", "--input", str(clips), *vggish)
  before = cluster.tasks_by_worker()
  out = _run(capsys, "embed", tmp_path / "dask" / "clips", "--input", str(clips), *vggish,
             dask=cluster)
  assert "files: 6 in = 4 written + 2 errors (all accounted for)" in out
  _ran_on_both_workers(cluster, before)
  # The workers imported TensorFlow for VGGish; its import-time native lines (oneDNN's, on
  # CPUs where it is on by default) are held back as the command line's are.
  assert not _native_log_lines(cluster.worker_stderr())
  for name in ("clips-00000-of-00002.tfrecord", "clips-00001-of-00002.tfrecord"):
    local = (tmp_path / "local" / name).read_bytes()
    assert local and (tmp_path / "dask" / name).read_bytes() == local
  for tail in ("-manifest.parquet", "-errors.parquet"):
    assert _table(tmp_path / "dask" / f"clips{tail}").equals(
        _table(tmp_path / "local" / f"clips{tail}"))
  # audioset: three segments whose audio is a whole ESC-10 clip cut, or already cut, one missing.
  audio = tmp_path / "audio"
  audio.mkdir()
  wave, rate = soundfile.read(str(clips / CLIPS[0]))
  soundfile.write(str(audio / "aaaaaaaaaaa.wav"), wave, rate)
  shutil.copy(clips / CLIPS[1], audio / "bbbbbbbbbbb_1.000_4.000.flac")
  csv_path = tmp_path / "segments.csv"
  csv_path.write_text("# header\n# header\n# YTID, start_seconds, end_seconds, positive_labels\n"
                      'aaaaaaaaaaa, 1.000, 4.000, "/m/0bt9lr"\n'
                      'bbbbbbbbbbb, 1.000, 4.000, "/m/0bt9lr,/m/068hy"\n'
                      'ccccccccccc, 0.000, 10.000, "/m/09x0r"\n')
  segments = ("--segments", str(csv_path), "--audio-dir", str(audio), "--class-labels",
              str(asset("audioset/class_labels_indices.csv")), *vggish)
  _run(capsys, "audioset", tmp_path / "local" / "bal", *segments)
  out = _run(capsys, "audioset", tmp_path / "dask" / "bal", *segments, dask=cluster)
  assert "segments: 3 in = 2 written + 1 errors (all accounted for)" in out
  for name in ("bal-00000-of-00002.tfrecord", "bal-00001-of-00002.tfrecord"):
    assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
  for tail in ("-manifest.parquet", "-errors.parquet"):
    assert _table(tmp_path / "dask" / f"bal{tail}").equals(_table(tmp_path / "local" / f"bal{tail}"))


def test_a_missing_dask_extra_or_scheduler_is_one_line(tmp_path, capsys, clips):
  """A scheduler nobody listens on: one line naming the address, exit 1, no traceback."""
  port = support_dask.free_port()
  status = cli.main(["predict", "--model-factory", FACTORY, "--no-progress", "--input",
                     str(clips), "--output", str(tmp_path / "p.parquet"), "--runner", "dask",
                     "--dask-address", f"tcp://127.0.0.1:{port}",
                     "--dask_connection_timeout=2"])
  err = capsys.readouterr().err
  assert status == 1 and "Traceback" not in err
  assert len(err.strip().splitlines()) == 1 and f"127.0.0.1:{port}" in err
  assert sorted(os.listdir(tmp_path)) == []


def _native_log_lines(text):
  """TensorFlow's native INFO/WARNING records in `text` ('I1204 10:00:00.1 ... port.cc:153] ...')
  and absl's preamble before them."""
  return [line for line in text.splitlines()
          if re.match(r"[IW]\d{4} ", line) or line.startswith("WARNING: All log messages")]


def _soundscope(*argv, cwd):
  """`python -m soundscope argv` in a fresh process (the tests' model factory importable)."""
  import subprocess
  import support_runtime
  return subprocess.run(support_runtime.soundscope_command(*argv), capture_output=True,
                        text=True, env=support.child_env(), cwd=cwd, timeout=300)


def test_a_local_cluster_started_early_runs_the_pipeline_and_ends_with_the_command(
    clips, tmp_path):
  """`--runner dask` without an address: the LocalCluster the command starts early (its
  workers import Beam while the launcher plans, pipelines/cluster.py) gives the default
  runner's rows; a run that stops before its pipeline (a usage error) still closes it."""
  import psutil
  common = ("predict", "--model-factory", FACTORY, "--input", str(clips), "--no-progress")
  local = _soundscope(*common, "--output", str(tmp_path / "local.parquet"), cwd=tmp_path)
  assert local.returncode == 0, local.stderr
  ran = _soundscope(*common, "--output", str(tmp_path / "dask.parquet"), "--runner", "dask",
                    "--dask-workers", "2", cwd=tmp_path)
  assert ran.returncode == 0 and ran.stderr == "", ran.stderr
  assert "files: 6 in = 4 written + 2 errors (all accounted for)" in ran.stdout
  assert _table(tmp_path / "dask.parquet", ["run_time"]).equals(
      _table(tmp_path / "local.parquet", ["run_time"]))
  before = {p.pid for p in psutil.process_iter()}
  (tmp_path / "empty").mkdir()    # Refused after the cluster's start began.
  refused = _soundscope("predict", "--model-factory", FACTORY, "--input", str(tmp_path / "empty"),
                        "--output", str(tmp_path / "x.parquet"), "--runner", "dask",
                        "--dask-workers", "2", cwd=tmp_path)
  assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
  assert "holds no file" in refused.stderr and not list(tmp_path.glob("x*"))
  left = [p for p in psutil.process_iter(["cmdline"])
          if p.pid not in before and any(
              word in " ".join(p.info["cmdline"] or []) for word in ("spawn_main", "distributed"))]
  # The two workers' forkserver (pipelines/cluster.py) ends once it reads its parent's end.
  _, alive = psutil.wait_procs(left, timeout=5)
  assert not alive, alive


def _worker_state(dask_worker):
  import sys
  import psutil
  import threadpoolctl
  parent = psutil.Process(os.getppid())
  return (os.environ.get("OPENBLAS_NUM_THREADS"),
          tuple(sorted({pool["num_threads"] for pool in threadpoolctl.threadpool_info()})),
          "tensorflow" in sys.modules, _slowing_settings(dask_worker),
          "forkserver" in " ".join(parent.cmdline()),
          any("apache_beam" in (mapped.path or "") for mapped in parent.memory_maps()))


def test_workers_started_without_the_preloads_get_one_note_after_the_run(
    cluster, clips, tmp_path, capsys):
  """A running cluster whose worker lacks soundscope's preloads still runs the pipeline;
  the run ends with one line naming the address and both flags.  The module's cluster,
  started as documented, gets none."""
  argv = ["predict", "--model-factory", FACTORY, "--input", str(clips), "--no-progress",
          "--runner", "dask"]
  with support_dask.DaskCluster(workers=1, preload=False) as bare:
    status = cli.main([*argv, "--output", str(tmp_path / "bare.parquet"),
                       "--dask-address", bare.address])
  captured = capsys.readouterr()
  assert status == 0 and "files: 6 in = 4 written + 2 errors (all accounted for)" in captured.out
  notes = captured.err.strip().splitlines()
  assert len(notes) == 1 and "1 of 1 workers" in notes[0] and bare.address in notes[0], notes
  assert ("--preload soundscope.pipelines.dask_worker and --preload-nanny "
          "soundscope.pipelines.dask_worker") in notes[0]
  status = cli.main([*argv, "--output", str(tmp_path / "prepared.parquet"),
                     "--dask-address", cluster.address])
  captured = capsys.readouterr()
  assert status == 0 and captured.err == "", captured.err
  assert _table(tmp_path / "prepared.parquet", ["run_time"]).equals(
      _table(tmp_path / "bare.parquet", ["run_time"]))


def _slowing_settings(dask_worker):
  """What Dask's defaults set up that slows these tasks: the worker's stack-sampling
  callbacks (its profiler) and the nanny's malloc trim threshold."""
  return (tuple(name for name in ("profile", "profile-cycle")
                if name in dask_worker.periodic_callbacks),
          os.environ.get("MALLOC_TRIM_THRESHOLD_"))


def test_preloaded_workers_of_a_running_cluster_have_no_profiler_nor_malloc_trimming(cluster):
  """`dask worker --preload soundscope.pipelines.dask_worker --preload-nanny
  soundscope.pipelines.dask_worker` (docs/scale-out.md): the worker's 10 ms stack
  sampling and the nanny's MALLOC_TRIM_THRESHOLD_ (with it every large numpy temporary
  is a fresh mmap) are both gone."""
  found = cluster.run_on_workers(_slowing_settings)
  assert len(found) == 2 and set(found.values()) == {((), None)}, found


@pytest.mark.parametrize("workers", [1, 2])
def test_a_local_cluster_forks_its_workers_from_a_server_that_imported_beam(workers):
  """pipelines/cluster.py: the workers are forked from one forkserver that had imported
  Beam (its extension modules are mapped), each with one BLAS thread, no TensorFlow, no
  profiler and no malloc trim threshold (pipelines/dask_worker.py); runs on it take at
  most DASK_PARTITIONS_PER_WORKER partitions a worker, one a part when fewer."""
  import distributed
  from soundscope.configs import pipelines as PC
  from soundscope.pipelines import cluster as cluster_lib
  from soundscope.pipelines import options
  local = cluster_lib.local_cluster(workers)
  try:
    with distributed.Client(local) as client:
      states = client.run(_worker_state)
    assert len(states) == workers, states
    assert set(states.values()) == {("1", (1,), False, ((), None), True, True)}, states
    assert options.dask_partitions(100, local) == workers * PC.DASK_PARTITIONS_PER_WORKER
    assert options.dask_partitions(5, local) == 5
    assert options.dask_partitions(100) == 100    # --dask-address: one per part.
  finally:
    local.close()


_EARLY_WITH_IMPORTS = """
import sys
import distributed
from soundscope.pipelines import cluster


def worker_state():
  before = ("colorsys" in sys.modules, "apache_beam" in sys.modules)
  import tensorflow   # As a model's first task does, after the fork.
  return before


cluster.start_early(1, ("colorsys",))
local = cluster.take(1)
with distributed.Client(local) as client:
  found = client.run(worker_state)
local.close()
print("colorsys" in sys.modules, sorted(found.values()))
"""


def test_a_cluster_started_early_forks_quiet_workers_with_the_modules_their_model_needs(
    tmp_path):
  """start_early's `imports` (e.g. TensorFlow for a VGGish head) are imported once, in the
  forkserver: a worker has them before any task, the launcher does not.  A worker that
  imports TensorFlow keeps its import-time native lines off stderr, as the command line
  does (options.quiet_worker_logs; TF_ENABLE_ONEDNN_OPTS=1 makes every CPU write them)."""
  import subprocess
  import sys
  env = {k: v for k, v in support.child_env(TF_ENABLE_ONEDNN_OPTS="1").items()
         if k != "TF_CPP_MIN_LOG_LEVEL"}
  ran = subprocess.run([sys.executable, "-c", _EARLY_WITH_IMPORTS], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
  assert ran.returncode == 0, ran.stderr
  assert ran.stdout.split("\n")[0] == "False [(True, True)]", ran.stdout + ran.stderr
  assert not _native_log_lines(ran.stderr), ran.stderr
