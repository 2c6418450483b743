"""`soundscope embed`: audio files -> AudioSet-format TFRecord embeddings.

  soundscope embed --input 'corpus/**/*.wav' --output out/corpus [--labels-csv labels.csv]
                   [--vggish-checkpoint CKPT --pca-params NPZ] [Beam options ...]

Writes, atomically replacing a previous run with the same prefix:
  PREFIX-00000-of-000NN.tfrecord  one SequenceExample per file (release schema,
                                  transforms/records.py): video_id = path
                                  relative to the input root (pipelines/inputs.py)
  PREFIX-manifest.parquet         video_id -> source, duration, rate, channels, frames
  PREFIX-errors.parquet           one row per file that failed (pipelines/dead_letter.py)
and checks files in = records written + errors.
"""

import os
import sys

from soundscope.configs import pipelines as PC
from soundscope.pipelines import (dead_letter, inputs, labels, launch, listing, options,
                                  outputs, resume)

# apache_beam, LiteRT and the Beam graph (pipelines.embedding) are imported
# inside the functions, so `soundscope embed --help` stays fast.



def make_jobs(expansion, label_table=None, mid_to_index=None):
  """AudioJobs for the expanded inputs, plus error rows for duplicates and bad labels.

  Returns:
    (list of AudioJob, list of error row dicts).
  """
  from soundscope.pipelines import embedding
  jobs, errors = [], []
  for item in expansion.duplicates:
    errors.append(dead_letter.error_row(item.video_id, item.path, "expand", (
        "duplicate_input", f"{item.path}: listed more than once (id {item.video_id})")))
  for item in expansion.files:
    text = None
    if label_table:
      text = label_table.get(item.video_id, label_table.get(item.path))
    try:
      indices = labels.parse(text, mid_to_index) if text else ()
    except labels.UnknownLabelError as exc:
      errors.append(dead_letter.error_row(item.video_id, item.path, "labels", (
          exc.kind, f"{item.path}: {exc}")))
      continue
    jobs.append(embedding.AudioJob(item.video_id, item.video_id, item.path, None, None,
                                   indices, None, None))
  return jobs, errors


def unlabelled_note(files, label_table, labels_csv):
  """A line saying how many inputs have no row in --labels-csv, or None when all do.

  Keys written for another root, for example, would label nothing; the run
  still embeds those inputs (without labels), so this says so.
  """
  if label_table is None:
    return None
  found = sum(1 for item in files if item.video_id in label_table or item.path in label_table)
  if found == len(files):
    return None
  return (f"{found} of {len(files)} inputs have a row in {labels_csv}; the other "
          f"{len(files) - found} are embedded without labels")


def run(args):
  options.quiet_logs()
  try:
    outputs.check_output(args.output, "corpus")
    expansion = launch.without_own_outputs("embed", inputs.expand(args.input), args.output,
                                           outputs.EMBED_PATTERNS)
    checkpoint, pca = options.vggish_files(args)
    label_table = labels.load_file_labels(args.labels_csv) if args.labels_csv else None
    mid_to_index = labels.load_class_map(args.class_labels) if args.class_labels else None
  except (OSError, ValueError) as exc:
    print(f"soundscope embed: {exc}", file=sys.stderr)
    return 2
  jobs, early_errors = make_jobs(expansion, label_table, mid_to_index)
  note = unlabelled_note(expansion.files, label_table, args.labels_csv)
  if note:
    print(f"embed: {note}", file=sys.stderr)
  num_inputs = len(expansion.files) + len(expansion.duplicates)
  return run_jobs(args, "embed", "files", num_inputs, jobs, early_errors, checkpoint, pca)


FILES_PER_PART = PC.EMBED_FILES_PER_PART     # parts.part_size's fixed size (configs).


