"""What the `capture` and `serve` commands share: their flags and their start.

Their flags come from the configs (configs.runtime.CaptureOptions,
configs.params.ReportOptions, and VggishParams' --resample-filter: the live
windows' only front-end choice), so a default and its check exist once.
"""

import sys

from soundscope.cli import flags
from soundscope.cli import labels as labels_cli
from soundscope.configs import params as P
from soundscope.configs import runtime as S

REPORT_FLAGS = ("model", "model_dir", "top_k", "threshold", "aggregation")


def add_arguments(parser):
  """The capture and model options of both commands."""
  flags.add_flags(parser, S.CaptureOptions, title="capture")
  model = parser.add_argument_group("model")
  flags.add_flags(model, P.ReportOptions, names=REPORT_FLAGS)
  flags.add_flags(model, P.VggishParams, names=["resample_filter"])
  labels_cli.add_arguments(model)
  return parser


def check_arguments(args):
  """Raises flags.UsageError for a value the configs refuse."""
  flags.build(S.CaptureOptions, args)
  flags.build(P.ReportOptions, args)


def error(command, message):
  print(f"soundscope {command}: error: {message}", file=sys.stderr)


def load_classifier(args):
  from soundscope.models.store import registry
  return registry.load_classifier(args.model, args.model_dir)


def prepare(args, command):
  """The start that capture and serve share: --list-devices, argument checks, the model.

  Returns:
    (classifier, None) to go on, or (None, exit status) when the command is done
    (devices listed: 0; bad arguments or label set: 2; no usable model: 1), the
    reason printed.  args.label_set is then the resolved --labels (or None).
  """
  from soundscope.runtime import devices
  if args.list_devices:
    try:
      print(devices.describe_devices())
    except devices.CaptureError as exc:
      error(command, exc)
      return None, 1
    return None, 0
  try:
    check_arguments(args)
  except flags.UsageError as exc:
    error(command, exc)
    return None, 2
  try:
    classifier = load_classifier(args)
  except Exception as exc:  # ModelNotFoundError, ChecksumError, ...: say it in one line.
    error(command, exc)
    return None, 1
  try:
    args.label_set = labels_cli.resolve(args, classifier)   # --labels, read by LiveSession.
  except flags.UsageError as exc:
    error(command, exc)
    return None, 2
  return classifier, None
