"""Speed and memory of `soundscope embed` next to the plain batched transforms loop.

  nice python bench/bench_pipelines.py [--limit 400] [--vggish-checkpoint CKPT]

On the ESC-10 clips (../shared/assets/audio/esc10, 400 x 5 s at 44.1 kHz), in
the same run, each measurement in a fresh Python process:
  plain     iter_file_examples + VggishEmbedder (batches of 64 across files, the
            loop's fastest; soundscope's calls are 16 examples, for equal bytes) +
            Postprocessor + records.serialize, in one loop, no Beam, with the BLAS
            threads of a pipeline worker (configs' DECODE_THREADS: one)
  embed     `soundscope embed` on the default runner (FnApiRunner, in-memory)
  embed-x2  `soundscope embed --direct_num_workers=2 --direct_running_mode=multi_processing`
            (each worker gets cores / 2 LiteRT threads and cores / 2 BLAS threads)
  embed-1t, embed-x2-1t
            the same with one LiteRT and one BLAS (decoding) thread per worker
            (`--vggish-threads 1 --decode-threads 1`): one core's worth of work per
            worker, so x2-1t against 1t shows how the pipeline scales across worker
            processes, whatever one worker's own threads would add
  empty     an empty pipeline on the default runner (empty-x2: two worker processes)
Figures: wall seconds, audio seconds per wall second, CPU seconds, peak RSS
(the process, and its largest child for worker processes), the pipeline's
overhead over the plain loop (wall and CPU: on a shared machine CPU seconds
are the steadier figure), and the two-worker speed-ups (x2 / 1, x2-1t / 1t).  `--repeat N`
interleaves N rounds and keeps each mode's best.  Every wall time includes loading
VGGish (it is part of any real run).  Targets: overhead <= 10 % (issue 19), two workers
>= 1.3x one worker when resampling dominates (44.1 kHz input, kaiser_best).

Without a VGGish checkpoint it writes the deterministic one first (~40 s;
bench/vggish_synthetic.py); speed does not depend on the weights' values.
"""

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # The children import the project without an installed copy too.
ASSETS = os.environ.get("SOUNDSCOPE_ASSETS", os.path.join(os.path.dirname(REPO), "shared",
                                                          "assets"))
ESC10 = os.path.join(ASSETS, "audio", "esc10")
PCA = os.path.join(ASSETS, "vggish", "vggish_pca_params.npz")
# Measurement name -> (child mode, local worker processes, threads per worker: 0 = default).
MODES = {"empty": ("empty", 1, 0), "empty-x2": ("empty", 2, 0), "plain": ("plain", 1, 0),
         "embed": ("embed", 1, 0), "embed-x2": ("embed", 2, 0),
         "embed-1t": ("embed", 1, 1), "embed-x2-1t": ("embed", 2, 1)}
# Two-worker speed-ups reported: (two workers, one worker).
SPEEDUPS = (("embed-x2", "embed"), ("embed-x2-1t", "embed-1t"))


def _usage():
  """(peak RSS MiB of this process, of its largest child, CPU seconds of both)."""
  own = resource.getrusage(resource.RUSAGE_SELF)
  children = resource.getrusage(resource.RUSAGE_CHILDREN)
  cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
  return own.ru_maxrss / 1024.0, children.ru_maxrss / 1024.0, cpu


def _audio_seconds(paths):
  import soundfile
  return sum(soundfile.info(p).duration for p in paths)


PLAIN_BATCH_EXAMPLES = 16   # The plain loop's VGGish batch (examples): soundscope's own.


def measure_plain(paths, checkpoint):
  """The foundation's plain batched loop (bench/batch_embed.py), plus serializing records."""
  from bench import batch_embed
  from soundscope.configs import pipelines as PC
  from soundscope.models.networks import vggish_litert
  from soundscope.transforms import blas, postprocess, records
  # The BLAS threads a pipeline worker decodes with (one by default): like for like.
  blas.limit_threads(PC.DECODE_THREADS)
  started = time.monotonic()
  embedder = vggish_litert.VggishEmbedder(checkpoint, batch_size=PLAIN_BATCH_EXAMPLES)
  postprocessor = postprocess.Postprocessor(PCA)
  for result in batch_embed.embed_files(paths, embedder, postprocessor):
    records.serialize(os.path.basename(result.path), result.quantized)
  return time.monotonic() - started


