"""The local Dask cluster of `--runner dask` without --dask-address, started early.

Starting it is mostly importing: Dask, Beam and soundscope's pipeline modules,
~1.5 s of CPU a process.  `start_early`, as soon as the command line is parsed,
first starts Python's forkserver, which imports them once
(pipelines/dask_forkserver.py) on the other core while the launcher imports its
own, then starts the scheduler and the nannies in a background thread; each
nanny forks its worker from the forkserver, ready to take tasks.
options.runner_session then `take`s the running cluster.  A run that ends
before (a usage error, nothing left to do) closes it at exit.

After a run on a running cluster (--dask-address), note_missing_preloads (called by
pipelines/launch.py with the run's client) says in one line when its workers were
started without the preloads.

Nothing here imports Beam.
"""

import atexit
import logging
import threading

PRELOAD = "soundscope.pipelines.dask_worker"
# The forkserver's preload (pipelines/dask_forkserver.py), and its environment besides
# the launcher's: the one BLAS thread a nanny gives a spawned worker
# (distributed.nanny.pre-spawn-environ), set before its numpy starts OpenBLAS's threads.
# Forked workers start with Beam imported: 400 clips, predict yamnet on two workers,
# first part done at 2.1-2.9 s instead of 3.0-4.3 s (bench/bench_scale.py).
FORKSERVER_PRELOAD = ["distributed", "distributed.nanny", "soundscope.pipelines.dask_forkserver"]
FORKSERVER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# What the preloads (pipelines/dask_worker.py) change, as missing_preloads reads it back:
# the worker's periodic callbacks that sample and roll up task stacks (distributed.worker),
# which the worker preload removes, and the variable the nanny preload sets in its worker.
PROFILER_CALLBACKS = ("profile", "profile-cycle")
NANNY_MARK = "SOUNDSCOPE_DASK_NANNY_PRELOAD"

_lock = threading.Lock()
_early = None   # _Start of the cluster start_early began, until taken.
_forkserver_lock = threading.Lock()
_forkserver_started = False   # By start_forkserver, in this process.


class _Start:
  """A LocalCluster being started in a thread: its result or its exception."""

  def __init__(self, workers):
    self.workers = workers
    self.cluster = None
    self.error = None
    self.thread = threading.Thread(target=self._run, name="soundscope-dask-start", daemon=True)
    self.thread.start()

  def _run(self):
    try:
      self.cluster = local_cluster(self.workers)
    except BaseException as exc:  # pylint: disable=broad-except  (raised again by take())
      self.error = exc

  def result(self):
    self.thread.join()
    if self.error is not None:
      raise self.error
    return self.cluster


def local_cluster(workers):
  """A distributed.LocalCluster of `workers` single-threaded worker processes.

  Args:
    workers: worker processes (each with a nanny), one task at a time each.

  Returns:
    the running cluster (close() it); ImportError without the dask extra.
  """
  import dask
  import distributed
  # The scheduler, nannies and client log every start and stop at INFO.
  logging.getLogger("distributed").setLevel(logging.WARNING)
  start_forkserver()   # Unless start_early did; the nannies then fork from it.
  with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
    # No dashboard; the scheduler's HTTP routes (health) on a free port, not 8787, which
    # another cluster on the machine may hold (a warning on stderr otherwise).
    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=logging.ERROR,
        preload=[PRELOAD], preload_nanny=[PRELOAD])


def start_early(workers, imports=()):
  """Starts a LocalCluster of `workers` in the background (once per process); its
  forkserver also imports the modules `imports` (e.g. ("tensorflow",)) for the workers."""
  global _early
  with _lock:
    if _early is None:
      start_forkserver(imports)
      _early = _Start(workers)
      atexit.register(_close_untaken)


def start_forkserver(imports=()):
  """Starts the forkserver the local cluster's workers are forked from, once per process:
  FORKSERVER_PRELOAD, then `imports`, imported in FORKSERVER_ENV (set in this process
  only while it starts)."""
  global _forkserver_started
  import multiprocessing
  import os
  from multiprocessing import forkserver
  with _forkserver_lock:
    if _forkserver_started:
      return
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        FORKSERVER_PRELOAD + list(imports))
    saved = {name: os.environ.get(name) for name in FORKSERVER_ENV}
    os.environ.update(FORKSERVER_ENV)
    try:
      forkserver.ensure_running()
    finally:
      for name, value in saved.items():
        if value is None:
          os.environ.pop(name, None)
        else:
          os.environ[name] = value
    _forkserver_started = True


def take(workers):
  """The cluster start_early began (waiting for it), or None when none was begun or it
  has another worker count; raises what starting it raised (ImportError, OSError)."""
  start = _pop_early()
  if start is None:
    return None
  cluster = start.result()
  if start.workers != workers:
    cluster.close()
    return None
  return cluster


def _close_untaken():
  """At exit: closes a cluster started early that no pipeline took."""
  start = _pop_early()
  if start is None:
    return
  start.thread.join()
  if start.cluster is not None:
    start.cluster.close()


def _pop_early():
  """The _Start that start_early began (None if none), no longer held here."""
  global _early
  with _lock:
    start, _early = _early, None
  return start


def note_missing_preloads(client, stream=None):
  """After a run on a running cluster, through the run's distributed.Client: one line on
  stderr when some of its workers were started without soundscope's preloads
  (pipelines/dask_worker.py), whose Dask defaults (the profiler, malloc trimming) made
  decoding 1.5-2x slower.  Says nothing when the workers cannot be asked."""
  import sys
  try:
    found = client.run(missing_preloads)
  except Exception:  # pylint: disable=broad-except  (a note, never a failure of the run)
    return
  missing = sorted({flag for flags in found.values() for flag in flags})
  lacking = sum(1 for flags in found.values() if flags)
  if lacking:
    print(f"soundscope: note: {lacking} of {len(found)} workers at {client.scheduler.address} "
          f"run without {' and '.join(f'{flag} {PRELOAD}' for flag in missing)}, which make "
          f"them up to 2x faster (docs/scale-out.md)", file=stream or sys.stderr)


def missing_preloads(dask_worker):
  """The preload flags this worker was started without: [] when it has both (a worker
  without a nanny needs only --preload).  Run on the workers by Client.run."""
  import os
  missing = []
  if any(name in dask_worker.periodic_callbacks for name in PROFILER_CALLBACKS):
    missing.append("--preload")
  if dask_worker.nanny is not None and NANNY_MARK not in os.environ:
    missing.append("--preload-nanny")
  return missing
