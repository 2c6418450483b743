"""Benchmark `soundscope classify` with YAMNet: cold start and steady throughput.

  python bench/bench_classify.py [--clips 40] [--jobs N] [--cold-runs 5] [--rounds 3]

Prints figures only (no pass/fail).  Uses the real YAMNet files and ESC-10
clips (5 s, 44.1 kHz flac) from ../shared/assets, imported into a temporary
model store.  Targets (issue 5): cold start under 2 s; throughput at least 5x
the naive loop.

Cold start: wall time from just before `python -m soundscope classify FILE`
is spawned to its first result line on stdout, for a 44.1 kHz flac (decode,
kaiser_best resampling, YAMNet) and a 16 kHz wav (no resampling).

Throughput, in this process after a warm-up (resampy's numba kernels
compiled, one interpreter per thread created, the clips in the page cache):
  naive     for each clip, one after the other: decode, resampy.resample
            (kaiser_best, as the YAMNet/VGGish references do), then one
            interpreter, `invoke` per 15600-sample window, one at a time;
  classify  what `soundscope classify` does: classify_cli.classify_file over
            classify_cli.classify_files with --jobs threads, as the command
            runs (transforms.audio's polyphase kaiser_best with one BLAS
            thread per job, YamnetClassifier's per-thread interpreters).
The two alternate for --rounds rounds on the same clips, so both see the same
machine load; each round's ratio (naive wall time / classify wall time) is
printed with the median.  Their clip scores are checked to agree.

Stages: CPU time (time.process_time) per clip of each step of both paths, run
one after the other on one thread with one BLAS thread, to show where the
time goes.
"""

import argparse
import csv
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from soundscope.configs import params as P  # noqa: E402
from soundscope.cli import classify as classify_cli  # noqa: E402
from soundscope.models.store import files as store
from soundscope.models.store import registry
from soundscope.models.networks import litert, yamnet
from soundscope.transforms import audio  # noqa: E402

ASSETS = pathlib.Path(os.environ.get("SOUNDSCOPE_ASSETS", REPO.parent / "shared" / "assets"))


def load_average():
  return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def first_line_seconds(command, env):
  """Seconds from spawning `command` to its first stdout line."""
  start = time.perf_counter()
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             cwd=REPO, text=True)
  line = process.stdout.readline()
  elapsed = time.perf_counter() - start
  _, err = process.communicate()
  if process.returncode != 0 or not line:
    raise RuntimeError(f"{command} failed ({process.returncode}): {err}")
  return elapsed


def bench_cold_start(model_dir, flac, wav16, runs):
  env = dict(os.environ, SOUNDSCOPE_MODEL_DIR=str(model_dir))
  command = [sys.executable, "-m", "soundscope", "classify"]
  for name, path in (("44.1 kHz flac", flac), ("16 kHz wav", wav16)):
    times = [first_line_seconds(command + [str(path)], env) for _ in range(runs)]
    print(f"cold start, {name}: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
          f"max {max(times):.2f} s over {runs} runs (process start to first result line)")


class NaiveLoop:
  """The naive loop: resampy.resample itself, then one interpreter invoked window by window."""

  def __init__(self, model_path):
    self.interpreter = litert.make_interpreter(model_path)
    self.input = self.interpreter.get_input_details()[0]["index"]
    self.output = self.interpreter.get_output_details()[0]["index"]

  def wave(self, path):
    """float32 [n] mono at 16 kHz, resampled by resampy.resample itself."""
    import resampy
    samples, rate = audio.read(path)
    mono = audio.to_mono(samples)
    if rate != P.SAMPLE_RATE_HZ:
      mono = resampy.resample(mono, rate, P.SAMPLE_RATE_HZ, filter=P.RESAMPLE_FILTER)
    return mono.astype(np.float32)

  def model_scores(self, wave16k):
    """float32 [521]: mean over windows, one `invoke` per window."""
    scores = []
    for window in yamnet.frame_windows(wave16k):
      self.interpreter.set_tensor(self.input, np.ascontiguousarray(window))
      self.interpreter.invoke()
      scores.append(self.interpreter.get_tensor(self.output)[0].copy())
    return np.mean(scores, axis=0)

  def clip_scores(self, path):
    return self.model_scores(self.wave(path))