def measure_embed(paths, checkpoint, extra):
  from soundscope.cli import main as cli
  with tempfile.TemporaryDirectory(prefix="bench-embed-") as folder:
    listing = os.path.join(folder, "inputs.txt")
    with open(listing, "w") as handle:
      handle.write("\n".join(paths) + "\n")
    started = time.monotonic()
    status = cli.main(["embed", "--input", listing, "--output",
                              os.path.join(folder, "out"), "--no-progress",
                              "--vggish-checkpoint", checkpoint, "--pca-params", PCA] + extra)
    elapsed = time.monotonic() - started
  if status != 0:
    raise SystemExit(f"embed failed with status {status}")
  return elapsed


def measure_empty(extra):
  from soundscope.pipelines import options
  options.quiet_logs()
  import apache_beam as beam
  started = time.monotonic()
  with options.make_pipeline(extra) as pipeline:
    _ = pipeline | beam.Create([0]) | beam.Map(lambda x: x)
  return time.monotonic() - started


def child(args):
  paths = sorted(glob.glob(os.path.join(ESC10, "*.flac")))[:args.limit]
  extra = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"] if \
      args.workers == 2 else []
  if args.threads:
    extra += ["--vggish-threads", str(args.threads), "--decode-threads", str(args.threads)]
  if args.mode == "plain":
    wall = measure_plain(paths, args.vggish_checkpoint)
  elif args.mode == "embed":
    wall = measure_embed(paths, args.vggish_checkpoint, extra)
  else:
    wall = measure_empty(extra)
  own, children, cpu = _usage()
  print(json.dumps({"wall": wall, "rss": own, "child_rss": children, "cpu": cpu}))


def run_child(mode, workers, threads, args):
  command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--workers",
             str(workers), "--threads", str(threads), "--limit", str(args.limit),
             "--vggish-checkpoint", args.vggish_checkpoint]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
  if result.returncode != 0:
    raise SystemExit(f"{mode} x{workers} failed:\n{result.stderr[-3000:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--limit", type=int, default=400, help="ESC-10 clips (default all 400)")
  parser.add_argument("--repeat", type=int, default=1,
                      help="measure every mode this many times, interleaved; keep the best")
  parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES),
                      metavar="MODE", help="which measurements (default all): %(choices)s")
  parser.add_argument("--vggish-checkpoint", default=None)
  parser.add_argument("--child", dest="mode", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
  parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.mode:
    return child(args)
  if not os.path.isdir(ESC10):
    raise SystemExit(f"ESC-10 not found under {ESC10} (set SOUNDSCOPE_ASSETS)")
  if not args.vggish_checkpoint:
    from bench import common
    args.vggish_checkpoint = common.vggish_checkpoint()
  paths = sorted(glob.glob(os.path.join(ESC10, "*.flac")))[:args.limit]
  audio = _audio_seconds(paths)
  print(f"{len(paths)} ESC-10 clips, {audio:.0f} s of audio (44.1 kHz mono -> 16 kHz, "
        f"kaiser_best); {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
  runs = [(name, mode, workers, threads) for name, (mode, workers, threads) in MODES.items()]
  runs = [run for run in runs if run[0] in args.modes]
  best = {}
  for repeat in range(args.repeat):  # Interleaved, so a busy spell hits every mode alike.
    for name, mode, workers, threads in runs:
      result = run_child(mode, workers, threads, args)
      rate = "" if mode == "empty" else f"{audio / result['wall']:7.1f} audio s/s"
      print(f"[{repeat + 1}] {name:11s} {result['wall']:7.1f} s wall {rate:>18s} "
            f"{result['cpu']:7.1f} CPU s  peak RSS {result['rss']:6.0f} MiB "
            f"(largest child {result['child_rss']:.0f} MiB)", flush=True)
      if name not in best or result["wall"] < best[name]["wall"]:
        best[name] = result
  for name, result in best.items():
    rate = f", {audio / result['wall']:.1f} audio s/s" if not name.startswith("empty") else ""
    print(f"best of {args.repeat}: {name}: {result['wall']:.1f} s wall{rate}, "
          f"{result['cpu']:.1f} CPU s")
  if "plain" in best and "embed" in best:
    plain, one = best["plain"], best["embed"]
    print(f"pipeline overhead over the plain loop: {100 * (one['wall'] / plain['wall'] - 1):+.1f}"
          f" % wall, {100 * (one['cpu'] / plain['cpu'] - 1):+.1f} % CPU (target <= 10 %)")
  for two, one in SPEEDUPS:
    if two in best and one in best:
      print(f"two workers vs one ({two} / {one}): "
            f"{best[one]['wall'] / best[two]['wall']:.2f}x wall, CPU s "
            f"{best[two]['cpu'] / best[one]['cpu']:.2f}x (target >= 1.3x wall)")


if __name__ == "__main__":
  main()
