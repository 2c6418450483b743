"""The `soundscope` command line: one entry point, one subcommand per job.

Each subcommand lives in the package that owns it, as a module with
`add_arguments(parser)` and `run(args) -> exit status`.  Modules are imported
only for the subcommand being run, so `soundscope classify` never pays for
TensorFlow or Beam unless its model needs them.
"""

import argparse
import importlib
import logging
import sys

__version__ = "0.1.0"

# name -> (module, one-line help).  Keep in the order a newcomer meets them.
COMMANDS = {
    "classify": ("models.classify_cli", "classify audio files (Speech: 0.75, Music: 0.12, ...)"),
    "models": ("models.store_cli", "list, download, import and verify models"),
    "embed": ("pipelines.embed", "Beam: audio files -> AudioSet-format TFRecord embeddings"),
    "audioset": ("pipelines.audioset", "Beam: AudioSet segment CSV + local audio -> labelled TFRecords"),
    "predict": ("pipelines.predict", "Beam: audio or embedding TFRecords -> predictions in Parquet"),
    "train": ("models.train_cli", "train a classifier head on AudioSet-format embeddings"),
    "evaluate": ("models.evaluate_cli", "evaluate a classifier head: hit@1, GAP, mAP, AUC, d'"),
    "capture": ("runtime.capture_cli", "classify the microphone every 5-7 s"),
    "serve": ("runtime.serve_cli", "capture + web page + DeviceHive notifications"),
}


def build_parser():
  """The top-level parser; subcommand modules add their own arguments lazily."""
  parser = argparse.ArgumentParser(
      prog="soundscope", description="Tell what is heard in audio: batch, training and live.")
  parser.add_argument("--version", action="version", version=f"soundscope {__version__}")
  parser.add_argument("-v", "--verbose", action="count", default=0,
                      help="more logging (-v info, -vv debug); quiet by default")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  for name, (_, help_text) in COMMANDS.items():
    subparsers.add_parser(name, help=help_text, add_help=False)
  return parser


def main(argv=None):
  argv = list(sys.argv[1:] if argv is None else argv)
  parser = build_parser()
  args, rest = parser.parse_known_args(argv)
  if not args.command:
    parser.print_help()
    return 2
  logging.basicConfig(
      level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
      format="%(asctime)s %(levelname)s %(name)s: %(message)s")
  module = importlib.import_module(COMMANDS[args.command][0])
  sub = argparse.ArgumentParser(prog=f"soundscope {args.command}",
                                description=COMMANDS[args.command][1])
  module.add_arguments(sub)
  sub_args = sub.parse_args(rest) if not getattr(module, "PASS_UNKNOWN_ARGS", False) else None
  if sub_args is None:
    # Beam pipelines pass every option they do not know to PipelineOptions.
    sub_args, unknown = sub.parse_known_args(rest)
    sub_args.pipeline_args = unknown
  sub_args.verbose = args.verbose
  try:
    return int(module.run(sub_args) or 0)
  except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
