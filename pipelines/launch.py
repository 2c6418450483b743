"""Running a built pipeline: progress, counters, reconciliation, atomic commit.

Shared by embed, audioset and predict so that every command ends the same way:
the pipeline runs with the progress line on stderr (local runners), its Beam
counters are printed, the outputs are counted back from the files written,
`inputs = written + errors` is checked, and only then are the staged outputs
moved into place.  Exit status 0 on success, 1 when the pipeline failed or
the counts do not reconcile (the previous outputs are then left untouched),
and 1 when too many inputs failed.

Too many: more than --max-error-fraction of the inputs (default 1.0), and
always when every input failed (at least one input, none written).  The
outputs are still moved into place (the errors file is what to act on) and
the run prints one line on stderr, e.g. 'predict: 21 of 21 records failed
(21 unreadable_tfrecord; e.g. <the first message>)'; an empty input list is
not a failure.
"""

import sys
import time

from soundscope.pipelines import dead_letter, options, progress

DEFAULT_MAX_ERROR_FRACTION = 1.0


def too_many_errors(inputs, errors, max_fraction=DEFAULT_MAX_ERROR_FRACTION):
  """True when every input failed (inputs > 0), or errors > max_fraction of the inputs."""
  if inputs <= 0:
    return False
  return errors >= inputs or errors > max_fraction * inputs


def failure_line(label, unit, inputs, errors, errors_path):
  """'predict: 21 of 21 records failed (21 unreadable_tfrecord; e.g. ...)' from the errors file."""
  return (f"{label}: {errors} of {inputs} {unit} failed "
          f"({dead_letter.summary(dead_letter.read_reasons(errors_path))})")


def count_errors(rows):
  """Beam step: increments soundscope/errors_<type> for each error row."""
  import apache_beam as beam

  def _count(row):
    progress.count_error(row["error_type"])
    return row
  return rows | "CountErrors" >> beam.Map(_count)


def run(args, label, unit, num_inputs, build, count_outputs, staged, progress_total=None,
        stream=None, finish=None):
  """Builds, runs, reconciles and commits.

  Args:
    args: parsed arguments (pipeline_args, no_progress).
    label: command name for the progress line ('embed').
    unit: what the inputs are ('files', 'segments', 'records').
    num_inputs: inputs known before the run, or a callable(counter totals)
      returning it when only the run can tell (records inside TFRecords).
    build: callable(pipeline, beacon_dir) that adds the transforms.
    count_outputs: callable() -> (written, errors) read back from the staged files.
    staged: outputs.StagedOutput.
    progress_total: items the workers will process (default num_inputs).
    finish: callable() run once the pipeline is done, before counting (e.g.
      merging shards into one file); None for nothing.

  Returns:
    exit status.
  """
  stream = stream or sys.stdout
  pipeline_args = list(getattr(args, "pipeline_args", None) or [])
  known_total = None if callable(num_inputs) else num_inputs
  if progress_total is None:
    progress_total = known_total
  reporter = progress.Reporter(label, progress_total or 0,
                               enabled=options.is_local(pipeline_args) and not args.no_progress
                               and progress_total is not None)
  try:
    pipeline = options.make_pipeline(pipeline_args)
    build(pipeline, reporter.directory)
    started = time.monotonic()
    with reporter:
      result = pipeline.run()
      state = result.wait_until_finish()
  except BaseException:
    staged.abort()
    raise
  elapsed = time.monotonic() - started
  if str(state).split(".")[-1] != "DONE":
    staged.abort()
    print(f"{label}: pipeline ended in state {state}; previous outputs left as they were",
          file=sys.stderr)
    return 1
  totals = progress.counter_totals(result)
  print(f"{label}: finished in {elapsed:.1f} s; counters: "
        f"{progress.format_counters(totals or {})}", file=stream)
  try:
    if finish is not None:
      finish()
    written, errors = count_outputs()
  except BaseException:
    staged.abort()
    raise
  if callable(num_inputs) and totals is None:
    # Only the workers' counters know how many records the files held.
    print(f"{unit}: ? in = {written} written + {errors} errors (not checked: the runner "
          f"reported no counters)", file=stream)
    inputs = written + errors
  else:
    inputs = num_inputs(totals) if callable(num_inputs) else num_inputs
    if not dead_letter.reconcile(unit, inputs, written, errors, stream=stream):
      staged.abort()
      print(f"{label}: counts do not reconcile; outputs not written", file=sys.stderr)
      return 1
  max_fraction = getattr(args, "max_error_fraction", DEFAULT_MAX_ERROR_FRACTION)
  failed = too_many_errors(inputs, errors, max_fraction) and failure_line(
      label, unit, inputs, errors, staged.staged(dead_letter.suffix(args.errors_format)))
  final = staged.commit()
  for path in final:
    print(f"  {path}", file=stream)
  if failed:
    print(failed, file=sys.stderr)
    return 1
  return 0
