"""--labels and --ontology, shared by classify, predict, capture and serve (docs/labels.md)."""

from soundscope.cli import flags


def add_arguments(parser):
  """Adds --labels FILE|NAME and --ontology FILE."""
  parser.add_argument("--labels", metavar="FILE|NAME", default=None,
                      help="report a label set's labels instead of the model's classes: a "
                           "YAML file or a built-in set (esc10, home); see docs/labels.md")
  parser.add_argument("--ontology", metavar="FILE", default=None,
                      help="AudioSet's ontology.json, for label sets with 'descendants: true'")
  return parser


def resolve(args, model):
  """The ResolvedLabelSet of --labels for this model, or None without --labels.

  Raises:
    flags.UsageError: the label set's one-line error (file, line, closest names).
  """
  if not getattr(args, "labels", None):
    return None
  from soundscope.models import label_sets
  try:
    return label_sets.for_classifier(args.labels, model, args.ontology)
  except label_sets.LabelSetError as exc:
    raise flags.UsageError(str(exc)) from None
