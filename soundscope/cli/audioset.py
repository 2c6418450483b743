"""`soundscope audioset`: AudioSet segment CSVs + local audio -> labelled TFRecords (the Beam graph and its outputs: pipelines/audioset.py).

Flags of its own, the shared Beam flags (soundscope/cli/beam.py) and the
front-end flags of configs.params.VggishParams; every other option goes to
Apache Beam unchanged.
"""

from soundscope.cli import beam
from soundscope.models.store import registry
from soundscope.pipelines import options

PASS_UNKNOWN_ARGS = True


def add_arguments(parser):
  parser.add_argument("--segments", required=True, help="AudioSet segments CSV, as released")
  parser.add_argument("--audio-dir", required=True, help="folder with the segments' audio")
  parser.add_argument("--output", required=True, help="output prefix, e.g. out/bal_train")
  parser.add_argument("--class-labels", default=None,
                      help="class_labels_indices.csv (default: next to --segments)")
  return beam.add_embedding_arguments(parser, "audio")


def run(args):
  # Its workers start while Beam imports here, TensorFlow (VGGish) imported once for all.
  options.start_local_cluster_early(args, registry.VGGISH_IMPORTS)
  beam.check_pipeline_args(args)
  from soundscope.pipelines import audioset
  return beam.run_pipeline(audioset, args)
