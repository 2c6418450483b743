"""Benchmark `soundscope classify` with YAMNet: cold start and steady throughput.

  python bench/bench_classify.py [--clips 40] [--jobs N] [--cold-runs 3]

Prints figures only (no pass/fail).  Uses the real YAMNet files and ESC-10
clips (5 s, 44.1 kHz flac) from ../shared/assets, imported into a temporary
model store.

Cold start: wall time from just before the process is spawned to its first
result line on stdout, `python soundscope.py classify FILE`, for a 44.1 kHz
flac (decode + kaiser_best resampling + YAMNet) and a 16 kHz wav (no
resampling).  The first run in a fresh jit cache (resampy compiles its
kernels) is reported apart from the runs that follow (kernels cached on disk,
models/jit_cache.py), which is what a user sees from the second call on.

Throughput, all in this process after a warm-up, on the same clips:
  naive      for each clip: decode + resample (kaiser_best), then one
             interpreter, `invoke` per 15600-sample window, one at a time;
  classify   what `soundscope classify` does: classify_cli.classify_file over a
             thread pool of --jobs, interpreters reused (one per thread);
  + polyphase  the same with bench/bench_resample.py's exact polyphase form of
             kaiser_best in place of resampy (a proposal for transforms/);
and for the model stage alone (waveforms already at 16 kHz): the naive loop,
YamnetClassifier.window_scores, and the full-signature model (one invoke per clip).
"""

import argparse
import concurrent.futures
import csv
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from configs import params as P  # noqa: E402
from models import classify_cli, jit_cache, store, yamnet  # noqa: E402
from transforms import audio  # noqa: E402

ASSETS = pathlib.Path(os.environ.get("SOUNDSCOPE_ASSETS", REPO.parent / "shared" / "assets"))


def first_line_seconds(command, env):
  """Seconds from spawning `command` to its first stdout line."""
  start = time.perf_counter()
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             cwd=REPO, text=True)
  line = process.stdout.readline()
  elapsed = time.perf_counter() - start
  process.communicate()
  if process.returncode != 0 or not line:
    raise RuntimeError(f"{command} failed: {process.returncode}")
  return elapsed


def bench_cold_start(model_dir, flac, wav16, runs):
  jit_dir = tempfile.mkdtemp(prefix="soundscope-bench-jit-")
  env = dict(os.environ, SOUNDSCOPE_MODEL_DIR=str(model_dir), SOUNDSCOPE_JIT_CACHE_DIR=jit_dir)
  command = [sys.executable, str(REPO / "soundscope.py"), "classify"]
  first = first_line_seconds(command + [str(flac)], env)
  print(f"cold start, 44.1 kHz flac, first run (empty jit cache, resampy compiles): {first:.2f} s")
  for name, path in (("44.1 kHz flac", flac), ("16 kHz wav", wav16)):
    times = [first_line_seconds(command + [str(path)], env) for _ in range(runs)]
    print(f"cold start, {name}: median {np.median(times):.2f} s, min {min(times):.2f} s "
          f"over {runs} runs (process start to first result line)")


def naive_scores(interpreter, wave):
  """The naive loop: one window at a time through one interpreter."""
  inp = interpreter.get_input_details()[0]["index"]
  out = interpreter.get_output_details()[0]["index"]
  scores = []
  for window in yamnet.frame_windows(wave):
    interpreter.set_tensor(inp, np.ascontiguousarray(window))
    interpreter.invoke()
    scores.append(interpreter.get_tensor(out)[0].copy())
  return np.mean(scores, axis=0)


def timed(function):
  start = time.perf_counter()
  result = function()
  return time.perf_counter() - start, result


