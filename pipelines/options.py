"""Options of the batch pipelines, in one place, and the choice of Beam runner.

Our own options (their flags: soundscope/cli/beam.py) are parsed by
argparse; every other argument is left untouched and handed to Beam's
PipelineOptions, so `--runner`, `--direct_num_workers`,
`--direct_running_mode`, `--setup_file`, `--temp_location`, `--project`,
`--flink_master`, ... mean exactly what Beam's documentation says.

The default runner.  With Beam 2.77, leaving `--runner` out (or naming
`DirectRunner`) first tries the Prism runner, which downloads a Go binary from
GitHub on first use: offline that fails after a DNS lookup and Beam falls back
to its FnApiRunner; online it fetches ~30 MB into ~/.apache_beam.  We skip the
detour: with no `--runner`, the pipelines run on Beam's FnApiRunner directly
(the in-process portable runner that DirectRunner ends up using), in-memory,
one worker (measured: empty pipeline ~1 s; `--direct_running_mode=
multi_processing` adds 3-5 s to start the worker processes).  The FnApiRunner
honours `--direct_num_workers` and `--direct_running_mode`, so two local worker
processes are `--direct_num_workers=2 --direct_running_mode=multi_processing`.
Naming any runner (`--runner=DirectRunner`, `PrismRunner`, `FlinkRunner`,
`SparkRunner`, `DataflowRunner`) gives exactly Beam's behaviour.

Dask.  `--runner dask` (or Beam's class name, DASK_RUNNER) runs on a
dask.distributed cluster through Beam's DaskRunner: the scheduler at
`--dask-address HOST:PORT`, or else a LocalCluster of `--dask-workers N`
single-threaded worker processes (default: one per core) started for the
run.  Every part (pipelines/parts.py) is its own Dask partition, at most
DASK_PARTITIONS_PER_WORKER per worker of a LocalCluster, unless
`--dask_npartitions` or `--dask_partition_size` says otherwise, so the work
spreads over every worker even for a few dozen files; each worker limits its
BLAS pool to one thread (`--decode-threads`) and, on a LocalCluster, gives
its model its share of the cores.  Needs the `dask` extra.
"""

import contextlib
import difflib
import functools
import logging
import os
import sys

from soundscope.configs import logs
from soundscope.configs import pipelines as PC
from soundscope.pipelines import listing


# Beam options whose presence means the user chose the runner's worker setup.
RUNNER_FLAG = "--runner"
# Beam's worker module for multi_processing, and ours that runs it with quiet logs.
BEAM_WORKER_MODULE = "apache_beam.runners.worker.sdk_worker_main"
QUIET_WORKER_MODULE = "soundscope.pipelines.beam_worker"
# Local SDK worker processes log every bundle at INFO; keep them quiet unless asked.
QUIET_HARNESS_FLAG = "--default_sdk_harness_log_level"
QUIET_HARNESS_LEVEL = "WARNING"
# Runners that execute on this machine: progress lines and local-file checks apply.
LOCAL_RUNNERS = ("", "fnapirunner", "directrunner", "bundlebaseddirectrunner",
                 "swissknifedirectrunner", "prismrunner")
RECORDS_PER_SHARD = PC.RECORDS_PER_SHARD     # --num-shards 0 (auto): configs/pipelines.py.


def vggish_files(args):
  """(checkpoint path, PCA params path) from the options or the model store.

  The paths (not the 288 MB of weights) are what travels to the workers, made absolute;
  on a distributed runner they must be readable there (shared or staged files).

  Raises:
    FileNotFoundError: with how to get the files.
  """
  checkpoint, pca = args.vggish_checkpoint, args.pca_params
  if checkpoint is None or pca is None:
    try:
      from soundscope.models.store import files as store
      stored_checkpoint, stored_pca = store.ModelStore(args.model_dir).vggish_files()
    except Exception as exc:  # ModelNotFoundError, or the store module is missing.
      raise FileNotFoundError(
          f"VGGish files not given and not in the model store ({exc}); pass "
          f"--vggish-checkpoint and --pca-params") from None
    checkpoint = checkpoint or str(stored_checkpoint)
    pca = pca or str(stored_pca)
  for path in (checkpoint, pca):
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
      raise FileNotFoundError(f"{path}: no such file")
  return listing.local_absolute(str(checkpoint)), listing.local_absolute(str(pca))


DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
DASK_NAMES = ("dask", "daskrunner", DASK_RUNNER.lower())
DASK_EXTRA_HINT = "pip install 'soundscope[dask]'"


