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

With YAMNet this command imports neither TensorFlow nor Apache Beam.
"""

import concurrent.futures
import json
import os
import sys

from soundscope.configs import params as P
from soundscope.models import classifier as C

EXIT_OK = 0
EXIT_SOME_FILES_FAILED = 1
EXIT_NO_MODEL = 2


def add_arguments(parser):
  """Adds the classify options to an argparse parser."""
  parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, ...)")
  C.add_arguments(parser)
  parser.add_argument("--per-window", action="store_true",
                      help="also print a timeline: one line per analysis window")
  parser.add_argument("--json", action="store_true",
                      help="one JSON object per file on stdout (JSON Lines)")
  parser.add_argument("--jobs", type=int, default=None,
                      help="files processed in parallel (default: CPU count, at most 8, for "
                           "models that allow it, e.g. YAMNet; 1 for the others)")
  return P.add_resample_filter_argument(parser)


def load_waveform(path, params):
  """Decodes a file to float32 [n] mono at 16 kHz, block by block (bounded peak memory).

  Raises:
    transforms.errors.AudioInputError subclasses; EmptyFileError for a file with a
    valid header but no samples.
  """
  import numpy as np
  from soundscope.transforms import audio, errors
  blocks = [block.astype(np.float32) for block in audio.stream_mono(path, params)]
  if not sum(block.shape[0] for block in blocks):
    raise errors.EmptyFileError(path, "has no audio samples (0 frames)")
  return np.concatenate(blocks)


def classify_file(model, path, params, aggregation, want_windows):
  """Scores one file.

  Returns:
    dict with path, duration_seconds, scores float32 [C], and windows (WindowScores or None).
  """
  wave = load_waveform(path, params)
  windows = model.window_scores(wave)
  return {
      "path": path,
      "duration_seconds": wave.shape[0] / params.sample_rate_hz,
      "scores": C.aggregate(windows.scores, aggregation),
      "windows": windows if want_windows else None,
  }


def format_text(result, labels, top_k, threshold):
  """The article's line, plus one indented line per window with --per-window."""
  predictions = C.top_k(result["scores"], labels, top_k, threshold)
  body = C.format_predictions(predictions) or f"(no label scores {threshold:g} or more)"
  lines = [f"{result['path']}: {body}"]
  windows = result["windows"]
  if windows is not None:
    for start, end, scores in zip(windows.starts, windows.ends, windows.scores):
      window_predictions = C.format_predictions(C.top_k(scores, labels, top_k, threshold))
      lines.append(f"  {start:7.2f}-{end:7.2f} s: {window_predictions or '-'}")
  return "\n".join(lines)


def _prediction_dicts(scores, labels, top_k, threshold):
  return [{"label": p.label, "index": p.index, "score": round(p.score, 6)}
          for p in C.top_k(scores, labels, top_k, threshold)]


def format_json(result, model, aggregation, top_k, threshold):
  """One JSON object (a line) for a classified file."""
  record = {
      "path": result["path"], "model": model.name, "model_version": model.version,
      "aggregation": aggregation, "duration_seconds": round(result["duration_seconds"], 6),
      "predictions": _prediction_dicts(result["scores"], model.labels, top_k, threshold),
  }
  windows = result["windows"]
  if windows is not None:
    record["windows"] = [
        {"start_seconds": round(float(s), 3), "end_seconds": round(float(e), 3),
         "predictions": _prediction_dicts(scores, model.labels, top_k, threshold)}
        for s, e, scores in zip(windows.starts, windows.ends, windows.scores)]
  return json.dumps(record)


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


def classify_files(model, paths, params, aggregation, want_windows, jobs):
  """Scores files in `jobs` threads, yielding in the order of `paths`.

  Yields:
    (path, result, error): result as classify_file's (None on failure),
    error a (kind, message) pair from describe_error (None on success).
    One bad file never stops the others.
  """
  def work(path):
    try:
      return classify_file(model, path, params, aggregation, want_windows), None
    except Exception as exc:  # One bad file never stops the others.
      return None, describe_error(path, exc)

  parallel = min(max(1, jobs), len(paths))
  with _one_blas_thread_each(parallel), \
       concurrent.futures.ThreadPoolExecutor(parallel) as pool:
    # map keeps argument order; results stream out as soon as they are ready.
    outcomes = pool.map(work, paths) if parallel > 1 else map(work, paths)
    for path, (result, error) in zip(paths, outcomes):
      yield path, result, error


def run(args):
  """Classifies args.files; returns the exit status (0, 1 if any file failed, 2 if no model)."""
  from soundscope.models.store import files as store
  from soundscope.models.store import registry
  try:
    model = registry.load_classifier(args.model, args.model_dir)
  except store.ModelNotFoundError as exc:
    print(f"soundscope classify: {exc}", file=sys.stderr)
    return EXIT_NO_MODEL
  aggregation = args.aggregation or model.default_aggregation
  params = P.VggishParams(resample_filter=args.resample_filter)
  jobs = jobs_for(model, args.jobs)
  failed = 0
  for path, result, error in classify_files(model, args.files, params, aggregation,
                                            args.per_window, jobs):
    if error is not None:
      failed += 1
      kind, message = error
      print(message, file=sys.stderr, flush=True)
      if args.json:
        print(json.dumps({"path": path, "error": message, "kind": kind}), flush=True)
      continue
    if args.json:
      line = format_json(result, model, aggregation, args.top_k, args.threshold)
    else:
      line = format_text(result, model.labels, args.top_k, args.threshold)
    print(line, flush=True)
  return EXIT_SOME_FILES_FAILED if failed else EXIT_OK
