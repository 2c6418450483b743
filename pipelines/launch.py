"""Running a command's parts: plan, resume, run, merge, reconcile, crash-safe commit.

Shared by embed, audioset and predict so that every command ends the same way:
  1. the inputs are planned into parts (pipelines/parts.py); with --resume the
     finished parts of an interrupted run are taken over, and the parts of
     inputs already committed unchanged are written from the committed outputs
     (pipelines/resume.py);
  2. the pipeline runs on the other parts, on the chosen runner (options.
     runner_session: the FnApiRunner by default, Dask, or any Beam runner), with
     the progress line on stderr (local workers);
  3. the parts' files are merged into the staged outputs (pipelines/merge.py)
     and counted back from them: `inputs = written + errors` is checked;
  4. only then are the staged outputs committed (pipelines/outputs.py).
Exit status 0 on success, 1 when the pipeline failed or the counts do not
reconcile (the previous outputs are then left untouched), and 1 when too
many inputs failed.  Beam counters are printed when the runner reports them
(metrics are for progress only; Dask reports none).

Too many: more than --max-error-fraction of the inputs (default 1.0), and
always when every input failed (at least one input, none written).  The
outputs are still moved into place (the errors file is what to act on) and
the run prints one line on stderr, e.g. 'predict: 21 of 21 records failed
(21 unreadable_tfrecord; e.g. <the first message>)'; an empty input list is
not a failure.

A failure a person can act on (a model that does not load, an output that
cannot be written, a runner that cannot start) is one line naming the path,
exit 1; the finished parts of a failed pipeline stay for --resume.
"""

import collections
import re
import sys
import time

from soundscope.configs import pipelines as PC
from soundscope.pipelines import (cluster, dead_letter, listing, options, outputs, parts, progress,
                                  resume)

DEFAULT_MAX_ERROR_FRACTION = PC.MAX_ERROR_FRACTION

Job = collections.namedtuple("Job", ["label", "unit", "items", "keys", "settings", "build",
                                     "merge", "known_inputs", "extra_inputs", "part_size",
                                     "reuse"],
                             defaults=(None, None))
Job.__doc__ = """One command's run, as launch.run needs it.

  label: command name ('embed'); unit: what an input is ('files', 'records').
  items: the inputs to plan into parts (AudioJobs, InputFiles).
  keys: list, per item, of its resume key (resume.input_key + what else matters).
  settings: {name: JSON value} of everything that changes the outputs.
  build: callable(pipeline, parts to run, parts folder, beacon folder, run_time).
  merge: callable(staged, done: {index: done dict}, indices in order, run_time) ->
    (written, errors): writes the staged outputs from the parts and counts them back.
  known_inputs: inputs known before the run (int), or None when the parts tell
    (records inside TFRecord files): then inputs = the parts' + extra_inputs.
  extra_inputs: inputs accounted for outside the parts (early errors).
  part_size: inputs per part wanted (parts.part_size's fixed), or None for the default.
  reuse: callable(committed inputs record) -> ({table: resume.Reuse}, count_inputs), or
    None when the command does not reuse committed outputs (resume.take_committed); with
    it, a run with --resume records its inputs beside the outputs.
"""

# Lines in a worker's error that name what to act on (the rest is Beam's traceback).
_ACTIONABLE = re.compile(r"(?:OutputWriteError|ModelLoadError): (.+)")
_WHILE_RUNNING = re.compile(r"\s*\[while running '[^']*'\]")


def too_many_errors(inputs, errors, max_fraction=DEFAULT_MAX_ERROR_FRACTION):
  """True when every input failed (inputs > 0), or errors > max_fraction of the inputs."""
  if inputs <= 0:
    return False
  return errors >= inputs or errors > max_fraction * inputs


def failure_line(label, unit, inputs, errors, errors_path):
  """'predict: 21 of 21 records failed (21 unreadable_tfrecord; e.g. ...)' from the errors file."""
  return (f"{label}: {errors} of {inputs} {unit} failed "
          f"({dead_letter.summary(dead_letter.read_reasons(errors_path))})")


