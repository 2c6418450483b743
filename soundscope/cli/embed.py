"""`soundscope embed`: audio files -> AudioSet-format TFRecord embeddings (the Beam graph and its outputs: pipelines/embed.py).

Flags of its own, the shared Beam flags (soundscope/cli/beam.py) and the
front-end flags of configs.params.VggishParams; every other option goes to
Apache Beam unchanged.
"""

from soundscope.cli import beam
from soundscope.models.store import registry
from soundscope.pipelines import options

PASS_UNKNOWN_ARGS = True


def add_arguments(parser):
  parser.add_argument("--input", required=True,
                      help="glob, directory, or list file (*.txt/*.lst/*.list or @FILE)")
  parser.add_argument("--output", required=True, help="output prefix, e.g. out/corpus")
  parser.add_argument("--labels-csv", default=None,
                      help="CSV with a 'labels' column (mids or indices) and a 'video_id' "
                           "or 'path' column")
  parser.add_argument("--class-labels", default=None,
                      help="class_labels_indices.csv, to map mids in --labels-csv to indices")
  return beam.add_embedding_arguments(parser, "files")


def run(args):
  # Its workers start while Beam imports here, TensorFlow (VGGish) imported once for all.
  options.start_local_cluster_early(args, registry.VGGISH_IMPORTS)
  beam.check_pipeline_args(args)
  from soundscope.pipelines import embed
  return beam.run_pipeline(embed, args)
