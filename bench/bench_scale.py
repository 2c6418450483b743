"""Scale-out figures: runners, resume, and TFRecord predict against a plain tf.data loop.

  python bench/bench_scale.py [--clips 400] [--copies 1] [--record-files 4062]
                              [--repeat 1] [--skip predict,embed,...]

Every run is a fresh `python -m soundscope ...` process timed by wall clock
(imports, model loading and the merge included), on the first --clips ESC-10
clips (../shared/assets), each linked --copies times under its own name (a larger
archive: a run's fixed cost, ~0.85 s for predict on the default runner, mostly
importing Beam and starting the pipeline, weighs less in it):

  runners   `predict --model yamnet` and `embed`, each on the default runner
            (FnApiRunner, in-process), on Dask with one worker and with two
            workers of one model thread (a LocalCluster started by the command,
            --decode-threads 1 everywhere; embed decodes in one more thread); prints the wall times, two workers
            against one (issue 19's target: >= 1.6x) and one Dask worker against
            the default runner (target: <= 15 % more).
  cluster   the same two commands against a running cluster (`--dask-address`): a
            scheduler and one or two `dask worker --nthreads 1` processes with
            soundscope's worker and nanny preload, started by the bench as
            docs/scale-out.md tells a user to, each with one BLAS thread; each command twice, on fresh
            workers (they load the model in the run) and again on the same workers
            (their model is loaded: models are kept per worker process, keyed by
            the model files); two workers against one, as above.
  resume    `predict --model yamnet`, then `embed`, killed (SIGKILL) once half their
            parts are done, then `--resume`: its wall time against a whole run
            (target: <= 55 %), and the outputs equal the whole run's (rows but
            run_time; TFRecord shards byte for byte and the manifest).
  records   `predict` on --record-files AudioSet eval TFRecord files with a VGGish
            head (a random AttentionPoolingModel exported into a temporary store:
            speed does not depend on the weights) against a plain loop over the same
            files in a fresh process of its own (one tf.data.TFRecordDataset over all
            of them, records decoded and scored in batches of 256 with the same head).
            Like for like: both processes' wall time (each imports TensorFlow and
            loads the head: ~5 s of either); and the loop alone against predict's
            pipeline time ("finished in", which holds its TensorFlow import and model
            load) less the loop process's own start-up, an estimate of the pipeline's
            work after its model is loaded.

On a shared 2-core machine one run of the same command moves by up to ~20 %
(a worker's steady rate of parts, read from the parts' done-files): --repeat N
prints the median of N runs and their range.  The runners section runs N rounds
of one run on each runner, so a slow hour weighs on all three, and also gives the
ratios per round.

Say the load average (`uptime`) with any figure: the machine's other work shows.
"""

import argparse
import glob
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402

YAMNET_FILES = ("yamnet_classification.tflite", "yamnet_class_map.csv",
                "yamnet_embedding.tflite")


def soundscope(argv, env=None):
  """Runs `soundscope argv` in a fresh process; returns (wall seconds, stdout)."""
  started = time.monotonic()
  result = subprocess.run([sys.executable, "-m", "soundscope", *argv], capture_output=True,
                          text=True, env=env)
  wall = time.monotonic() - started
  if result.returncode != 0:
    sys.exit(f"bench: soundscope {' '.join(argv[:1])} failed:\n{result.stderr[-2000:]}")
  return wall, result.stdout


def pipeline_seconds(out):
  found = re.search(r"finished in ([0-9.]+) s", out)
  return float(found.group(1)) if found else float("nan")


def yamnet_store(root):
  from soundscope.models.store import files as store
  model_store = store.ModelStore(root)
  for name in YAMNET_FILES:
    model_store.import_file(common.require_asset(f"yamnet/{name}"))
  return root


def clip_folder(root, count, copies=1):
  """A folder of links to the first `count` ESC-10 clips, each `copies` times (name-cK.flac)."""
  folder = os.path.join(root, "clips")
  os.makedirs(folder)
  names = sorted(n for n in os.listdir(common.require_asset("audio/esc10")) if n.endswith(".flac"))
  for name in names[:count]:
    for copy in range(copies):
      link = name if copy == 0 else name.replace(".flac", f"-c{copy}.flac")
      os.symlink(common.require_asset(f"audio/esc10/{name}"), os.path.join(folder, link))
  return folder


