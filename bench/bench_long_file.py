"""Memory on a long file: embed or predict a 2-hour 44.1 kHz stereo wav and report peak RSS.

  python bench/bench_long_file.py [--minutes 120] [--keep PATH] [--mode embed|predict]
      [--model yamnet] [--model-dir DIR] [--per-window] [--score-block SECONDS]

Generates the file (16-bit PCM, 1.27 GB for 2 hours) unless --keep names one
that exists (its length then wins over --minutes), then, in this process:
  embed    (default) embeds it with the block-streaming transforms and VGGish
           (bench/batch_embed.py), prints peak RSS, wall time and the number of
           examples, then checks a 20-minute excerpt against whole-file
           processing of the same excerpt.  Target (foundation issue): peak
           RSS under 1.5 GB.
  predict  runs `soundscope predict` on it (default runner; YAMNet from the
           assets unless --model/--model-dir say otherwise; one row per file,
           or per window with --per-window), prints peak RSS, wall time and
           the rows.  The file is decoded in --read-block blocks and scored in
           --score-block segments (models/scoring.score_file), so
           peak RSS should not grow with the file's length; the same command
           on --minutes 10 and 120 shows it.
"""

import argparse
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

common.quiet_tensorflow()


def write_long_wav(path, minutes, rate=44100):
  """Writes `minutes` of a slowly varying stereo chirp plus noise, block by block."""
  import soundfile
  rng = np.random.default_rng(0)
  with soundfile.SoundFile(path, "w", samplerate=rate, channels=2, subtype="PCM_16") as out:
    for second in range(int(minutes * 60)):
      t = second + np.arange(rate) / rate
      tone = 0.3 * np.sin(2 * np.pi * (300 + 200 * np.sin(t / 30)) * t)
      noise = 0.05 * rng.standard_normal((rate, 2))
      out.write(np.clip(tone[:, None] + noise, -1, 1))


def measure_embed(path):
  """Embeds the file with bench/batch_embed.py; prints RSS, speed and the excerpt check."""
  from soundscope.configs import params as P
  from bench import batch_embed
  from soundscope.models.networks import vggish_litert
  from soundscope.transforms import audio
  from soundscope.transforms import postprocess
  from soundscope.transforms import vggish_input
  embedder = vggish_litert.VggishEmbedder(common.vggish_checkpoint())
  postprocessor = postprocess.Postprocessor(common.require_asset("vggish/vggish_pca_params.npz"))
  rss_before = common.peak_rss_mb()
  start = time.perf_counter()
  (result,) = list(batch_embed.embed_files([path], embedder, postprocessor))
  elapsed = time.perf_counter() - start
  info = audio.probe(path)
  _describe(path, info)
  print(f"examples: {len(result.quantized)}  wall: {elapsed:.0f} s "
        f"({info.duration_seconds / elapsed:.1f} s of audio / s)")
  print(f"peak RSS: {common.peak_rss_mb():.0f} MiB (after loading the model: {rss_before:.0f} MiB)")
  # Excerpt check: 20 minutes from 30:00 (or the file's middle third), streamed vs in memory.
  excerpt = (1800.0, 3000.0) if info.duration_seconds >= 3000 else (
      info.duration_seconds / 3, 2 * info.duration_seconds / 3)
  streamed = vggish_input.file_to_examples(path, P.VggishParams(), *excerpt)
  whole = vggish_input.waveform_to_examples(
      audio.to_mono(audio.read(path, *excerpt)[0]), info.sample_rate)
  print(f"excerpt {excerpt[0]:.0f}-{excerpt[1]:.0f} s, streamed vs whole: max |difference| = "
        f"{np.abs(streamed - whole).max():.2e} over {len(whole)} examples")


def measure_predict(path, args):
  """Runs `soundscope predict` on the file in this process; prints RSS, speed and the rows."""
  import tempfile
  import pyarrow.parquet as pq
  from soundscope.cli import main as cli
  from soundscope.transforms import audio
  model_dir = args.model_dir
  scratch = tempfile.mkdtemp(prefix="soundscope-bench-long-")
  if model_dir is None:
    from soundscope.models.store import files as store
    model_dir = os.path.join(scratch, "models")
    store.ModelStore(model_dir).import_path(common.require_asset("yamnet"))
  output = os.path.join(scratch, "preds.parquet")
  command = ["predict", "--input", path, "--output", output, "--model", args.model,
             "--model-dir", str(model_dir), "--no-progress", "--score-block",
             str(args.score_block)] + (["--per-window"] if args.per_window else [])
  rss_before = common.peak_rss_mb()
  start = time.perf_counter()
  status = cli.main(command)
  elapsed = time.perf_counter() - start
  if status != 0:
    sys.exit(f"predict failed with status {status}")
  info = audio.probe(path)
  _describe(path, info)
  rows = pq.read_table(output, columns=["start_seconds", "end_seconds", "predictions"]).to_pylist()
  shutil.rmtree(scratch, ignore_errors=True)
  print(f"predict ({args.model}, {'per window' if args.per_window else 'per file'}, "
        f"score block {args.score_block:g} s): {len(rows)} rows  wall: {elapsed:.0f} s "
        f"({info.duration_seconds / elapsed:.1f} s of audio / s)")
  first = rows[0]
  labels = ", ".join(f"{p['label']}: {p['score']:.2f}" for p in first["predictions"])
  print(f"first row: {first['start_seconds']:.2f}-{first['end_seconds']:.2f} s  {labels}")
  print(f"peak RSS: {common.peak_rss_mb():.0f} MiB (before the run: {rss_before:.0f} MiB)")


def _describe(path, info):
  print(f"file: {info.duration_seconds / 60:.1f} min, {info.sample_rate} Hz, "
        f"{info.channels} channels, {os.path.getsize(path) / 1e9:.2f} GB")


def main():
  from soundscope.configs import params as P
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--minutes", type=float, default=120)
  parser.add_argument("--keep", default="/tmp/soundscope-bench/long.wav")
  parser.add_argument("--mode", choices=("embed", "predict"), default="embed")
  parser.add_argument("--model", default="yamnet", help="predict: model in --model-dir")
  parser.add_argument("--model-dir", default=None,
                      help="predict: model store (default: YAMNet from the assets)")
  parser.add_argument("--per-window", action="store_true", help="predict: one row per window")
  parser.add_argument("--score-block", type=float, default=P.SCORE_BLOCK_SECONDS,
                      help="predict: seconds scored per classifier call (default %(default)s)")
  args = parser.parse_args()
  os.makedirs(os.path.dirname(args.keep), exist_ok=True)
  if not os.path.exists(args.keep):
    print(f"writing {args.minutes} min of 44.1 kHz stereo to {args.keep}", file=sys.stderr)
    write_long_wav(args.keep, args.minutes)
  if args.mode == "predict":
    measure_predict(args.keep, args)
  else:
    measure_embed(args.keep)


if __name__ == "__main__":
  main()
