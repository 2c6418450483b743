"""The flags every Beam command shares (embed, audioset, predict); the rest go to Beam.

Their meaning is in pipelines/options.py (threads per worker, shards, the
default runner); the front-end flags come from configs.params.VggishParams.
"""

import argparse

from soundscope.cli import flags
from soundscope.configs import params as P
from soundscope.pipelines import options

VGGISH_FRONT_END = ("resample_filter", "example_hop_seconds", "short_clip_policy",
                    "read_block_seconds", "batch_size")


def add_common_arguments(parser):
  """Options every pipeline shares (outputs, errors, progress)."""
  parser.epilog = ("Every other option goes to Apache Beam unchanged: --runner (default: "
                   "Beam's FnApiRunner, in-process; 'dask' for Beam's Dask runner, "
                   "docs/scale-out.md), --direct_num_workers, "
                   "--direct_running_mode, --setup_file, --temp_location, ... "
                   "(docs/pipelines.md).")
  group = parser.add_argument_group("pipeline")
  group.add_argument("--resume", action="store_true",
                     help="take over the finished parts of an interrupted run on the same "
                          "output (same settings and unchanged inputs: path, size, "
                          "modification time) and do only the rest")
  group.add_argument("--dask-address", default=None, metavar="HOST:PORT",
                     help="with --runner dask: the scheduler of a running Dask cluster "
                          "(default: a local cluster started for the run)")
  group.add_argument("--dask-workers", type=int, default=0, metavar="N",
                     help="with --runner dask and no --dask-address: worker processes of the "
                          "local cluster, one thread each (default 0: one per core)")
  group.add_argument("--errors-format", choices=("parquet", "jsonl"), default="parquet",
                     help="format of the PREFIX-errors output (default %(default)s)")
  group.add_argument("--max-error-fraction", type=_fraction, default=1.0, metavar="F",
                     help="exit 1 (the outputs are still written) when more than this "
                          "fraction of the inputs failed; a run where every input failed "
                          "always exits 1 (default %(default)s: only then)")
  group.add_argument("--no-progress", action="store_true",
                     help="no progress line on stderr (local runners only print one)")
  group.add_argument("--decode-threads", type=int, default=0, metavar="N",
                     help="BLAS threads per worker for resampling and log-mel (matrix "
                          "products; default 1: more spin between products on the cores "
                          "the model uses)")
  return parser




def _fraction(text):
  """argparse type: a number in [0, 1]."""
  try:
    value = float(text)
  except ValueError:
    value = float("nan")
  if not 0.0 <= value <= 1.0:
    raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
  return value


def add_vggish_arguments(parser):
  """VGGish model files, the shard count and the front-end overrides (configs.params)."""
  group = parser.add_argument_group("VGGish embeddings")
  group.add_argument("--vggish-checkpoint", default=None,
                     help="vggish_model.ckpt (default: the model store's vggish/ entry)")
  group.add_argument("--pca-params", default=None,
                     help="vggish_pca_params.npz (default: the model store's vggish/ entry)")
  group.add_argument("--model-dir", default=None,
                     help="model store root (default $SOUNDSCOPE_MODEL_DIR or "
                          "~/.cache/soundscope/models)")
  group.add_argument("--vggish-threads", type=int, default=0,
                     help="LiteRT threads per VGGish worker; 0 = all cores, or cores / workers "
                          "with --direct_num_workers (default)")
  group.add_argument("--num-shards", type=int, default=0,
                     help="TFRecord shards; 0 = one per %d records (default)" % options.RECORDS_PER_SHARD)
  flags.add_flags(parser, P.VggishParams, names=VGGISH_FRONT_END,
                  title="front end (configs/params.py)")
  return parser




def front_end(args):
  """configs.params.VggishParams of the parsed flags (flags.UsageError for a refused value)."""
  return flags.build(P.VggishParams, args)


def add_embedding_arguments(parser, what):
  """--keep-silence, the VGGish and the shared flags of the embedding commands (embed, audioset).

  Args:
    what: what a silent input is, for the help ("files", "audio").
  """
  parser.add_argument("--keep-silence", action="store_true",
                      help=f"embed all-zero {what} instead of reporting it as silent_audio")
  add_vggish_arguments(parser)
  add_common_arguments(parser)
  return parser


def check_pipeline_args(args):
  """flags.UsageError (one line) when an option goes to Beam that Beam does not know either
  (a misspelling), or --runner names no runner (pipelines/options.pipeline_args_problem).
  Called once a local Dask cluster has started: the check imports Beam."""
  problem = options.pipeline_args_problem(args, getattr(args, "own_flags", ()))
  if problem:
    raise flags.UsageError(problem)


def run_pipeline(pipeline, args):
  """pipeline.run(args) with args.params, the checked front end (a refused value: UsageError)."""
  args.params = front_end(args)
  return pipeline.run(args)
