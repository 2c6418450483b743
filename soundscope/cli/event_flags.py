"""Flags of sound events, levels and absolute time, shared by classify and predict
(docs/events.md, docs/outputs.md): --events, --event-format, --event-dir and the
EventRules flags (configs/events.py), --min-level (configs/levels.py),
--start-time and --timezone (configs/timestamps.py)."""

from soundscope.cli import flags
from soundscope.configs import events as E
from soundscope.configs import levels as L
from soundscope.configs import timestamps as T

EVENT_FORMATS = ("csv", "raven", "audacity", "jsonl")   # transforms/event_tables.KINDS


def add_arguments(parser):
  """Adds every flag of this module."""
  add_event_arguments(parser)
  add_level_and_time_arguments(parser)
  return parser


def add_event_arguments(parser):
  """--events, --event-format, --event-dir and the EventRules flags."""
  group = parser.add_argument_group("sound events (docs/events.md)")
  group.add_argument("--events", action="store_true",
                     help="also report sound events: one line (or JSON list) per event")
  group.add_argument("--event-format", "--format", choices=EVENT_FORMATS, default=None,
                     help="with --event-dir: csv or jsonl (one table for the run), raven or "
                          "audacity (one table per file) (default csv); --format is the same")
  group.add_argument("--event-dir", metavar="DIR", default=None,
                     help="write the events as tables into DIR (implies --events)")
  flags.add_flags(group, E.EventRules)


def event_options(args):
  """(EventRules or None when no events are asked, event_tables.TableFolder or None).

  Raises:
    flags.UsageError: a rule its config refuses; --event-format without --event-dir;
      an --event-dir that cannot be written.
  """
  rules = flags.build(E.EventRules, args)
  if args.event_format and not args.event_dir:
    raise flags.UsageError("--event-format needs --event-dir DIR")
  if not (args.events or args.event_dir):
    return None, None
  if not args.event_dir:
    return rules, None
  from soundscope.transforms import event_tables
  try:
    return rules, event_tables.TableFolder(args.event_dir, args.event_format or "csv")
  except OSError as exc:
    raise flags.UsageError(f"--event-dir {args.event_dir}: cannot write there: "
                           f"{exc.strerror or exc}") from None


def add_level_and_time_arguments(parser):
  """--min-level (configs/levels.py), --start-time and --timezone (configs/timestamps.py)."""
  flags.add_flags(parser, L.LevelOptions, title="levels (docs/outputs.md)")
  return flags.add_flags(parser, T.StartTimeOptions, title="absolute time (docs/events.md)")


def start_time_source(args):
  """The start times of --start-time (transforms/timestamps PatternTimes or CsvTimes), or None.

  Raises:
    flags.UsageError: a bad --timezone, pattern or CSV (one line).
  """
  options = flags.build(T.StartTimeOptions, args)
  if options.start_time is None:
    return None
  from soundscope.transforms import timestamps
  try:
    return timestamps.start_times(options.start_time, options.timezone)
  except timestamps.StartTimeError as exc:
    raise flags.UsageError(str(exc)) from None


def start_times(args, paths):
  """The files' start times {path: aware UTC datetime} and {path: StartTimeError} of the
  files without one; ({}, {}) without --start-time.

  Raises:
    flags.UsageError: a bad --timezone, pattern or CSV, or one that matches none of `paths`.
  """
  source = start_time_source(args)
  if source is None:
    return {}, {}
  from soundscope.transforms import timestamps
  try:
    found, missing = timestamps.check_matches(source, paths)
  except timestamps.StartTimeError as exc:
    raise flags.UsageError(str(exc)) from None
  return found, dict(missing)


def file_steps(args, label_set):
  """predict's per-file steps (pipelines/events.FileSteps) from the flags.

  label_set: the ResolvedLabelSet of --labels, or None.  --event-dir is made here.

  Raises:
    flags.UsageError: a refused rule or level, a bad start time source,
      --event-format without --event-dir, an --event-dir that cannot be made.
  """
  import os
  from soundscope.models import file_events
  from soundscope.pipelines import events
  rules = flags.build(E.EventRules, args)
  if args.event_format and not args.event_dir:
    raise flags.UsageError("--event-format needs --event-dir DIR")
  wanted = args.events or args.event_dir
  if args.event_dir:
    try:
      os.makedirs(args.event_dir, exist_ok=True)
    except OSError as exc:
      raise flags.UsageError(f"--event-dir {args.event_dir}: cannot write there: "
                             f"{exc.strerror or exc}") from None
  return events.FileSteps(
      rules if wanted else None, label_set,
      file_events.label_set_hash(args.labels) if args.labels else None,
      start_time_source(args), flags.build(L.LevelOptions, args).min_level_dbfs)
