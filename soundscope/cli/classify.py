"""`soundscope classify FILE...`: what is heard in each file, one line per file.

  $ soundscope classify speech.wav dog.flac
  speech.wav: Speech: 0.75, Music: 0.12, Inside, large room or hall: 0.03
  dog.flac: Dog: 0.91, Animal: 0.88, Domestic animals, pets: 0.85

Any sample rate, mono or stereo, wav/flac/ogg (transforms/audio.py decodes,
mixes and resamples with the reference's kaiser_best filter).  All files share
one loaded model; with YAMNet, files are decoded and scored in `--jobs`
threads (the BLAS resampler and LiteRT's invoke both release the GIL; each
job uses one BLAS thread) and the lines still come out in the order of the
arguments.  A bad file gives one line on stderr naming it and the problem;
the others are still classified and the exit status is 1.  No model in the store: one line saying how to get one, exit
status 2.

With `--labels FILE|NAME` the scores are a label set's labels instead of the
model's classes (models/label_sets.py, docs/labels.md): each label scores the
max of its classes' scores, is reported only from its own threshold up, and
the lines and --json name the labels.  A label set that cannot be read or
names an unknown class is one line naming the file and line, exit status 2.

With `--events` (docs/events.md) each file's windows become sound events
(transforms/events.py: hysteresis --event-enter/--event-exit, --event-min-duration,
--event-merge-gap, --event-tail), one line per event after the file's line:

  dog.flac: dog 1.44-2.90 s (peak 0.94)

and an `events` list per file with --json.  `--event-dir DIR` writes them as
tables (`--event-format`: csv or jsonl, one events.csv / events.jsonl for the
run; raven or audacity, one <stem>.selections.txt / <stem>.labels.txt per
file; transforms/event_tables.py).  A rule its config refuses (--event-exit
above --event-enter) is one usage error naming the flag, exit 2.  The events
come from models/file_events.py, the step `predict --events` takes too.

Levels (docs/outputs.md): each --json object and window row holds rms_dbfs and
peak_dbfs (models/scoring.py); with `--min-level DBFS` a window quieter than
that is not classified (null predictions, "(too quiet)" in the lines) and
takes no part in the clip's scores or in events.  `--start-time
PATTERN|NAME|CSV` (and `--timezone`) gives each file's start, so the --json
rows and events gain start_utc/end_utc; a file without one is a failed file
(one line naming it; exit 1), and a pattern or CSV matching none of the files
is a usage error (exit 2).

With YAMNet this command imports neither TensorFlow nor Apache Beam.
"""

import concurrent.futures
import json
import os
import sys

from soundscope.cli import event_flags, flags
from soundscope.cli import labels as labels_cli
from soundscope.configs import levels as L
from soundscope.configs import params as P
from soundscope.models import classifier as C
from soundscope.models import rows

REPORT_FLAGS = ("model", "model_dir", "top_k", "threshold", "aggregation")
EXIT_OK = 0
EXIT_SOME_FILES_FAILED = 1
EXIT_NO_MODEL = 2
TOO_QUIET = "(too quiet)"


def add_arguments(parser):
  """Adds the classify options to an argparse parser."""
  parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, ...)")
  flags.add_flags(parser, P.ReportOptions, names=REPORT_FLAGS)
  parser.add_argument("--per-window", action="store_true",
                      help="also print a timeline: one line per analysis window")
  parser.add_argument("--json", action="store_true",
                      help="one JSON object per file on stdout (JSON Lines)")
  labels_cli.add_arguments(parser)
  parser.add_argument("--jobs", type=int, default=None,
                      help="files processed in parallel (default: CPU count, at most 8, for "
                           "models that allow it, e.g. YAMNet; 1 for the others)")
  event_flags.add_arguments(parser)
  return flags.add_flags(parser, P.VggishParams, names=["resample_filter"])


def classify_file(model, path, params, aggregation, want_windows, min_level_dbfs=None):
  """Scores one file through the shared scoring path (models/scoring.py).

  Returns:
    scoring.Scores: the pooled scores, every window when want_windows, the
    duration, the levels (windows under min_level_dbfs, when given, not classified).
  """
  from soundscope.models import scoring
  return scoring.score_file(model, path, params, per_window=want_windows,
                            aggregation=aggregation, min_level_dbfs=min_level_dbfs)