def bench_throughput(model_dir, paths, jobs):
  params = P.VggishParams()
  classifier = store.load_classifier("yamnet", model_dir)
  interpreter = yamnet.make_interpreter(classifier.window_model.model_path)
  jit_cache.enable_resampy_cache()
  audio.load_mono(paths[0])  # Warm-up: compile resampy, touch the files' pages.
  for path in paths:
    pathlib.Path(path).read_bytes()
  seconds_of_audio = sum(audio.probe(p).duration_seconds for p in paths)

  naive_time, naive = timed(lambda: [naive_scores(interpreter, audio.load_mono(p).astype(np.float32))
                                     for p in paths])

  def ours():
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
      return list(pool.map(lambda p: classify_cli.classify_file(
          classifier, p, params, "mean", False)["scores"], paths))
  ours_time, fast = timed(ours)
  assert np.allclose(np.array(naive), np.array(fast), atol=1e-5), "the two paths disagree"

  from bench_resample import resample_polyphase  # The proposal for transforms/audio.resample.

  def proposal_scores(path):
    samples, rate = audio.read(path)
    wave = resample_polyphase(audio.to_mono(samples), rate, params.sample_rate_hz)
    return classifier.clip_scores(wave.astype(np.float32), "mean")

  def proposal():
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
      return list(pool.map(proposal_scores, paths))
  proposal_time, projected = timed(proposal)
  assert np.allclose(np.array(naive), np.array(projected), atol=1e-5), "the proposal disagrees"
  print(f"throughput end to end ({len(paths)} clips, {seconds_of_audio:.0f} s of 44.1 kHz audio):")
  for name, elapsed in (("naive loop", naive_time), (f"classify ({jobs} jobs)", ours_time),
                        ("+ polyphase (proposal)", proposal_time)):
    print(f"  {name:<22} {len(paths) / elapsed:7.1f} clips/s {seconds_of_audio / elapsed:7.1f}x "
          f"real time ({naive_time / elapsed:.2f}x the naive loop)")

  waves = [audio.load_mono(p).astype(np.float32) for p in paths]
  stage = {"naive loop": lambda: [naive_scores(interpreter, w) for w in waves],
           "window_scores": lambda: [classifier.window_scores(w) for w in waves]}
  if classifier.has_embeddings:
    classifier.embeddings(waves[0])
    stage["full signature"] = lambda: [classifier.embeddings(w) for w in waves]
  print("model stage only (16 kHz waveforms in memory):")
  base = None
  for name, function in stage.items():
    elapsed, _ = timed(function)
    base = base or elapsed
    print(f"  {name:<22} {len(waves) / elapsed:7.1f} clips/s ({base / elapsed:.2f}x the naive loop)")
  resample_time, _ = timed(lambda: [audio.load_mono(p) for p in paths])
  print(f"decode + kaiser_best resample alone: {len(paths) / resample_time:.1f} clips/s "
        f"({resample_time / naive_time:.0%} of the naive loop's time)")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clips", type=int, default=40, help="ESC-10 clips to classify")
  parser.add_argument("--jobs", type=int, default=None, help="threads (default: classify's)")
  parser.add_argument("--cold-runs", type=int, default=3)
  args = parser.parse_args()
  if not (ASSETS / "yamnet").is_dir():
    sys.exit(f"assets not found under {ASSETS}")
  with tempfile.TemporaryDirectory() as tmp:
    model_dir = pathlib.Path(tmp) / "models"
    model_store = store.ModelStore(model_dir)
    model_store.import_path(ASSETS / "yamnet")
    with open(ASSETS / "audio" / "esc10" / "esc10.csv", newline="") as stream:
      names = [row["filename"] for row in csv.DictReader(stream)][:args.clips]
    paths = [str(ASSETS / "audio" / "esc10" / name) for name in names]
    wav16 = pathlib.Path(tmp) / "clip_16k.wav"
    import soundfile
    soundfile.write(wav16, audio.load_mono(paths[0]), 16000, subtype="PCM_16")
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    bench_cold_start(model_dir, paths[0], wav16, args.cold_runs)
    jobs = args.jobs or classify_cli.default_jobs(store.load_classifier("yamnet", model_dir))
    bench_throughput(model_dir, paths, jobs)


if __name__ == "__main__":
  main()
