"""A real Dask cluster for the tests: a scheduler and worker processes on loopback.

  with DaskCluster(workers=2) as cluster:
    cluster.address            # 'tcp://127.0.0.1:PORT'
    cluster.tasks_by_worker()  # {worker address: [task keys]} of the tasks run so far
    cluster.worker_stderr()    # what the worker processes wrote to stderr so far

Started as separate processes with Dask's own command line (`dask scheduler`,
`dask worker --nworkers 1 --nthreads 1` with soundscope's worker and nanny preload),
as docs/scale-out.md tells a user to start them on a cluster;
the workers see this folder on PYTHONPATH (the tests' custom models).  The
scheduler records every task (distributed's TaskStreamPlugin), so a test can
read which worker ran which part of its pipeline.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

import support_pipelines
from soundscope.pipelines.cluster import PRELOAD

START_TIMEOUT_SECONDS = 60.0


def free_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


class DaskCluster:
  """Scheduler + `workers` single-threaded worker processes; stopped on exit.

  preload: False starts the workers as Dask's own docs do, without soundscope's preloads.
  """

  def __init__(self, workers=2, preload=True):
    self.workers = workers
    self.preloads = ["--preload", PRELOAD, "--preload-nanny", PRELOAD] if preload else []
    self.port = free_port()
    self.address = f"tcp://127.0.0.1:{self.port}"
    self._processes = []
    self._client = None
    self._stderr = None

  def __enter__(self):
    # The workers' environment as a user's shell gives it (no TF_CPP_MIN_LOG_LEVEL).
    env = {k: v for k, v in support_pipelines.child_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    self._stderr = tempfile.TemporaryFile("w+")
    # Own process groups: stopping one stops the worker processes its nanny started.
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "start_new_session": True}
    try:
      self._processes.append(subprocess.Popen(
          ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
           "--no-dashboard"], env=env, **quiet))
      for _ in range(self.workers):
        self._processes.append(subprocess.Popen(
            ["dask", "worker", self.address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1", *self.preloads], env=env,
            **dict(quiet, stderr=self._stderr)))
      from distributed import Client
      deadline = time.monotonic() + START_TIMEOUT_SECONDS
      while True:
        try:
          self._client = Client(self.address, timeout=5)
          break
        except OSError:
          if time.monotonic() > deadline:
            raise
          time.sleep(0.2)
      self._client.wait_for_workers(self.workers, timeout=START_TIMEOUT_SECONDS)
      self._client.register_plugin(_RecordTasks())
    except BaseException:
      self.__exit__(None, None, None)
      raise
    return self

  def tasks_by_worker(self):
    """{worker address: [keys of the tasks it ran]} since the cluster started."""
    records = self._client.run_on_scheduler(_recorded_tasks)
    found = {address: [] for address in self._client.scheduler_info()["workers"]}
    for worker, key in records:
      found.setdefault(worker, []).append(key)
    return found

  def worker_stderr(self):
    """What the worker processes (nannies and workers) wrote to stderr so far."""
    self._stderr.seek(0)
    return self._stderr.read()

  def run_on_workers(self, function):
    """{worker address: function()} run in every worker (Client.run; a `dask_worker`
    parameter gets the Worker)."""
    return self._client.run(function)

  def __exit__(self, *exc_info):
    if self._client is not None:
      self._client.close()
    for process in reversed(self._processes):   # Nothing to save: no graceful shutdown.
      try:
        os.killpg(process.pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
    for process in self._processes:
      process.wait()
    if self._stderr is not None:
      self._stderr.close()
    return False


class _RecordTasks:
  """Scheduler plugin: remembers (worker, key) of every finished task."""
  name = "soundscope-test-task-record"

  def __new__(cls):
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Plugin(SchedulerPlugin):
      name = cls.name

      def __init__(self):
        self.records = []

      def transition(self, key, start, finish, *args, **kwargs):
        if start == "processing" and finish == "memory" and kwargs.get("worker"):
          self.records.append((kwargs["worker"], str(key)))
    return Plugin()


def _recorded_tasks(dask_scheduler=None):
  plugin = dask_scheduler.plugins.get(_RecordTasks.name)
  return list(plugin.records) if plugin is not None else []