def format_text(path, scores, labels, top_k, threshold, label_set=None):
  """The article's line, plus one indented line per window with --per-window.

  label_set: the resolved --labels set, whose labels have their own thresholds (None:
  the model's classes and --threshold)."""
  nothing = ("(no label reaches its threshold)" if label_set is not None
             else f"(no label scores {threshold:g} or more)")
  body = (TOO_QUIET if rows.too_quiet(scores.clip) else
          C.format_predictions(C.top_k(scores.clip, labels, top_k, threshold)) or nothing)
  lines = [f"{path}: {body}"]
  if scores.windows is not None:
    for row in rows.window_rows(scores.windows, labels, top_k, threshold):
      window_predictions = TOO_QUIET if row["predictions"] is None else ", ".join(
          f"{p['label']}: {p['score']:.2f}" for p in row["predictions"])
      lines.append(f"  {row['start_seconds']:7.2f}-{row['end_seconds']:7.2f} s: "
                   f"{window_predictions or '-'}")
  return "\n".join(lines)


def format_json(path, scores, model, aggregation, top_k, threshold, labels=None,
                label_set=None, events=None, start_utc=None):
  """One JSON object (a line) for a classified file, in the shared field names (models/rows.py).

  labels: the names the scores are aligned with (default the model's classes);
  label_set: the label set's name, reported as `label_set` when given;
  events: [transforms.events.Event], reported as an `events` list when given;
  start_utc: the file's start (aware datetime): UTC times of the clip, windows, events.
  """
  from soundscope.transforms import timestamps
  labels = model.labels if labels is None else labels
  level = None if scores.level is None else [column[0] for column in scores.level]
  record = {"source": path, **rows.model_fields(model), "aggregation": aggregation,
            "duration_seconds": scores.seconds,
            **rows.window_row(0.0, scores.seconds, scores.clip, labels, top_k, threshold,
                              level=level, start_utc=start_utc)}
  if label_set is not None:
    record["label_set"] = label_set
  if scores.windows is not None:
    record["windows"] = rows.window_rows(scores.windows, labels, top_k, threshold,
                                         levels=scores.levels, start_utc=start_utc)
  if events is not None:
    record["events"] = [event_dict(event, start_utc) for event in events]
  return json.dumps(record, default=timestamps.iso_utc)   # The datetimes of the UTC fields.


def event_dict(event, start_utc=None):
  """An Event's fields, with start_utc/end_utc when the file's start is known."""
  fields = event.as_dict()
  if start_utc is not None:
    fields["start_utc"] = rows.utc_at(start_utc, event.start_seconds)
    fields["end_utc"] = rows.utc_at(start_utc, event.end_seconds)
  return fields


def format_events(path, events, start_utc=None):
  """One line per event: `path: label start-end s (peak 0.91)`, then its UTC start when known."""
  from soundscope.transforms import timestamps
  return "\n".join(
      f"{path}: {e.label} {e.start_seconds:.2f}-{e.end_seconds:.2f} s (peak {e.peak_score:.2f})"
      + ("" if start_utc is None else
         f" at {timestamps.iso_utc(rows.utc_at(start_utc, e.start_seconds))}")
      for e in events)


def describe_error(path, exc):
  """(kind, one-line message) for a file that could not be classified."""
  from soundscope.transforms import errors
  if isinstance(exc, errors.AudioInputError):
    return exc.kind, str(exc)
  if isinstance(exc, MemoryError):
    return "out_of_memory", f"{path}: too long to hold in memory"
  return errors.error_kind(exc), f"{path}: {type(exc).__name__}: {exc}"


def jobs_for(model, asked=None):
  """Files in parallel: `asked` (default the CPU count, at most 8) for thread-safe
  models; 1 for the others, whatever was asked."""
  if not getattr(model, "thread_safe", False):
    return 1
  return asked or max(1, min(8, os.cpu_count() or 1))