class RunnerUnavailable(RuntimeError):
  """The chosen runner cannot start here (one line saying what to install)."""


def is_dask(pipeline_args):
  """True for --runner dask, DaskRunner or Beam's full class name."""
  return runner_name(pipeline_args) in DASK_NAMES


def dask_flags_problem(args):
  """'--dask-address and --dask-workers need --runner dask' when they come without it, or
  None (no import: checked as the command line is read)."""
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  if not is_dask(pipeline_args) and (getattr(args, "dask_address", None)
                                     or getattr(args, "dask_workers", 0)):
    return "--dask-address and --dask-workers need --runner dask"
  return None


def pipeline_args_problem(args, own_flags=()):
  """What is wrong with the options a Beam command passes to Beam (one line), or None.

  A flag that neither the command (`own_flags`, its option strings) nor any of Beam's
  PipelineOptions knows is a misspelling, not an option for Beam; --runner must name a
  runner Beam has (and dask_flags_problem).
  """
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  dask = is_dask(pipeline_args)
  problem = dask_flags_problem(args)
  if problem or not pipeline_args:   # Nothing for Beam: its options need no import.
    return problem
  if dask:
    try:   # Registers DaskOptions (--dask_client_address, ...); a missing extra is told later.
      # distributed first: without it Beam's module fails half-way, leaving dask half-imported.
      import distributed  # noqa: F401  pylint: disable=unused-import
      import apache_beam.runners.dask.dask_runner  # noqa: F401  pylint: disable=unused-import
    except ImportError:
      pass
  from apache_beam.options import pipeline_options as beam_options
  parser = beam_options._BeamArgumentParser(allow_abbrev=False)  # pylint: disable=protected-access
  classes = {}
  for cls in beam_options.PipelineOptions.__subclasses__():   # As Beam collects them.
    classes.setdefault(str(cls), cls)
  for cls in classes.values():
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  _, unknown = parser.parse_known_args(pipeline_args)
  names = [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-")]
  if names:
    known = list(own_flags) + [flag for action in parser._actions   # pylint: disable=protected-access
                               for flag in action.option_strings]
    close = difflib.get_close_matches(names[0], known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown option {names[0]}{hint}"
  name = runner_name(pipeline_args)
  if name and not dask:
    from apache_beam.runners import runner as beam_runner
    try:
      beam_runner.create_runner(_flag_value(pipeline_args, RUNNER_FLAG))
    except (ValueError, ImportError) as exc:
      return f"--runner {_flag_value(pipeline_args, RUNNER_FLAG)}: {str(exc).splitlines()[0]}"
  return None


def _uses_dask(args):
  return is_dask(list(getattr(args, "pipeline_args", None) or []))


def is_local_run(args):
  """True when the workers run on this machine (a LocalCluster counts; --dask-address not)."""
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  if is_dask(pipeline_args):
    return not getattr(args, "dask_address", None)
  return is_local(pipeline_args)


def start_local_cluster_early(args, imports=()):
  """For `--runner dask` without an address: starts the LocalCluster in the background
  now (pipelines/cluster.py), so its workers start while the launcher plans, with the
  modules `imports` their model needs (models/store/registry.py) imported once for all."""
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  if is_dask(pipeline_args) and not _dask_address(args, pipeline_args):
    from soundscope.pipelines import cluster as cluster_lib
    cluster_lib.start_early(dask_workers(args), imports)


def _dask_address(args, pipeline_args):
  return getattr(args, "dask_address", None) or _flag_value(pipeline_args,
                                                            "--dask_client_address")


def dask_workers(args):
  """Worker processes of the LocalCluster: --dask-workers, or one per core."""
  return max(1, getattr(args, "dask_workers", 0) or os.cpu_count() or 1)


def local_workers(pipeline_args):
  """Worker processes or threads of a local FnApiRunner run (1 unless asked for more)."""
  value = _flag_value(pipeline_args, "--direct_num_workers")
  try:
    workers = int(value) if value is not None else 1
  except ValueError:
    return 1
  return (os.cpu_count() or 1) if workers == 0 else max(1, workers)


def _threads_per_worker(args, requested):
  """`requested` if > 0, else the cores shared among local workers (0: one worker, no limit).

  Two local workers each using every core fight over them; giving each its
  share keeps the cores busy without oversubscription.
  """
  if requested > 0:
    return requested
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  if is_dask(pipeline_args):
    if getattr(args, "dask_address", None):
      return 0
    return max(1, (os.cpu_count() or 1) // dask_workers(args))
  workers = local_workers(pipeline_args) if is_local(pipeline_args) else 1
  return 0 if workers <= 1 else max(1, (os.cpu_count() or 1) // workers)


def vggish_threads(args):
  """LiteRT threads per VGGish invoke in each worker: --vggish-threads, else cores / local
  workers (0: the worker's cores)."""
  return _threads_per_worker(args, args.vggish_threads)


def decode_threads(args):
  """BLAS threads per worker: --decode-threads, else configs' DECODE_THREADS (one) on every
  runner: a worker decodes and runs its model in turn, so more BLAS threads only spin
  between matrix products on the cores the model wants (more workers, not more threads,
  use more cores)."""
  requested = getattr(args, "decode_threads", 0)
  return requested if requested > 0 else PC.DECODE_THREADS


def limit_decode_threads(threads):
  """Limits this process's BLAS threads (worker side; 0 leaves them as they are).

  Decoding itself (libsndfile) and numpy's FFT are single-threaded; the
  resampler's and the mel filterbank's matrix products run on OpenBLAS, which
  starts one thread per core unless told otherwise.
  """
  from soundscope.transforms import blas
  blas.limit_threads(threads)


def num_shards(args, num_inputs):
  """The TFRecord shard count: --num-shards, or one per RECORDS_PER_SHARD inputs."""
  if args.num_shards > 0:
    return args.num_shards
  return max(1, -(-num_inputs // RECORDS_PER_SHARD))


def _flag_value(pipeline_args, flag):
  """Value of `--flag=value` or `--flag value` in a Beam argument list, else None."""
  for i, arg in enumerate(pipeline_args):
    if arg == flag and i + 1 < len(pipeline_args):
      return pipeline_args[i + 1]
    if arg.startswith(flag + "="):
      return arg.split("=", 1)[1]
  return None


def runner_name(pipeline_args):
  """The --runner the user gave, lower-cased, or '' for our default."""
  return (_flag_value(pipeline_args, RUNNER_FLAG) or "").lower()


def is_local(pipeline_args):
  """True when the pipeline runs on this machine (progress, local reconciliation)."""
  name = runner_name(pipeline_args).rsplit(".", 1)[-1]
  return name in LOCAL_RUNNERS


def pipeline_options(pipeline_args):
  """Beam PipelineOptions of the pass-through arguments (plus quiet local workers)."""
  from apache_beam.options.pipeline_options import PipelineOptions
  args = list(pipeline_args or [])
  if _flag_value(args, QUIET_HARNESS_FLAG) is None and is_local(args):
    args += [f"{QUIET_HARNESS_FLAG}={QUIET_HARNESS_LEVEL}"]
  return PipelineOptions(args)


def default_runner(pipeline_args):
  """The runner object for beam.Pipeline: FnApiRunner without --runner, else None (Beam's)."""
  if runner_name(pipeline_args):
    return None
  from apache_beam.portability.api import beam_provision_api_pb2
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner
  from apache_beam.runners.portability.fn_api_runner import fn_runner
  from google.protobuf import struct_pb2
  # The FnApiRunner gives its worker processes (--direct_running_mode=multi_processing)
  # the provision info's options, not the pipeline's: without this the workers log
  # at INFO (~20 lines each per run).
  level = _flag_value(list(pipeline_args or []), QUIET_HARNESS_FLAG) or QUIET_HARNESS_LEVEL
  worker_options = struct_pb2.Struct()
  worker_options.update({QUIET_HARNESS_FLAG[2:]: level})
  return _with_quiet_workers(FnApiRunner)(provision_info=fn_runner.ExtendedProvisionInfo(
      beam_provision_api_pb2.ProvisionInfo(retrieval_token="unused-retrieval-token",
                                           pipeline_options=worker_options)))


@functools.lru_cache(maxsize=None)
def _with_quiet_workers(runner_class):
  """`runner_class` (FnApiRunner) whose multi_processing workers run
  pipelines/beam_worker.py: Beam's worker command in the pipeline's environments is
  swapped for ours, which is Beam's worker with quiet logs."""
  from apache_beam.portability import python_urns

  class QuietWorkersRunner(runner_class):

    def run_via_runner_api(self, pipeline_proto, options):
      beam_command = f"{sys.executable} -m {BEAM_WORKER_MODULE}".encode()
      ours = f"{sys.executable} -m {QUIET_WORKER_MODULE}".encode()
      for environment in pipeline_proto.components.environments.values():
        if environment.urn == python_urns.SUBPROCESS_SDK and environment.payload == beam_command:
          environment.payload = ours
      return super().run_via_runner_api(pipeline_proto, options)

  return QuietWorkersRunner


# Warnings Beam 2.77 prints on every run that say nothing about the run:
#  - RunInference imports its ModelManager, which needs torch, in the same try
#    block as `resource`; without torch it warns on every batch;
#  - the GCP extras are not installed (we need none of them);
#  - TFRecord CRCs use the pure-Python crc32c (fine at our sizes).
#  - worker processes (multi_processing) have no semi-persistent directory locally;
# the local job service repeats worker processes' warnings in the main process,
# so those copies are filtered there too.
_BEAM_NOISE = ("Resource module is not available", "apitools not found",
               "Couldn't find python-snappy or google-crc32c",
               "No semi_persistent_directory found")
_NOISY_LOGGERS = ("", "apache_beam.io.tfrecordio", "apache_beam.runners.common",
                  "distributed.client", "apache_beam.runners.worker.sdk_worker",
                  "apache_beam.runners.portability.local_job_service")


# Errors the launcher turns into one line (pipelines/launch.one_line): Beam's
# runners also log them with their traceback, which says nothing more.
_REPORTED_ERRORS = ("ModelLoadError", "OutputWriteError", "KeyboardInterrupt",
                    "CancelledError")   # The Dask client's, when its scheduler is lost.


class _DropBeamNoise(logging.Filter):
  """Drops the messages of _BEAM_NOISE (also when quoted in a worker's log entry), and
  Beam's log entries of the errors the launcher reports in one line."""

  def filter(self, record):
    if record.exc_info and record.exc_info[0] is not None and (
        record.exc_info[0].__name__ in _REPORTED_ERRORS):
      return False
    if record.levelno >= logging.ERROR and any(   # A worker's log quoting its error.
        f"{name}: " in record.getMessage() or f"{name}(" in record.getMessage()
        for name in _REPORTED_ERRORS):
      return False
    message = str(record.msg)
    if message.startswith(_BEAM_NOISE):
      return False
    return not (message.startswith("Worker:") and any(
        noise in record.getMessage() for noise in _BEAM_NOISE))


drop_beam_noise = _DropBeamNoise()   # One instance, for handlers (pipelines/beam_worker.py).


def quiet_logs(more=()):
  """Keeps logs quiet by default: TensorFlow's C++ banner and Beam's noise.

  Call before importing apache_beam or tensorflow (some warnings come at import).
  more: other loggers to filter the same way (a Dask worker's 'distributed.worker').
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", logs.QUIET_TF_CPP_LOG_LEVEL)
  for name in _NOISY_LOGGERS + tuple(more):
    logger = logging.getLogger(name)
    if not any(isinstance(f, _DropBeamNoise) for f in logger.filters):
      logger.addFilter(_DropBeamNoise())


def prepare_imports(verbose=False):
  """Sets up this process's first imports of the large packages, before anything can
  import them (the command line, every worker): the garbage collector paused during
  them (soundscope/util/collector.py), TensorFlow's lean and without the native lines it
  writes to fd 2 while imported, which no log level holds back, unless `verbose` or
  TF_CPP_MIN_LOG_LEVEL=0 (models/tensorflow_import.py), and Beam's without pandas
  (pipelines/beam_import.py)."""
  from soundscope.configs import imports
  from soundscope.models import tensorflow_import
  from soundscope.pipelines import beam_import
  from soundscope.util import collector
  collector.paused_during_first_imports(imports.COLLECTOR_PAUSED_DURING_IMPORT)
  tensorflow_import.prepare(verbose)
  beam_import.prepare()


def quiet_worker_logs(more=()):
  """quiet_logs in a worker process (Beam's multi_processing, Dask's), which has no -v,
  and its first imports as the launcher's (prepare_imports).  Call before the worker
  imports TensorFlow or Beam."""
  quiet_logs(more)
  prepare_imports()


def make_pipeline(pipeline_args, runner=None):
  """A beam.Pipeline on `runner` (default: the chosen runner) with the pass-through options."""
  import apache_beam as beam
  quiet_logs()
  _no_ipython_probe()
  prompt_state_sampler()
  return beam.Pipeline(runner=runner or default_runner(pipeline_args),
                       options=pipeline_options(pipeline_args))


def spread_parts(pipeline):
  """Whether beam.Create must reshuffle the run's parts so that workers share them: on every
  runner but the default one running in this process with one worker (no --runner,
  --direct_num_workers 1, in-memory), where the reshuffle only adds a stage (its first part
  done ~0.05 s later in a 400-file `predict`)."""
  from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
  from apache_beam.runners.portability.fn_api_runner import FnApiRunner
  direct = pipeline.options.view_as(DirectOptions)
  alone = (isinstance(pipeline.runner, FnApiRunner)
           and not pipeline.options.view_as(StandardOptions).runner
           and direct.direct_num_workers == 1
           and direct.direct_running_mode in (None, "in_memory"))
  return not alone


def discard_pipeline(pipeline):
  """Removes what a beam.Pipeline that will not run holds: the temporary folder Beam
  makes when the pipeline is made and removes only at the end of run()."""
  import shutil
  folder = getattr(pipeline, "local_tempdir", None)
  if folder:
    shutil.rmtree(folder, ignore_errors=True)


def prompt_state_sampler():
  """Beam's state sampler, which times each step of a bundle (its msec counters), ticks
  every 200 ms once the bundle has run about a second, and the bundle ends only at its
  next tick (StateSampler.stop joins its thread).  It has no option: in this process it
  ticks every STATE_SAMPLING_PERIOD_MS (configs/pipelines.py), the default of
  StateSampler's `sampling_period_ms`, which bundle processors leave unset."""
  from apache_beam.runners.worker import statesampler
  init = statesampler.StateSampler.__init__
  if init.__defaults__ != (PC.STATE_SAMPLING_PERIOD_MS,):
    init.__defaults__ = (PC.STATE_SAMPLING_PERIOD_MS,)


def _never_in_ipython():
  return False


def _no_ipython_probe():
  """Beam asks at every apply whether it runs in IPython by importing IPython (0.35 s
  of a run's start where IPython is installed).  A process that has not imported
  IPython is not in an IPython session: the commands answer that without the import."""
  if "IPython" in sys.modules:
    return
  for name in ("apache_beam.utils.interactive_utils", "apache_beam.pipeline",
               "apache_beam.runners.direct.direct_runner"):
    module = sys.modules.get(name)
    if module is not None and hasattr(module, "is_in_ipython"):
      module.is_in_ipython = _never_in_ipython


def _without_flag(pipeline_args, flag):
  out, skip = [], False
  for i, arg in enumerate(pipeline_args):
    if skip:
      skip = False
      continue
    if arg == flag:
      skip = i + 1 < len(pipeline_args)
      continue
    if not arg.startswith(flag + "="):
      out.append(arg)
  return out


def dask_partitions(num_parts, cluster=None):
  """Dask partitions of a run of `num_parts` parts: one per part, at most
  PC.DASK_PARTITIONS_PER_WORKER per worker of a LocalCluster (`cluster`; a cluster at
  --dask-address may grow, so its runs keep one partition per part)."""
  num_parts = max(1, num_parts)
  if cluster is None:
    return num_parts
  return min(num_parts, PC.DASK_PARTITIONS_PER_WORKER * max(1, len(cluster.workers)))


@contextlib.contextmanager
def runner_session(args, num_parts):
  """Yields (runner or None for Beam's choice, Beam arguments) for a run of `num_parts` parts.

  For Dask: imports it (RunnerUnavailable naming the extra when missing),
  starts a LocalCluster unless --dask-address is given (closed on exit), and
  adds --dask_client_address and the partitions (dask_partitions).
  """
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  if not is_dask(pipeline_args):
    yield default_runner(pipeline_args), pipeline_args
    return
  from soundscope.pipelines import cluster as cluster_lib
  try:
    import distributed  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    from apache_beam.runners.dask import dask_runner
  except ImportError as exc:
    raise RunnerUnavailable(f"--runner dask needs the dask extra ({exc.name} is missing): "
                            f"{DASK_EXTRA_HINT}") from None
  pipeline_args = _without_flag(pipeline_args, RUNNER_FLAG)
  cluster = None
  address = _dask_address(args, pipeline_args)
  try:
    if not address:   # The one start_early began, or a new one.
      workers = dask_workers(args)
      cluster = cluster_lib.take(workers) or cluster_lib.local_cluster(workers)
      address = cluster.scheduler_address
    if _flag_value(pipeline_args, "--dask_client_address") is None:
      pipeline_args.append(f"--dask_client_address={address}")
    if (_flag_value(pipeline_args, "--dask_npartitions") is None
        and _flag_value(pipeline_args, "--dask_partition_size") is None):
      pipeline_args.append(f"--dask_npartitions={dask_partitions(num_parts, cluster)}")
    yield dask_runner.DaskRunner(), pipeline_args
  finally:
    if cluster is not None:
      cluster.close()
