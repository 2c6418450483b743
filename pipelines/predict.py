"""`soundscope predict`: audio files or embedding TFRecords -> predictions in Parquet.

  soundscope predict --input 'archive/**/*.wav' --output preds.parquet [--model NAME]
  soundscope predict --input 'audioset/eval/*.tfrecord' --output eval.parquet --model my_head

Input: audio files (any --input form of pipelines/inputs.py), or TFRecords of
AudioSet-format embeddings (picked automatically when every input file name
ends in .tfrecord, or with --input-format), scored with
Classifier.embedding_batch_scores (a batch of records per model call), so that no
audio is needed (VGGish heads only).

Output schema (pipelines/prediction.py predictions_schema; the field names are
the shared ones of models/rows.py and docs/outputs.md), one row per
input by default, one
per analysis window with --per-window:
  id             string   video_id: the path relative to the input root for
                          audio files, the record's video_id for TFRecords
  source         string   the file read (audio file, or TFRecord file)
  record         int32    position of the record in its TFRecord file (0 for audio)
  start_seconds  float64  window start: seconds from the start of the audio
                          file, or the record's start_time_seconds + offset
  end_seconds    float64  window end, same reference (never past the audio's end)
  predictions    list<struct<label: string, index: int32, score: float32>>
                          the --top-k best labels with score >= --threshold, best first
  scores         list<float32>  every class's score (only with --scores)
  model          string   the classifier's name in the store
  model_version  string   its version
  run_time       timestamp[us, UTC]  when the run started (same for every row)
  rms_dbfs, peak_dbfs  float64 (nullable)  the row's levels, dBFS (null for records)
  start_utc, end_utc  timestamp[us, UTC] (nullable)  with --start-time
With --events, the run's sound events go to OUTPUT-minus-.parquet + `-events.parquet`
(pipelines/events.py, docs/events.md).
Failures go to OUTPUT-minus-.parquet + `-errors.parquet`; the run checks
inputs = inputs with rows + errors.  Rows are written in one file per part
and merged into OUTPUT once the pipeline is done; --keep-shards leaves them as
the output (OUTPUT-minus-.parquet + `-SSSSS-of-NNNNN.parquet`, one per part).

Audio files of any length are decoded in --read-block blocks and scored in
--score-block segments as they are decoded (models/scoring.score_file):
memory stays bounded and the numbers are those of the whole file.
"""

import os
import sys

from soundscope.configs import pipelines as PC
from soundscope.pipelines import dead_letter, events, inputs, launch, listing, options, outputs

# apache_beam, the model handlers and the Beam graph (pipelines.prediction) are
# imported inside run(), so `soundscope predict --help` stays fast.



def _is_tfrecord(path):
  suffix = inputs.TFRECORD_SUFFIX
  return path.endswith(suffix) or (suffix + "-") in os.path.basename(path)


def choose_format(requested, files):
  if requested != "auto":
    return requested
  return "tfrecord" if files and all(_is_tfrecord(f.path) for f in files) else "audio"


RECORD_FILES_PER_PART = PC.RECORD_FILES_PER_PART   # parts.part_size's fixed (configs).


def run_settings(args, loader, input_format):
  """{name: value} of everything that changes predict's outputs (--resume compares them)."""
  label_set = getattr(args, "label_set", None)
  return {"command": "predict", "model": loader.describe(), "model_files": loader.fingerprint(),
          "input_format": input_format, "per_window": args.per_window, "scores": args.scores,
          "report": launch.comparable(getattr(args, "report", None), ("score_block_seconds",),
                                      ("model_dir",)),
          "front_end": launch.comparable(args.params, ("read_block_seconds",)),
          "labels": None if label_set is None else repr(label_set),
          "file_steps": _file_steps(args).settings()}


def _file_steps(args):
  """pipelines/events.FileSteps of --events, --start-time, --min-level (cli/event_flags.py)."""
  return getattr(args, "file_steps", None) or events.FileSteps()


def split_inputs(files, input_format):
  """(files whose name is UTF-8, error rows for the others: Beam and Parquet need UTF-8)."""
  kept, errors = [], []
  for item in files:
    try:
      inputs.check_name(item.path)
    except inputs.FileNameError as exc:
      key = f"{item.video_id}#0" if input_format == "tfrecord" else item.video_id
      errors.append(dead_letter.error_row(key, item.path, "read", (exc.kind, str(exc))))
      continue
    kept.append(item)
  return kept, errors


