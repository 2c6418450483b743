"""The forkserver preload of a local cluster: its workers start with Beam imported.

pipelines/cluster.py starts Python's forkserver first thing in a `--runner dask`
run without --dask-address, with this module as its preload.  The forkserver
imports Dask, Beam and the pipeline modules once (~1.5 s of CPU), with Beam's
import-time warnings quieted, on the other core while the launcher imports its
own; each worker is then forked from it ready to take tasks, instead of being
spawned and importing them itself (~1 s of CPU a worker).  The model's modules
are imported after this one, and only those the command's model needs
(cluster.start_early's `imports`: LiteRT for embed and audioset, LiteRT and
TensorFlow for predict with a VGGish head).  Importing starts no thread that a
fork would lose but pyarrow's allocator's, which is fork-aware; no model runs
here, so each worker still sets up its own model threads.

Nothing here runs in the launcher or in a worker of a running cluster.
"""

from soundscope.pipelines import dask_worker, options

options.quiet_worker_logs(more=dask_worker.QUIET_LOGGERS)
dask_worker.import_warm_modules()
