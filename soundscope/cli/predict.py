"""`soundscope predict`: audio files or embedding TFRecords -> predictions in Parquet.

The Beam graph and the output schema: pipelines/predict.py and
pipelines/prediction.py.  Flags of its own, the model and report flags of
configs.params.ReportOptions, the audio front end of configs.params.VggishParams
(the ones that apply to scoring audio), the flags of events, levels and start
times (soundscope/cli/event_flags.py; docs/events.md) and the shared Beam flags
(soundscope/cli/beam.py); every other option goes to Apache Beam unchanged.
"""

from soundscope.cli import beam, event_flags, flags
from soundscope.cli import labels as labels_cli
from soundscope.configs import params as P
from soundscope.models.store import registry
from soundscope.pipelines import options

PASS_UNKNOWN_ARGS = True
REPORT_FLAGS = ("model", "model_dir", "top_k", "threshold", "score_block_seconds")
FRONT_END_FLAGS = ("resample_filter", "short_clip_policy", "read_block_seconds")


def add_arguments(parser):
  parser.add_argument("--input", required=True,
                      help="glob, directory or list file of audio files or TFRecords")
  parser.add_argument("--output", required=True, help="Parquet file to write, e.g. out.parquet")
  parser.add_argument("--input-format", choices=("auto", "audio", "tfrecord"), default="auto",
                      help="auto: TFRecords when every input ends in .tfrecord (default)")
  labels_cli.add_arguments(flags.add_flags(parser, P.ReportOptions, names=REPORT_FLAGS,
                                          title="model"))
  parser.add_argument("--model-factory", default=None,
                      help="advanced: 'module:callable' returning a Classifier, instead of "
                           "the store")
  parser.add_argument("--per-window", action="store_true",
                      help="one row per analysis window instead of one per input")
  parser.add_argument("--scores", action="store_true",
                      help="add the full score vector of every row")
  parser.add_argument("--keep-shards", action="store_true",
                      help="leave the rows in one file per part, OUTPUT-SSSSS-of-NNNNN.parquet "
                           "(OUTPUT without .parquet), instead of merging them into OUTPUT: for "
                           "outputs too large for one file or for the launching process")
  flags.add_flags(parser, P.VggishParams, names=FRONT_END_FLAGS,
                  title="front end (configs/params.py)")
  event_flags.add_arguments(parser)   # --events, --event-*, --min-level, --start-time
  beam.add_common_arguments(parser)
  return parser


def run(args):
  """Checks the flags against their configs (a refused value is a usage error), then predicts."""
  # Its workers start while Beam imports here, with a VGGish head's TensorFlow imported once.
  options.start_local_cluster_early(args, () if args.model_factory else
                                    registry.classifier_imports(args.model, args.model_dir))
  beam.check_pipeline_args(args)
  args.report = flags.build(P.ReportOptions, args)
  args.label_set = resolve_label_set(args)
  args.file_steps = event_flags.file_steps(args, args.label_set)
  from soundscope.pipelines import predict
  return beam.run_pipeline(predict, args)


def resolve_label_set(args):
  """--labels resolved against the model's classes here, before any worker starts, so a
  bad label set is one usage error (the model is loaded once more for it: YAMNet
  ~0.3 s, a VGGish head imports TensorFlow).  None without --labels."""
  if not args.labels:
    return None
  from soundscope.pipelines import model_handlers
  loader = model_handlers.ClassifierLoader(args.model, args.model_dir, args.model_factory)
  try:
    model = loader()
  except Exception as exc:  # pylint: disable=broad-except  (one line: the model's own error)
    raise flags.UsageError(f"--labels needs the model's classes: {exc}") from None
  return labels_cli.resolve(args, model)
