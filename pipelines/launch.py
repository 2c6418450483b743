"""Running a built pipeline: progress, counters, reconciliation, atomic commit.

Shared by embed, audioset and predict so that every command ends the same way:
the pipeline runs with the progress line on stderr (local runners), its Beam
counters are printed, the outputs are counted back from the files written,
`inputs = written + errors` is checked, and only then are the staged outputs
moved into place.  Exit status 0 on success, 1 when the pipeline failed or
the counts do not reconcile (the previous outputs are then left untouched).
"""

import sys
import time

from soundscope.pipelines import dead_letter, options, progress


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
  elif not dead_letter.reconcile(unit, num_inputs(totals) if callable(num_inputs)
                                 else num_inputs, written, errors, stream=stream):
    staged.abort()
    print(f"{label}: counts do not reconcile; outputs not written", file=sys.stderr)
    return 1
  final = staged.commit()
  for path in final:
    print(f"  {path}", file=stream)
  return 0