def timed(function):
  """(wall seconds, CPU seconds of this process, result) of function()."""
  wall, cpu = time.perf_counter(), time.process_time()
  result = function()
  return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_throughput(classifier, naive, paths, jobs, rounds):
  params = P.VggishParams()
  seconds_of_audio = sum(audio.probe(p).duration_seconds for p in paths)

  def run_naive():
    return np.array([naive.clip_scores(p) for p in paths])

  def run_classify():  # Exactly `soundscope classify`'s loop: its pool, its BLAS limit.
    outcomes = classify_cli.classify_files(classifier, paths, params, "mean", False, jobs)
    return np.array([result.clip for _, result, _ in outcomes])

  run_naive()  # Warm-up: numba compiles resampy's kernel.
  run_classify()
  print(f"throughput, {len(paths)} clips ({seconds_of_audio:.0f} s of 44.1 kHz audio), "
        f"classify with {jobs} jobs; {load_average()}:")
  ratios, cpu_ratios = [], []
  for number in range(1, rounds + 1):
    naive_wall, naive_cpu, naive_scores = timed(run_naive)
    ours_wall, ours_cpu, ours_scores = timed(run_classify)
    np.testing.assert_allclose(ours_scores, naive_scores, atol=1e-5,
                               err_msg="classify and the naive loop disagree")
    ratios.append(naive_wall / ours_wall)
    cpu_ratios.append(naive_cpu / ours_cpu)
    print(f"  round {number}: naive {len(paths) / naive_wall:5.1f} clips/s "
          f"(CPU {naive_cpu / len(paths) * 1e3:5.1f} ms/clip), classify "
          f"{len(paths) / ours_wall:5.1f} clips/s (CPU {ours_cpu / len(paths) * 1e3:5.1f} ms/clip, "
          f"{seconds_of_audio / ours_wall:.0f}x real time): {ratios[-1]:.2f}x the naive loop")
  print(f"  classify / naive, median of {rounds} rounds: {statistics.median(ratios):.2f}x in "
        f"wall time (min {min(ratios):.2f}x, max {max(ratios):.2f}x), "
        f"{statistics.median(cpu_ratios):.2f}x in CPU time per clip; now {load_average()}")


def bench_stages(classifier, naive, paths):
  """CPU ms per clip of each stage, on one thread with one BLAS thread (as classify's jobs)."""
  import resampy
  import threadpoolctl
  stages = {}

  def stage(name, function, inputs):
    start = time.process_time()
    outputs = [function(x) for x in inputs]
    stages[name] = (time.process_time() - start) / len(inputs) * 1e3
    return outputs

  with threadpoolctl.threadpool_limits(1, user_api="blas"):
    decoded = stage("decode (soundfile, float32)", audio.read, paths)
    mono = stage("mix to mono", lambda d: (audio.to_mono(d[0]), d[1]), decoded)
    stage("resample: resampy.resample kaiser_best (naive)",
          lambda m: resampy.resample(m[0], m[1], P.SAMPLE_RATE_HZ, filter=P.RESAMPLE_FILTER),
          mono)
    waves = stage("resample: transforms.audio.resample (classify)",
                  lambda m: audio.resample(m[0], m[1]).astype(np.float32), mono)
    stage("YAMNet: naive invoke loop", naive.model_scores, waves)
    stage("YAMNet: YamnetClassifier.window_scores", classifier.window_scores, waves)
  windows = sum(yamnet.num_windows(w.shape[0]) for w in waves) / len(waves)
  print(f"CPU time per clip by stage, one thread ({windows:.0f} windows per clip):")
  for name, milliseconds in stages.items():
    print(f"  {name:<48} {milliseconds:7.1f} ms")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clips", type=int, default=40, help="ESC-10 clips to classify")
  parser.add_argument("--jobs", type=int, default=None, help="threads (default: classify's)")
  parser.add_argument("--cold-runs", type=int, default=5, help="cold starts per file")
  parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
  args = parser.parse_args()
  if not (ASSETS / "yamnet").is_dir():
    sys.exit(f"assets not found under {ASSETS}")
  with tempfile.TemporaryDirectory() as tmp:
    model_dir = pathlib.Path(tmp) / "models"
    store.ModelStore(model_dir).import_path(ASSETS / "yamnet")
    with open(ASSETS / "audio" / "esc10" / "esc10.csv", newline="") as stream:
      names = [row["filename"] for row in csv.DictReader(stream)][:args.clips]
    paths = [str(ASSETS / "audio" / "esc10" / name) for name in names]
    for path in paths:  # Page cache: time decoding, not the disk.
      pathlib.Path(path).read_bytes()
    wav16 = pathlib.Path(tmp) / "clip_16k.wav"
    import soundfile
    soundfile.write(wav16, audio.load_mono(paths[0]), P.SAMPLE_RATE_HZ, subtype="PCM_16")
    print(f"start: {load_average()}")
    bench_cold_start(model_dir, paths[0], wav16, args.cold_runs)
    classifier = registry.load_classifier("yamnet", model_dir)
    naive = NaiveLoop(classifier.window_model.model_path)
    jobs = classify_cli.jobs_for(classifier, args.jobs)
    bench_throughput(classifier, naive, paths, jobs, args.rounds)
    bench_stages(classifier, naive, paths)


if __name__ == "__main__":
  main()
