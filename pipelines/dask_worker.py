"""Dask worker preload: quiet logs before a task imports Beam or TensorFlow, the
pipeline modules imported before the worker takes its first task, and no
'Compute Failed' entry for a model that fails to load or an output that cannot be
written (the launcher says it in one line).

  dask worker tcp://scheduler:8786 --nworkers 1 --nthreads 1 \\
      --preload soundscope.pipelines.dask_worker

(the local cluster of `--runner dask` preloads it itself; docs/scale-out.md).
Without it a worker still runs the pipelines the same, only with Beam's
import-time warnings on its stderr and ~1 s of imports in its first task.
"""

import importlib

from soundscope.pipelines import options

# Imported at the worker's start (Beam and the DoFns, ~1 s; no TensorFlow: a VGGish
# model imports it when a task loads one), so a local cluster started early
# (pipelines/cluster.py) does this while the launcher plans.
WARM_MODULES = ("apache_beam.runners.dask.transform_evaluator",
                "soundscope.pipelines.prediction", "soundscope.pipelines.embedding")


def dask_setup(worker=None):  # pylint: disable=unused-argument  (Dask's preload hook)
  # The worker's 'Compute Failed' of an error the launcher reports in one line, too.
  options.quiet_logs(more=("distributed.worker",))
  for name in WARM_MODULES:
    importlib.import_module(name)
