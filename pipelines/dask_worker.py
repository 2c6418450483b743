"""Dask worker preload: quiet logs before a task imports Beam or TensorFlow, and no
'Compute Failed' entry for a model that fails to load or an output that cannot be
written (the launcher says it in one line).

  dask worker tcp://scheduler:8786 --nworkers 1 --nthreads 1 \\
      --preload soundscope.pipelines.dask_worker

(the local cluster of `--runner dask` preloads it itself; docs/scale-out.md).
Without it a worker still runs the pipelines the same, only with Beam's
import-time warnings on its stderr.
"""

from soundscope.pipelines import options


def dask_setup(worker=None):  # pylint: disable=unused-argument  (Dask's preload hook)
  # The worker's 'Compute Failed' of an error the launcher reports in one line, too.
  options.quiet_logs(more=("distributed.worker",))
