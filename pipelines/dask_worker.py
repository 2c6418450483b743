"""Dask worker (and nanny) preload: a worker as fast as the default runner's process.

As a worker preload (`--preload`), before the worker takes a task: quiet logs
before a task imports Beam or TensorFlow, the pipeline modules imported, no
'Compute Failed' entry for a model that fails to load or an output that cannot be
written (the launcher says it in one line), and no statistical profiler: Dask's
worker samples its running task's stack every 10 ms (distributed.worker.profile,
for the dashboard's Profile page), each sample holding the GIL of these
Python-heavy tasks (importing TensorFlow in a task: 5.7-7.0 s with it, 4.2 s
without).

As a nanny preload (`--preload-nanny`), before the nanny starts its worker
process: glibc's malloc left to soundscope.  Dask's nannies give their workers
MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ), which returns
freed memory to the system at once and, as any explicit malloc setting, turns off
glibc's dynamic mmap threshold, so every large numpy temporary is a fresh mmap with
its page faults: decoding and log-mel of 60 ESC-10 clips took 1.06-1.51 s with it
against 0.60-0.75 s without, one thread either way.  Without it, the worker's
model load sets configs/memory.py's thresholds (models/scoring.keep_freed_memory),
which a malloc setting in the environment would stop.  The workers here hold
nothing between tasks but their models.  A MALLOC_TRIM_THRESHOLD_ set in the
nanny's own environment is left as it is.

  dask worker tcp://scheduler:8786 --nworkers 1 --nthreads 1 \\
      --preload soundscope.pipelines.dask_worker \\
      --preload-nanny soundscope.pipelines.dask_worker

(the local cluster of `--runner dask` preloads both itself; docs/scale-out.md).
Without them a worker still runs the pipelines the same, only slower, with Beam's
import-time warnings on its stderr.
"""

import importlib

from soundscope.pipelines import cluster, options

# Imported at the worker's start (Beam and the DoFns, ~1 s; no TensorFlow: a VGGish
# model imports it when a task loads one); a local cluster's workers are forked with
# them imported (pipelines/dask_forkserver.py).
WARM_MODULES = ("apache_beam.runners.dask.transform_evaluator",
                "soundscope.pipelines.prediction", "soundscope.pipelines.embedding")

# Quieted as Beam's (options.quiet_logs): the worker's 'Compute Failed' of an error the
# launcher reports in one line.
QUIET_LOGGERS = ("distributed.worker",)

# The nanny's setting for its worker processes that this preload removes.
MALLOC_TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"


def dask_setup(worker=None):
  """Dask's preload hook, in a nanny before it spawns its worker, or in a worker
  before it starts its periodic callbacks."""
  import os
  from distributed import Nanny
  if isinstance(worker, Nanny):
    if MALLOC_TRIM_VARIABLE not in os.environ:   # Set before the spawn, and again in it.
      worker.pre_spawn_env.pop(MALLOC_TRIM_VARIABLE, None)
      worker.env.pop(MALLOC_TRIM_VARIABLE, None)
    worker.env[cluster.NANNY_MARK] = "1"
    return
  options.quiet_worker_logs(more=QUIET_LOGGERS)
  callbacks = getattr(worker, "periodic_callbacks", None)
  if callbacks is not None:
    for name in cluster.PROFILER_CALLBACKS:
      callback = callbacks.pop(name, None)
      if callback is not None:
        callback.stop()
  import_warm_modules()


def import_warm_modules():
  """Imports WARM_MODULES (a no-op where a forkserver did, pipelines/dask_forkserver.py)."""
  for name in WARM_MODULES:
    importlib.import_module(name)
