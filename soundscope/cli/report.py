"""`soundscope report EVENTS.parquet... [-o report.html]`: an HTML page of an archive's events.

  $ soundscope report out/pred-events.parquet -o out/report.html
  out/report.html: 12,408 events of 10 labels in 400 files

Reads events tables (predict --events' `<prefix>-events.parquet`; several
files, or folders of `*events.parquet`, make one table) and writes one
self-contained page (soundscope/report/, docs/report.md): per label its
events, total duration, files and scores, activity by hour of day and by
date (in --timezone, UTC by default; by offset in the file when no event has
an absolute time), the --top-events highest-peak events with links to the
audio at their offsets, and the models and label sets (name and sha256).
It opens in a browser from the file, without a server or the network.

A path that does not exist, a file that is not an events table (its missing
columns named) or a bad flag: one line on stderr, exit status 2.  A table
without events gives a page saying so, exit status 0.
"""

import dataclasses
import os
import sys

from soundscope.cli import flags
from soundscope.configs import report as R

DEFAULT_OUTPUT = "report.html"
EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_arguments(parser):
  """Adds the report options to an argparse parser."""
  parser.add_argument("inputs", nargs="+", metavar="EVENTS",
                      help="events Parquet tables (predict --events), or folders of "
                           f"{R.EVENTS_GLOB} files")
  parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="HTML",
                      help="the page to write (default %(default)s)")
  parser.add_argument("--audio-root", default=None, metavar="DIR",
                      help="the folder relative sources are relative to, for the audio links "
                           "(default: the current folder)")
  parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
  return flags.add_flags(parser, R.ArchiveReport)


def run(args):
  """Reads the tables, summarises them and writes the page; returns the exit status."""
  from soundscope.report import aggregate, inputs, render
  from soundscope.util import atomic
  options = flags.build(R.ArchiveReport, args)
  options = dataclasses.replace(options, title=options.title or render.default_title(args.inputs))
  folder = os.path.dirname(os.path.abspath(args.output))
  if not os.path.isdir(folder):
    print(f"soundscope report: {args.output}: its folder does not exist", file=sys.stderr)
    return EXIT_BAD_INPUT
  if os.path.isdir(args.output):
    print(f"soundscope report: {args.output}: is a folder; give a file name inside it, e.g. "
          f"{os.path.join(args.output, 'report.html')}", file=sys.stderr)
    return EXIT_BAD_INPUT
  try:
    table, files = inputs.read_events(args.inputs, progress=not args.no_progress)
  except inputs.ReportInputError as exc:
    print(f"soundscope report: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT
  summary = aggregate.summarize(table, options)
  atomic.write_text(args.output, render.render(summary, files, args.output, options,
                                               audio_root=args.audio_root))
  print(f"{args.output}: {render.counted(summary.events, 'event')} of "
        f"{render.counted(len(summary.labels), 'label')} in "
        f"{render.counted(summary.files, 'file')}")
  return EXIT_OK
