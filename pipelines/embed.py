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

import sys

from soundscope.pipelines import dead_letter, inputs, labels, launch, options, outputs

# apache_beam, TensorFlow and the Beam graph (pipelines.embedding) are imported
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


def build_pipeline(pipeline, jobs, early_errors, config, prefix, shards, errors_format):
  """Adds the embed graph to `pipeline` (separate from run() so tests can build it)."""
  import apache_beam as beam
  from soundscope.pipelines import embedding
  records, manifest, errors = (pipeline
                               | "Jobs" >> beam.Create(jobs, reshuffle=True)
                               | "EmbedAudio" >> embedding.EmbedAudio(config))
  embedding.write_embeddings(records, manifest, prefix, shards)
  early = pipeline | "EarlyErrors" >> beam.Create(early_errors)
  all_errors = ((errors, early)
                | "AllErrors" >> beam.Flatten())
  dead_letter.write_errors(launch.count_errors(all_errors), prefix, errors_format)
  return pipeline


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
    expansion = inputs.expand(args.input)
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


def run_jobs(args, command, unit, num_inputs, jobs, early_errors, checkpoint, pca):
  """Runs the embedding graph on EmbedJobs and reconciles its outputs (embed, audioset).

  Args:
    args: the parsed command line (outputs, front-end, thread and Beam options).
    command: the command's name, for messages ("embed", "audioset").
    unit: what an input is called in the count line ("files", "segments").
    num_inputs: inputs the user listed (records + early errors must add up to it).
    jobs: EmbedJobs to embed.
    early_errors: error rows found before the pipeline (missing audio, labels, ...).
    checkpoint, pca: the VGGish checkpoint and PCA parameter paths.

  Returns:
    The process exit status (launch.run).
  """
  # Imported here, after run() quieted the logs: embedding imports Beam.
  from soundscope.pipelines import embedding
  params = args.params
  staged = outputs.StagedOutput(args.output, outputs.EMBED_PATTERNS)
  shards = options.num_shards(args, len(jobs))

  def build(pipeline, beacon_dir):
    config = embedding.EmbedConfig(params, checkpoint, pca, not args.keep_silence, beacon_dir,
                                   options.tensorflow_threads(args),
                                   options.decode_threads(args))
    build_pipeline(pipeline, jobs, early_errors, config, staged.staged(), shards,
                   args.errors_format)

  return launch.run(args, command, unit, num_inputs, build,
                    lambda: embedding.count_outputs(staged, args.errors_format), staged,
                    progress_total=len(jobs))