def one_line(exc):
  """The line of an exception a person can act on (a worker's, out of Beam's wrapping).

  In-process runners re-raise the worker's exception with "[while running
  'Step']" appended; others wrap it in their own, its traceback in the text.
  """
  from soundscope.pipelines import model_handlers
  text = str(exc)
  if isinstance(exc, (parts.OutputWriteError, model_handlers.ModelLoadError)):
    return _WHILE_RUNNING.sub("", text.strip().splitlines()[0] if text.strip() else text)
  found = _ACTIONABLE.findall(text)
  if found:
    return _WHILE_RUNNING.sub("", found[-1].strip())
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  return f"{type(exc).__name__}: {lines[-1] if lines else type(exc).__name__}"


def comparable(value, drop=(), paths=()):
  """A settings dataclass as a dict for --resume's comparison: without the fields `drop`
  (those that change memory or speed, never the numbers) and with the local paths of
  the fields `paths` made absolute (the same folder named from elsewhere compares equal).
  None stays None."""
  import dataclasses
  if value is None:
    return None
  found = dataclasses.asdict(value)
  for name in drop:
    found.pop(name, None)
  for name in paths:
    found[name] = listing.local_absolute(found.get(name))
  return found


def settings_of(values):
  """`values` as JSON would give them back (tuples as lists, dataclasses as dicts), so that
  settings read from an interrupted run's run.json compare equal to this run's."""
  import dataclasses
  import json

  def plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
      return dataclasses.asdict(value)
    return str(value)
  return json.loads(json.dumps(values, default=plain, sort_keys=True))


def without_own_outputs(command, expansion, prefix, owned_patterns):
  """`expansion` (inputs.Expansion) without the prefix's own earlier outputs, with a note
  on stderr (outputs.claim).

  Raises:
    ValueError: as outputs.claim; FileNotFoundError: the inputs were those outputs only.
  """
  own = outputs.claim(prefix, owned_patterns, command,
                      [item.path for item in expansion.files + expansion.duplicates])
  if not own:
    return expansion
  files = [item for item in expansion.files if item.path not in own]
  print(f"{command}: {len(own)} files under --input are its earlier outputs of {prefix} "
        f"(e.g. {sorted(own)[0]}): not read", file=sys.stderr)
  if not files:
    raise FileNotFoundError(f"--input holds no file but {command}'s own outputs of {prefix}")
  return expansion._replace(
      files=files, duplicates=[item for item in expansion.duplicates if item.path not in own])


def run_command(args, job, prefix, owned_patterns, stream=None):
  """Stages the outputs of `prefix` and runs `job`; a failure a person can act on is one
  line on stderr (exit 1; 2 for a refused --resume).

  Returns:
    exit status.
  """
  from soundscope.pipelines import model_handlers
  try:
    staged = outputs.StagedOutput(prefix, owned_patterns,
                                  keep_leftovers=getattr(args, "resume", False))
    return run(args, job, staged, stream)
  except resume.ResumeError as exc:
    print(f"soundscope {job.label}: {exc}", file=sys.stderr)
    return 2
  except (parts.OutputWriteError, model_handlers.ModelLoadError) as exc:
    print(f"soundscope {job.label}: {exc}", file=sys.stderr)
    return 1
  except OSError as exc:   # The staging folder's own files (.run.json, a taken-over part).
    where = f"{exc.filename}: " if exc.filename else ""
    print(f"soundscope {job.label}: {where}{exc.strerror or exc}", file=sys.stderr)
    return 1


