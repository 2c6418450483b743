"""--labels and --ontology, shared by classify, predict, capture and serve (docs/labels.md)."""

import argparse

from soundscope.cli import flags


def add_arguments(parser):
  """Adds --labels FILE|NAME and --ontology FILE."""
  parser.add_argument("--labels", metavar="FILE|NAME", default=None, type=_label_set_name,
                      help="report a label set's labels instead of the model's classes: a "
                           "YAML file or a built-in set (esc10, home, audioset-top); see "
                           "docs/labels.md")
  parser.add_argument("--ontology", metavar="FILE", default=None,
                      help="AudioSet's ontology.json, for label sets with 'descendants: true' "
                           "(default: the model store's, `soundscope models download ontology`)")
  return parser


def _label_set_name(text):
  """argparse type: a non-empty --labels value."""
  if not text.strip():
    raise argparse.ArgumentTypeError("empty: give a label-set file or a built-in set "
                                     "(esc10, home, audioset-top)")
  return text


def resolve(args, model):
  """The ResolvedLabelSet of --labels for this model, or None without --labels.

  A set with `descendants: true` reads --ontology, else the model store's
  (--model-dir) ontology.json.

  Raises:
    flags.UsageError: the label set's one-line error (file, line, closest names).
  """
  if not getattr(args, "labels", None):
    return None
  from soundscope.models import label_sets
  try:
    label_set = label_sets.load(args.labels)
    ontology = args.ontology
    if ontology is None and label_sets.needs_ontology(label_set):
      ontology = stored_ontology(getattr(args, "model_dir", None), label_set.source)
    return label_sets.for_classifier(label_set, model, ontology)
  except label_sets.LabelSetError as exc:
    raise flags.UsageError(str(exc)) from None


def stored_ontology(model_dir, source):
  """The model store's AudioSet ontology.json (`soundscope models download ontology` or
  `models import`), digest checked, or None when the store has none (the label set's
  error then says how to get it).

  Raises:
    label_sets.LabelSetError naming the set's file: the stored file fails its check.
  """
  from soundscope.models import label_sets
  from soundscope.models.store import files as store_lib
  try:
    return store_lib.ModelStore(model_dir).ontology_path()
  except store_lib.ModelNotFoundError as exc:
    raise label_sets.LabelSetError(f"{source}: {exc}") from None
