"""The `soundscope` command line: one entry point, one subcommand per job.

Each subcommand lives in the package that owns it, as a module with
`add_arguments(parser)` and `run(args) -> exit status`.  Modules are imported
only for the subcommand being run, so `soundscope classify` never pays for
TensorFlow or Beam unless its model needs them.
"""

import argparse
import importlib
import logging
import os
import signal
import sys

from soundscope import __version__


# name -> (module, one-line help).  Keep in the order a newcomer meets them.
COMMANDS = {
    "classify": ("soundscope.cli.classify", "classify audio files (Speech: 0.75, Music: 0.12, ...)"),
    "models": ("soundscope.cli.store", "list, download, import and verify models"),
    "embed": ("soundscope.cli.embed", "Beam: audio files -> AudioSet-format TFRecord embeddings"),
    "audioset": ("soundscope.cli.audioset", "Beam: AudioSet segment CSV + local audio -> labelled TFRecords"),
    "predict": ("soundscope.cli.predict", "Beam: audio or embedding TFRecords -> predictions in Parquet"),
    "train": ("soundscope.cli.train", "train a classifier head on AudioSet-format embeddings"),
    "ensemble": ("soundscope.cli.ensemble", "average runs into one head, or train a recipe"),
    "evaluate": ("soundscope.cli.evaluate", "evaluate a classifier head: hit@1, GAP, mAP, AUC, d'"),
    "capture": ("soundscope.cli.capture", "classify the microphone every 5-7 s"),
    "serve": ("soundscope.cli.serve", "capture + web page + DeviceHive notifications"),
    "report": ("soundscope.cli.report", "events Parquet -> an HTML page of the archive: charts, top events"),
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


def parse_command(argv):
  """(top-level args, subcommand module, subcommand args) of a command line.

  Beam pipelines (modules with PASS_UNKNOWN_ARGS) get every option they do not
  know in `pipeline_args`, for Beam's PipelineOptions (one that Beam does not know
  either is a usage error: cli/beam.py). Their parser takes no
  abbreviations: otherwise a Beam option that is a prefix of one of ours (e.g.
  Dataflow's --labels and our --labels-csv) would be swallowed as ours.

  Returns:
    (argparse.Namespace, module or None, argparse.Namespace or None); module is
    None when no subcommand was given.
  """
  parser = build_parser()
  args, rest = parser.parse_known_args(argv)
  if not args.command:
    return args, None, None
  from soundscope.pipelines import options   # Here: `soundscope --help` needs none.
  # Before the subcommand's module can import Beam or TensorFlow.
  options.prepare_imports(args.verbose)
  module = importlib.import_module(COMMANDS[args.command][0])
  passes_unknown = getattr(module, "PASS_UNKNOWN_ARGS", False)
  sub = argparse.ArgumentParser(prog=f"soundscope {args.command}",
                                description=COMMANDS[args.command][1],
                                allow_abbrev=not passes_unknown)
  module.add_arguments(sub)
  if passes_unknown:
    sub_args, unknown = sub.parse_known_args(rest)
    sub_args.pipeline_args = unknown
    # The options Beam does not know either are checked once a local Dask cluster has
    # started (cli/beam.py: the check imports Beam, which the cluster's start overlaps).
    sub_args.own_flags = [flag for action in sub._actions for flag in action.option_strings]
    options.quiet_logs()   # Beam logs at its import.
    problem = options.dask_flags_problem(sub_args)
    if problem:   # One line, as the commands' own usage errors.
      sub.exit(2, f"{sub.prog}: error: {problem}\n")
  else:
    sub_args = sub.parse_args(rest)
  sub_args.verbose = args.verbose
  return args, module, sub_args


def main(argv=None):
  argv = list(sys.argv[1:] if argv is None else argv)
  args, module, sub_args = parse_command(argv)
  if module is None:
    build_parser().print_help()
    return 2
  logging.basicConfig(
      level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
      format="%(asctime)s %(levelname)s %(name)s: %(message)s")
  from soundscope.cli import flags
  if getattr(module, "PASS_UNKNOWN_ARGS", False):
    # A batch scheduler's stop (SIGTERM) ends a pipeline as Ctrl-C does: one line, its
    # finished parts kept for --resume, a local Dask cluster stopped.
    signal.signal(signal.SIGTERM, _interrupt)
  try:
    return int(module.run(sub_args) or 0)
  except flags.UsageError as exc:
    print(f"soundscope {args.command}: error: {exc}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    return 130
  except BrokenPipeError:
    # `soundscope classify *.wav | head -1`: the reader has what it wanted. stdout
    # goes to /dev/null so that Python's flush at exit does not fail again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _interrupt(signum, frame):
  """Signal handler: raises KeyboardInterrupt in the main thread."""
  raise KeyboardInterrupt(signal.Signals(signum).name)


def _skip_teardown(status):
  """Ends the process with `status` without the interpreter's teardown; returns (doing
  nothing) where this Python lacks the hooks used.

  Freeing the modules and native runtimes a command loaded, after its work is done and
  its outputs committed, took longer than many commands' work on the 2-core development
  machine: `python -c "import tensorflow"` 5.4 s against 4.2 s ending with os._exit,
  `import apache_beam, pyarrow.parquet` 1.20 s against 0.87 s.  What exit does that
  matters still runs, in its order: non-daemon threads are joined (with the functions
  threading registers for that, e.g. concurrent.futures' executors), then the atexit
  functions (logging's flush, temporary folders' finalizers, multiprocessing's children),
  then stdout and stderr are flushed.  Objects still alive are not finalized: output files
  are closed by the code that writes them, never left to a destructor.  Under a profiler or
  a tracer (`python -m cProfile -m soundscope ...`, coverage), which write their results
  once the program returns, the process exits the usual way.
  """
  import atexit
  import threading
  if sys.getprofile() is not None or sys.gettrace() is not None:
    return
  shutdown = getattr(threading, "_shutdown", None)
  run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
  if shutdown is None or run_exit_functions is None:
    return
  shutdown()
  run_exit_functions()
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except (OSError, ValueError):  # A closed pipe (`| head -1`) or a closed stream.
      pass
  os._exit(status)


def console_main(argv=None):
  """The `soundscope` command (and `python -m soundscope`): main(), then exit."""
  status = main(argv)   # (argparse's --help and usage errors exit the usual way.)
  _skip_teardown(status)
  sys.exit(status)


if __name__ == "__main__":
  console_main()