def run_jobs(args, command, unit, num_inputs, jobs, early_errors, checkpoint, pca):
  """Runs the embedding graph on AudioJobs and reconciles its outputs (embed, audioset).

  Args:
    args: the parsed command line (outputs, front-end, thread, resume and runner options).
    command: the command's name, for messages ("embed", "audioset").
    unit: what an input is called in the count line ("files", "segments").
    num_inputs: inputs the user listed (records + early errors must add up to it).
    jobs: AudioJobs to embed.
    early_errors: error rows found before the pipeline (missing audio, labels, ...).
    checkpoint, pca: the VGGish checkpoint and PCA parameter paths.

  Returns:
    The process exit status (launch.run).
  """
  # Imported here, after run() quieted the logs: embedding imports Beam.
  from soundscope.pipelines import embedding, merge
  params = args.params
  jobs, name_errors = split_names(jobs)
  early_errors = list(early_errors) + name_errors
  shards = options.num_shards(args, len(jobs))

  def build(pipeline, todo, parts_dir, beacon_dir, run_time):
    config = embedding.EmbedConfig(params, checkpoint, pca, not args.keep_silence, beacon_dir,
                                   options.vggish_threads(args),
                                   options.decode_threads(args))
    embedding.build_pipeline(pipeline, todo, config, parts_dir)

  def merge_outputs(staged, done, indices, run_time):
    copied, written = embedding.merge_parts(
        staged.parts_dir, done, indices,
        lambda shard: staged.staged(f"-{shard:05d}-of-{shards:05d}.tfrecord"), shards,
        staged.staged("-manifest.parquet"))
    errors = merge.write_errors(staged.staged(dead_letter.suffix(args.errors_format)),
                                early_errors, merge.part_files(staged.parts_dir, indices,
                                                               embedding.ERRORS_TABLE),
                                args.errors_format)
    if copied != written:
      print(f"{command}: {copied} records but {written} manifest rows", file=sys.stderr)
      written = min(copied, written)
    return written, errors

  settings = launch.settings_of({
      "command": command, "front_end": launch.comparable(params, ("read_block_seconds",)), "keep_silence": args.keep_silence,
      "vggish_checkpoint": resume.input_key(checkpoint + ".index" if not os.path.exists(
          checkpoint) else checkpoint), "pca_params": resume.input_key(pca)})
  keys = [resume.input_key(job.path, job.key, job.video_id, job.start_seconds,
                           job.end_seconds, list(job.labels), job.record_start, job.record_end)
          for job in jobs]
  def reuse(committed):   # --resume: the committed outputs' tables (pipelines/resume.py).
    prefix = args.output
    tables = {
        embedding.MANIFEST_TABLE: resume.Reuse(listing.files_matching(prefix, "-manifest.parquet"),
                                               "source", embedding.manifest_schema(), 0),
        embedding.RECORDS_TABLE: resume.Reuse(listing.files_matching(
            prefix, outputs.SHARD_NUMBERS + ".tfrecord"), embedding.MANIFEST_TABLE, None, 0),
        embedding.ERRORS_TABLE: resume.Reuse(listing.files_matching(
            prefix, dead_letter.PARQUET_SUFFIX, dead_letter.JSONL_SUFFIX), "input",
            dead_letter.errors_schema(), committed["early_errors"])}
    return tables, lambda chosen: sum(table.num_rows for table in chosen.values())

  job = launch.Job(command, unit, jobs, keys, settings, build, merge_outputs, num_inputs,
                   len(early_errors), FILES_PER_PART, reuse)
  return launch.run_command(args, job, args.output, outputs.EMBED_PATTERNS)


def split_names(jobs):
  """(jobs whose path is UTF-8, error rows for the others: Beam and Parquet need UTF-8)."""
  kept, errors = [], []
  for job in jobs:
    try:
      inputs.check_name(job.path)
    except inputs.FileNameError as exc:
      errors.append(dead_letter.error_row(job.key, job.path, "read", (exc.kind, str(exc))))
      continue
    kept.append(job)
  return kept, errors