def run(args, job, staged, stream=None):
  """Plans, runs, merges, reconciles and commits (see the module docstring).

  Args:
    args: parsed arguments (pipeline_args, no_progress, resume, max_error_fraction,
      errors_format, dask flags).
    job: Job.
    staged: outputs.StagedOutput, made with keep_leftovers=args.resume.

  Returns:
    exit status.
  """
  stream = stream or sys.stdout
  import datetime
  run_time = datetime.datetime.now(datetime.timezone.utc)
  size = parts.part_size(len(job.items), job.part_size)
  folder = previous = None
  if getattr(args, "resume", False):
    folder, previous = resume.previous_run(staged)
    if previous is not None:
      try:
        resume.check_settings(previous, job.settings, folder)
      except resume.ResumeError:
        staged.abort()
        raise
      size = int(previous["part_size"])
      run_time = datetime.datetime.fromisoformat(previous["run_time"])
  committed, groups = _committed(args, job, staged)
  if getattr(args, "resume", False) and previous is None and committed is None:
    print(f"{job.label}: --resume: no interrupted run or committed inputs on this output; "
          f"running every input", file=stream)
  plan = parts.plan(job.items, size, groups)
  positions = parts.plan(range(len(job.items)), size, groups)
  keys = [[job.keys[i] for i in p.items] for p in positions]
  taken = resume.adopt(staged, folder, previous, plan, keys) if previous is not None else set()
  staged.delete_leftovers()
  outputs.write_json(staged.staging_dir + "/" + outputs.RUN_FILE, {
      "settings": job.settings, "part_size": size, "run_time": run_time.isoformat(),
      "keys": keys})
  if previous is not None:
    print(f"{job.label}: --resume: {len(taken)} of {len(plan)} parts taken over from "
          f"{folder}", file=stream)
  if committed is not None:
    chosen = [i for i, p in enumerate(positions) if groups[p.items[0]] and i not in taken]
    resume.take_committed(staged, *committed, [plan[i] for i in chosen],
                          [keys[i] for i in chosen], run_time)
    taken |= set(chosen)
  if job.reuse is not None:   # Every run: a later --resume reuses what this one commits.
    resume.record_inputs(staged, job.settings, job.keys, job.extra_inputs)
  todo = [p for p in plan if p.index not in taken]
  if committed is not None:
    print(f"{job.label}: --resume: {sum(groups)} of {len(groups)} inputs already committed "
          f"unchanged; {sum(len(p.items) for p in todo)} to run", file=stream)
  status = _run_pipeline(args, job, staged, todo, run_time, stream)
  if status:
    return status
  done = parts.read_done(staged.parts_dir)   # Every part: run, taken over or committed.
  try:
    written, errors = job.merge(staged, done, [p.index for p in plan], run_time)
  except BaseException:
    staged.abort()
    raise
  if job.known_inputs is not None:
    inputs = job.known_inputs
  else:
    inputs = sum(done[p.index]["inputs"] for p in plan) + job.extra_inputs
  if not dead_letter.reconcile(job.unit, inputs, written, errors, stream=stream):
    staged.abort()
    print(f"{job.label}: counts do not reconcile; outputs not written", file=sys.stderr)
    return 1
  if inputs == 0:   # Empty TFRecord files: like an empty archive, a usage error.
    staged.abort()
    print(f"soundscope {job.label}: error: the inputs hold no {job.unit}; nothing written "
          f"(the previous outputs stay)", file=sys.stderr)
    return 2
  max_fraction = getattr(args, "max_error_fraction", DEFAULT_MAX_ERROR_FRACTION)
  failed = too_many_errors(inputs, errors, max_fraction) and failure_line(
      job.label, job.unit, inputs, errors, staged.staged(dead_letter.suffix(args.errors_format)))
  final = staged.commit()
  for path in final:
    if not path.rsplit("/", 1)[-1].startswith("."):   # Not the inputs record (resume).
      print(f"  {path}", file=stream)
  if failed:
    print(failed, file=sys.stderr)
    return 1
  return 0


def _committed(args, job, staged):
  """For --resume: ((tables, count_inputs) of job.reuse, per item: True when committed
  unchanged), or (None, None); ResumeError when the committed outputs' settings differ."""
  if job.reuse is None or not getattr(args, "resume", False):
    return None, None
  committed = resume.committed_run(staged)
  if committed is None:
    return None, None
  try:
    resume.check_settings(committed, job.settings, staged.prefix, "the committed output")
  except resume.ResumeError:
    staged.abort()
    raise
  tables, count_inputs = job.reuse(committed)
  if not all(reuse.paths for reuse in tables.values()):   # Outputs removed by hand.
    return None, None
  if len({key[0] for key in job.keys}) < len(job.keys):   # Rows are found by their path.
    print(f"{job.label}: --resume: some inputs share a file (segments of one file); the "
          f"committed outputs are not reused")
    return None, None
  return (tables, count_inputs), resume.reusable(committed, job.keys)