RUNNERS = (("default runner", []),
           ("Dask, 1 worker", ["--runner", "dask", "--dask-workers", "1"]),
           ("Dask, 2 workers", ["--runner", "dask", "--dask-workers", "2"]))


def embed_argv(clips, root):
  """`embed` of the runners and cluster sections (the VGGish checkpoint written once)."""
  return ["embed", "--input", clips, "--output", os.path.join(root, "e"), "--vggish-checkpoint",
          common.vggish_checkpoint(), "--pca-params",
          str(common.require_asset("vggish/vggish_pca_params.npz")), "--vggish-threads", "1",
          "--no-progress"]


def figure(walls):
  """(median of `walls`, its figure for the table: 'M s (runs A-B s)')."""
  import statistics
  median = statistics.median(walls)
  spread = f" (runs {min(walls):.1f}-{max(walls):.1f} s)" if len(walls) > 1 else ""
  return median, f"{median:.1f} s{spread}"


def bench_runners(name, argv, repeat=1):
  """Runs the command on each of RUNNERS in turn, `repeat` rounds: a round holds one run
  of each, so the machine's drift (other tenants) weighs on all three alike, and the
  ratios are also given per round (their median and range)."""
  import statistics
  walls = {label: [] for label, _ in RUNNERS}
  for _ in range(repeat):
    for label, runner in RUNNERS:
      walls[label].append(soundscope([*argv, "--decode-threads", "1", *runner])[0])
  medians = {}
  for label, _ in RUNNERS:
    medians[label], text = figure(walls[label])
    print(f"| {name} | {label} | {text} |", flush=True)
  one, two, default = (walls["Dask, 1 worker"], walls["Dask, 2 workers"],
                       walls["default runner"])
  speedups = [a / b for a, b in zip(one, two)]
  overheads = [100 * (a / b - 1) for a, b in zip(one, default)]
  rounds = (f"; per round {statistics.median(speedups):.2f}x ({min(speedups):.2f}-"
            f"{max(speedups):.2f}x) and {statistics.median(overheads):+.0f} % "
            f"({min(overheads):+.0f} to {max(overheads):+.0f} %)" if repeat > 1 else "")
  print(f"{name}: 2 workers / 1 worker speed-up "
        f"{medians['Dask, 1 worker'] / medians['Dask, 2 workers']:.2f}x (target >= 1.6x); "
        f"Dask 1 worker over the default runner "
        f"{100 * (medians['Dask, 1 worker'] / medians['default runner'] - 1):+.0f} % "
        f"(target <= +15 %){rounds}", flush=True)