def _one_blas_thread_each(parallel_files):
  """While files run in parallel, each resamples with one BLAS thread.

  transforms.audio.resample is a BLAS matrix product.  OpenBLAS would start
  a thread per core inside every job, so `jobs` jobs would run jobs x cores
  spinning threads on `cores` cores: measured here, the resampler's CPU time
  per clip doubles and the wall time grows several-fold.  The parallelism is
  across files instead.  A single file keeps BLAS's own threads.
  """
  from soundscope.transforms import blas
  return blas.limit_threads(1 if parallel_files > 1 else 0)


def classify_files(model, paths, params, aggregation, want_windows, jobs, min_level_dbfs=None):
  """Scores files in `jobs` threads, yielding in the order of `paths`.

  Yields:
    (path, result, error): result as classify_file's (None on failure),
    error a (kind, message) pair from describe_error (None on success).
    One bad file never stops the others.
  """
  def work(path):
    try:
      return classify_file(model, path, params, aggregation, want_windows, min_level_dbfs), None
    except Exception as exc:  # One bad file never stops the others.
      return None, describe_error(path, exc)

  from soundscope.models import scoring
  scoring.keep_freed_memory()   # File after file: freed heap kept for the next one.
  parallel = min(max(1, jobs), len(paths))
  with _one_blas_thread_each(parallel), \
       concurrent.futures.ThreadPoolExecutor(parallel) as pool:
    # map keeps argument order; results stream out as soon as they are ready.
    outcomes = pool.map(work, paths) if parallel > 1 else map(work, paths)
    for path, (result, error) in zip(paths, outcomes):
      yield path, result, error


def run(args):
  """Classifies args.files; returns the exit status (0, 1 if any file failed, 2 if no model)."""
  flags.build(P.ReportOptions, args)   # A refused --top-k or --threshold: usage error, exit 2.
  params = flags.build(P.VggishParams, args)
  levels = flags.build(L.LevelOptions, args)
  starts = event_flags.start_times(args, args.files)
  rules, tables = event_flags.event_options(args)
  try:
    return _run(args, params, rules, tables, levels, starts)
  finally:
    if tables is not None:
      tables.close()


def _run(args, params, rules, tables, levels, starts):
  """run() once the options are checked (starts: start_times's pair)."""
  from soundscope.models import file_events, label_sets, scoring
  from soundscope.models.store import files as store
  from soundscope.models.store import registry
  from soundscope.transforms import event_tables
  try:
    model = registry.load_classifier(args.model, args.model_dir)
  except store.ModelNotFoundError as exc:
    print(f"soundscope classify: {exc}", file=sys.stderr)
    return EXIT_NO_MODEL
  resolved = labels_cli.resolve(args, model)
  labels = label_sets.label_names(resolved, model)
  aggregation = args.aggregation or model.default_aggregation
  jobs = jobs_for(model, args.jobs)
  failed = 0
  found, missing = starts
  for path, result, error in classify_files(model, args.files, params, aggregation,
                                            args.per_window or rules is not None, jobs,
                                            levels.min_level_dbfs):
    if path in missing:   # Scored like the others, but its times would be a guess.
      result, error = None, (missing[path].kind, str(missing[path]))
    if error is not None:
      failed += 1
      kind, message = error
      print(message, file=sys.stderr, flush=True)
      if args.json:
        print(json.dumps({"source": path, "error": message, "kind": kind}), flush=True)
      continue
    events = None
    if rules is not None:
      events = file_events.file_events(model, result, resolved, rules)
      if tables is not None:
        tables.write(path, events, event_tables.utc_times(events, found.get(path)))
      if not args.per_window:
        result = scoring.without_windows(result)
    result = label_sets.reported(result, resolved)
    if args.json:
      line = format_json(path, result, model, aggregation, args.top_k, args.threshold, labels,
                         resolved and resolved.name, events, found.get(path))
    else:
      line = format_text(path, result, labels, args.top_k, args.threshold, resolved)
      if events:
        line += "\n" + format_events(path, events, found.get(path))
    print(line, flush=True)
  return EXIT_SOME_FILES_FAILED if failed else EXIT_OK