def _run_pipeline(args, job, staged, todo, run_time, stream):
  """Runs the pipeline on the parts `todo`; 0, or 1 with one line on stderr."""
  if not todo:
    return 0
  total = sum(len(p.items) for p in todo)
  # Local workers write beacons; remote ones are followed through the parts' done-files.
  # (TFRecord inputs: the line counts files, and records are only known once read.)
  shown = not args.no_progress and job.unit != "records"
  local = options.is_local_run(args)
  reporter = progress.Reporter(job.label, total, enabled=shown and local,
                               parts_dir=staged.parts_dir if shown and not local else None,
                               parts=[p.index for p in todo],
                               within=(staged.staging_dir if listing.is_local(staged.staging_dir)
                                       else None))
  started = time.monotonic()
  try:
    with options.runner_session(args, len(todo)) as (runner, pipeline_args):
      pipeline = options.make_pipeline(pipeline_args, runner)
      try:   # E.g. a VGGish checkpoint that does not convert (embedding.build_pipeline).
        job.build(pipeline, todo, staged.parts_dir, reporter.directory, run_time)
      except BaseException:
        options.discard_pipeline(pipeline)
        raise
      with reporter:
        result = pipeline.run()
        client = getattr(result, "client", None)   # Beam's DaskRunner leaves it open.
        try:
          state = result.wait_until_finish()
          if client is not None and not local:   # The user's cluster: started as documented?
            cluster.note_missing_preloads(client)
        finally:
          if client is not None:
            client.close()
  except options.RunnerUnavailable as exc:
    staged.abort()
    print(f"soundscope {job.label}: {exc}", file=sys.stderr)
    return 2
  except SystemExit:
    raise
  except KeyboardInterrupt:   # Ctrl-C or SIGTERM (cli/main.py) between bundles.
    _failed(job, staged, "interrupted")
    return 130
  except Exception as exc:  # pylint: disable=broad-except  (a worker's failure, in one line)
    if _interrupted(exc):   # Ctrl-C while a bundle ran: Beam re-raises it as its own error.
      _failed(job, staged, "interrupted")
      return 130
    return _failed(job, staged, one_line(exc))
  if str(state).split(".")[-1] != "DONE":
    return _failed(job, staged, f"pipeline ended in state {state}")
  done = parts.read_done(staged.parts_dir)
  missing = [p.index for p in todo if p.index not in done]
  dask = options.is_dask(list(args.pipeline_args or []))
  if missing:   # E.g. Dask's scheduler lost: Beam's DaskRunner then says DONE.
    lost = "; was the Dask scheduler or a worker lost?" if dask else ""
    return _failed(job, staged, f"the pipeline ended but {len(missing)} of {len(todo)} "
                                f"parts wrote no results (first: part {missing[0]}){lost}")
  totals = None if dask else progress.counter_totals(result)
  print(f"{job.label}: finished in {time.monotonic() - started:.1f} s"
        + (f"; counters: {progress.format_counters(totals)}" if totals else ""), file=stream)
  return 0


def _interrupted(exc):
  """Whether `exc` is a KeyboardInterrupt that a runner re-raised as its own error."""
  seen = set()
  while exc is not None and id(exc) not in seen:
    seen.add(id(exc))
    if isinstance(exc, KeyboardInterrupt) or str(exc).startswith("KeyboardInterrupt"):
      return True
    exc = exc.__cause__ or exc.__context__
  return False


def _failed(job, staged, reason):
  """Prints why the pipeline failed; keeps its finished parts for --resume (if any)."""
  finished = len(parts.read_done(staged.parts_dir))
  if finished:
    kept = f"; its {finished} finished parts are kept for --resume"
  else:
    kept = ""
    staged.abort()
  print(f"{job.label}: {reason} (previous outputs left as they were{kept})", file=sys.stderr)
  return 1