def running_cluster(workers):
  """Starts `dask scheduler` and `workers` single-threaded workers on loopback.

  Returns (address, stop): stop() kills them all.
  """
  import socket
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
  address = f"tcp://127.0.0.1:{port}"
  env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
             TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
  quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env,
           "start_new_session": True}
  processes = [subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                 "--no-dashboard"], **quiet)]
  for _ in range(workers):
    processes.append(subprocess.Popen(
        ["dask", "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
         "--host", "127.0.0.1", "--preload", "soundscope.pipelines.dask_worker",
         "--preload-nanny", "soundscope.pipelines.dask_worker"], **quiet))

  def stop():
    for process in processes:
      try:
        os.killpg(process.pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
      process.wait()

  from distributed import Client
  deadline = time.monotonic() + 60
  while True:
    try:
      with Client(address, timeout=5) as client:
        client.wait_for_workers(workers, timeout=60)
      return address, stop
    except OSError:
      if time.monotonic() > deadline:
        stop()
        raise
      time.sleep(0.2)


def bench_running_cluster(name, argv, repeat=1):
  """Each worker count: a new cluster per repeat, its first run 'fresh', its second 'warm'."""
  walls = {}
  for workers in (1, 2):
    runs = {"fresh": [], "warm": []}
    for _ in range(repeat):
      address, stop = running_cluster(workers)
      try:
        for state in ("fresh", "warm"):
          runs[state].append(soundscope([*argv, "--decode-threads", "1", "--runner", "dask",
                                         "--dask-address", address])[0])
      finally:
        stop()
    for state, found in runs.items():
      walls[workers, state], text = figure(found)
      print(f"| {name} | running cluster, {workers} worker{'s' if workers > 1 else ''}, "
            f"{state} | {text} |", flush=True)
  for state in ("fresh", "warm"):
    print(f"{name}, running cluster, {state} workers: 2 workers / 1 worker speed-up "
          f"{walls[1, state] / walls[2, state]:.2f}x (target >= 1.6x)", flush=True)


def bench_resume(root, name, argv, compare, repeat=1):
  """Times a whole run of `argv`, then one killed at half its parts and resumed; `repeat`
  such pairs, the median ratio printed with their range.

  Args:
    name: the table's label; argv: the command without --output (it gets
      root/<stem>.<...>); compare: callable(whole output, resumed output) -> bool.
  """
  import statistics
  pairs = [resume_once(root, argv, compare) for _ in range(repeat)]
  ratios = sorted(resumed / whole for whole, resumed, _, _ in pairs)
  whole, resumed, taken, same = pairs[0]
  spread = (f" (runs {100 * ratios[0]:.0f}-{100 * ratios[-1]:.0f} %)" if repeat > 1 else "")
  print(f"| {name} | whole run {statistics.median(p[0] for p in pairs):.1f} s | killed at "
        f"{taken}, --resume {statistics.median(p[1] for p in pairs):.1f} s = "
        f"{100 * statistics.median(ratios):.0f} %{spread} (target <= 55 %) | outputs equal: "
        f"{all(p[3] for p in pairs)} |", flush=True)


def resume_once(root, argv, compare):
  """(whole seconds, resumed seconds, 'K of N parts' taken over, outputs equal)."""
  import json
  whole_path, resumed_path = os.path.join(root, "whole"), os.path.join(root, "resumed")
  whole, _ = soundscope([*argv, "--output", whole_path + ".parquet"])
  process = subprocess.Popen([sys.executable, "-m", "soundscope", *argv, "--output",
                              resumed_path + ".parquet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
  total = None
  while True:
    runs = glob.glob(os.path.join(root, ".resumed*.staging-*", ".run.json"))
    if runs and total is None:
      with open(runs[0]) as handle:
        total = len(json.load(handle)["keys"])
    done = glob.glob(os.path.join(root, ".resumed*.staging-*", "parts", "*.done.json"))
    if total and len(done) >= total / 2:
      break
    if process.poll() is not None:
      sys.exit("bench: the run ended before half its parts were done (use more --clips)")
    time.sleep(0.01)
  os.killpg(process.pid, signal.SIGKILL)
  process.wait()
  resumed, out = soundscope([*argv, "--output", resumed_path + ".parquet", "--resume"])
  taken = re.search(r"--resume: (\d+) of (\d+) parts", out)
  same = compare(whole_path, resumed_path)
  for path in glob.glob(os.path.join(root, "whole*")) + glob.glob(os.path.join(root, "resumed*")):
    os.remove(path)
  return whole, resumed, f"{taken.group(1)} of {taken.group(2)} parts", same


def same_rows(whole, resumed):
  import pyarrow.parquet as pq
  return pq.read_table(resumed + ".parquet").drop_columns(["run_time"]).equals(
      pq.read_table(whole + ".parquet").drop_columns(["run_time"]))


def same_records(whole, resumed):
  """embed's outputs (prefix 'whole.parquet'): every shard byte for byte, and the manifest."""
  shards = sorted(glob.glob(whole + ".parquet-*-of-*.tfrecord"))
  return bool(shards) and all(
      open(path, "rb").read() == open(path.replace(whole, resumed), "rb").read()
      for path in shards + [whole + ".parquet-manifest.parquet"])


def head_store(root):
  """A store with a random AttentionPoolingModel head named 'head'."""
  from soundscope.models.networks import frame_models
  from soundscope.models.store import heads
  store = os.path.join(root, "store")
  heads.export_head(frame_models.build("AttentionPoolingModel", 527, hidden_units=16),
                    os.path.join(store, "head"),
                    common.require_asset("audioset/class_labels_indices.csv"))
  return store


LOOP_SCRIPT = """
import os, sys, time
started = time.monotonic()
sys.path.insert(0, {repo!r})
import tensorflow as tf
from soundscope.models.store import heads
from soundscope.transforms import records
files = open({listing!r}).read().split()
head = heads.load_head_classifier(os.path.join({store!r}, "head"), {store!r})
head.embedding_batch_scores([records.decode(next(iter(
    tf.data.TFRecordDataset(files[:1]).as_numpy_iterator()))).embedding])   # Traced.
ready = time.monotonic()
count, batch = 0, []
for serialized in tf.data.TFRecordDataset(files).as_numpy_iterator():
  batch.append(records.decode(serialized).embedding)
  if len(batch) == 256:
    head.embedding_batch_scores(batch)
    count, batch = count + len(batch), []
if batch:
  head.embedding_batch_scores(batch)
  count += len(batch)
print(count, ready - started, time.monotonic() - ready)
"""


def plain_loop(listing, store):
  """(records, start-up seconds, loop seconds, process wall seconds) of a fresh process
  running one tf.data dataset over the listed files, scored in batches of 256."""
  started = time.monotonic()
  result = subprocess.run([sys.executable, "-c", LOOP_SCRIPT.format(
      repo=str(REPO), listing=listing, store=store)], capture_output=True, text=True, check=True)
  wall = time.monotonic() - started
  count, startup, loop = result.stdout.split()
  return int(count), float(startup), float(loop), wall


def bench_records(root, count):
  files = sorted(glob.glob(str(common.require_asset("audioset/eval") / "*.tfrecord")))[:count]
  store = head_store(root)
  listing = os.path.join(root, "records.txt")
  with open(listing, "w") as handle:
    handle.write("".join(f"{path}\n" for path in files))
  records, startup, loop_seconds, loop_wall = plain_loop(listing, store)
  wall, out = soundscope(["predict", "--input", listing, "--output",
                          os.path.join(root, "records.parquet"), "--model", "head",
                          "--model-dir", store, "--no-progress"])
  seconds = pipeline_seconds(out)
  print(f"| {len(files)} files, {records} records | plain tf.data loop: {records / loop_seconds:.0f} "
        f"rec/s in its loop, process {loop_wall:.1f} s ({startup:.1f} s of imports and model "
        f"load) | predict: pipeline {seconds:.1f} s (its model load and TensorFlow import "
        f"included), process {wall:.1f} s | process / process {wall / loop_wall:.2f}x "
        f"(target <= 1.5x) | predict's pipeline less the loop's start-up, against the loop: "
        f"{(seconds - startup) / loop_seconds:.2f}x |", flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clips", type=int, default=400)
  parser.add_argument("--copies", type=int, default=1,
                      help="link each clip this many times (default 1: the 400 clips)")
  parser.add_argument("--record-files", type=int, default=4062)
  parser.add_argument("--repeat", type=int, default=1,
                      help="runs of each runners/cluster figure and resume pair; their median is printed")
  parser.add_argument("--skip", default="", help="comma-separated: predict,embed,cluster,resume,records")
  args = parser.parse_args()
  skip = set(filter(None, args.skip.split(",")))
  common.quiet_tensorflow()
  print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; cores: "
        f"{os.cpu_count()}", flush=True)
  with tempfile.TemporaryDirectory(prefix="bench_scale_") as root:
    clips = clip_folder(root, args.clips, args.copies)
    store = yamnet_store(os.path.join(root, "yamnet-store"))
    predict_argv = ["predict", "--model", "yamnet", "--model-dir", store, "--input", clips,
                    "--output", os.path.join(root, "p.parquet"), "--no-progress"]
    if "predict" not in skip:
      bench_runners("predict yamnet", predict_argv, args.repeat)
    if "embed" not in skip:
      bench_runners("embed", embed_argv(clips, root), args.repeat)
    if "cluster" not in skip:
      bench_running_cluster("predict yamnet", predict_argv, args.repeat)
      bench_running_cluster("embed", embed_argv(clips, root), args.repeat)
    if "resume" not in skip:
      bench_resume(root, "predict yamnet", ["predict", "--model", "yamnet", "--model-dir", store,
                                            "--input", clips, "--scores", "--no-progress"],
                   same_rows, args.repeat)
      bench_resume(root, "embed", ["embed", "--input", clips, "--vggish-checkpoint",
                                   common.vggish_checkpoint(), "--pca-params",
                                   str(common.require_asset("vggish/vggish_pca_params.npz")),
                                   "--no-progress"], same_records, args.repeat)
    if "records" not in skip:
      bench_records(root, args.record_files)
    shutil.rmtree(root, ignore_errors=True)
  print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)


if __name__ == "__main__":
  main()