def run(args):
  options.quiet_logs()
  from soundscope.pipelines import merge, model_handlers, prediction, resume
  # The store's folder as an absolute path: workers elsewhere read it from their own folder.
  loader = model_handlers.ClassifierLoader(args.model, listing.local_absolute(args.model_dir),
                                           args.model_factory)
  # out.parquet -> errors in out-errors.parquet; the prefix owns both.
  suffix = prediction.PARQUET_SUFFIX
  base = args.output[:-len(suffix)] if args.output.endswith(suffix) else args.output
  tail = args.output[len(base):]
  # The prefix owns both layouts, so a rerun in either replaces the other.
  owned = (tail, outputs.SHARD_NUMBERS + suffix, dead_letter.PARQUET_SUFFIX,
           dead_letter.JSONL_SUFFIX, events.EVENTS_TAIL)
  try:
    outputs.check_output(args.output, "preds" + suffix)
    expansion = launch.without_own_outputs("predict", inputs.expand(args.input), base, owned)
    loader.check()   # Here, in one line, rather than as a traceback from a Beam worker.
  except (OSError, ValueError) as exc:
    print(f"soundscope predict: error: {exc}", file=sys.stderr)
    return 2
  input_format = choose_format(args.input_format, expansion.files)
  files, early_errors = split_inputs(expansion.files, input_format)
  steps = _file_steps(args)
  try:   # Files without a start time are error rows; a pattern fitting none, a usage error.
    events.check_inputs(steps, input_format, files)
    files, no_start_time = events.split_start_times(steps, files, dead_letter.error_row)
  except ValueError as exc:
    print(f"soundscope predict: error: {exc}", file=sys.stderr)
    return 2
  early_errors += no_start_time
  early_errors = [dead_letter.error_row(item.video_id, item.path, "expand", (
      "duplicate_input", f"{item.path}: listed more than once"))
                  for item in expansion.duplicates] + early_errors
  params = args.params

  def build(pipeline, todo, parts_dir, beacon_dir, run_time):
    if input_format == "tfrecord":
      beacon_dir = None   # The progress line counts files; records are only known once read.
    handler = model_handlers.ClassifierModelHandler(
        loader, model_handlers.RowFormat(args.top_k, args.threshold, args.scores),
        args.per_window, model_handlers.AudioConfig(params, args.score_block_seconds),
        options.decode_threads(args), beacon_dir,
        batch_size=(model_handlers.RECORD_BATCH_SIZE if input_format == "tfrecord"
                    else model_handlers.CLASSIFIER_BATCH_SIZE),
        label_set=getattr(args, "label_set", None), file_steps=steps)
    prediction.build_pipeline(pipeline, todo, input_format, handler, parts_dir, args.scores,
                              run_time, beacon_dir)

  def merge_outputs(staged, done, indices, run_time):
    paths = prediction.merge_parts(staged.parts_dir, indices, staged.staged(tail), args.scores,
                                   staged.staged() if args.keep_shards else None)
    errors = merge.write_errors(staged.staged(dead_letter.suffix(args.errors_format)),
                                early_errors, merge.part_files(staged.parts_dir, indices,
                                                               prediction.ERRORS_TABLE),
                                args.errors_format)
    if steps.events:
      found = events.merge_events(
          merge.part_files(staged.parts_dir, indices, events.EVENTS_TABLE),
          staged.staged(events.EVENTS_TAIL), paths, args.event_dir, args.event_format)
      print(f"events: {found}")
    return prediction.count_written(paths), errors

  if input_format == "tfrecord":
    # Records are only known once read: inputs = records read + files that broke.
    unit, known_inputs = "records", None
  else:
    unit, known_inputs = "files", len(expansion.files) + len(expansion.duplicates)
  settings = launch.settings_of(run_settings(args, loader, input_format))
  keys = [resume.input_key(item.path) for item in files]
  # TFRecord files hold ~5 records: parts of RECORD_FILES_PER_PART files fill a head's batches.
  def reuse(committed):   # --resume: the committed outputs' tables (pipelines/resume.py).
    tables = {
        prediction.ROWS_TABLE: resume.Reuse(listing.files_matching(
            base, tail, outputs.SHARD_NUMBERS + suffix), "source",
            prediction.predictions_schema(args.scores), 0),
        prediction.ERRORS_TABLE: resume.Reuse(listing.files_matching(
            base, dead_letter.PARQUET_SUFFIX, dead_letter.JSONL_SUFFIX), "input",
            dead_letter.errors_schema(), committed["early_errors"])}
    if steps.events:
      from soundscope.transforms import event_tables
      tables[events.EVENTS_TABLE] = resume.Reuse(listing.files_matching(base, events.EVENTS_TAIL),
                                                 "source", event_tables.EVENTS_SCHEMA, 0)
    return tables, resume.rows_and_errors(prediction.ROWS_TABLE, prediction.ERRORS_TABLE)

  job = launch.Job("predict", unit, files, keys, settings, build, merge_outputs, known_inputs,
                   len(early_errors), RECORD_FILES_PER_PART if input_format == "tfrecord" else None,
                   reuse)
  return launch.run_command(args, job, base, owned)
