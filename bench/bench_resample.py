"""transforms' resampler against resampy.resample: same samples, CPU time per call.

  python bench/bench_resample.py [--seconds 5] [--calls 5] [--blas-threads N]

For common input rates to 16 kHz and both of resampy's filters, prints the
largest |difference| between resampy.resample and
  transforms.resample.resample  (the polyphase matrix form of resampy's filters)
  transforms.audio.resample     (what the pipelines and `classify` call)
on uniform noise in [-1, 1], and the CPU time (time.process_time, all threads)
per call of each (median of --calls calls).  resampy's numba kernels are compiled by a warm-up call
before anything is timed, so its figures are its steady-state cost; likewise the first call
of each contender builds transforms.resample's per-rate plan (tap matrix, and the scan for
outputs whose float rounding needs resampy's own arithmetic), a one-off not timed here.  The
`form` column says whether transforms.resample used its matrix product or
handed the rate to resampy (rates where the matrix would be too large).
--blas-threads 1 measures the matrix product as `soundscope classify` runs it
when it classifies files in parallel (one BLAS thread per job); by default
BLAS uses its own thread count, whose idle threads spin and add CPU time.
Prints figures only (no pass/fail).
"""

import argparse
import os
import statistics
import time

import numpy as np
import resampy

from soundscope.transforms import audio
from soundscope.transforms import resample as polyphase

RATES_HZ = (8000, 11025, 22050, 32000, 44100, 48000, 96000)
FILTERS = ("kaiser_best", "kaiser_fast")
TARGET_RATE_HZ = 16000


def cpu_seconds_per_call(function, calls):
  """Median CPU seconds (this process, all threads) over `calls` calls of function().

  The median, because other jobs on a shared machine inflate some calls
  (cache and memory-bandwidth contention) even in CPU time.
  """
  seconds = []
  for _ in range(calls):
    start = time.process_time()
    function()
    seconds.append(time.process_time() - start)
  return statistics.median(seconds)


def bench_rate(noise, rate, filter_name, calls):
  """Prints one table row for `noise` (float64 [n] at `rate` Hz) resampled to 16 kHz."""
  contenders = {
      "resampy": lambda: resampy.resample(noise, rate, TARGET_RATE_HZ, filter=filter_name),
      "transforms.resample": lambda: polyphase.resample(noise, rate, TARGET_RATE_HZ, filter_name),
      "transforms.audio": lambda: audio.resample(noise, rate, TARGET_RATE_HZ, filter_name),
  }
  outputs = {name: function() for name, function in contenders.items()}  # Also warms caches.
  reference = outputs["resampy"]
  differences = []
  for name in ("transforms.resample", "transforms.audio"):
    assert outputs[name].shape == reference.shape, (name, outputs[name].shape, reference.shape)
    differences.append(np.abs(outputs[name] - reference).max())
  seconds = {name: cpu_seconds_per_call(f, calls) for name, f in contenders.items()}
  # Which path transforms.resample took (a private detail, printed for the reader).
  form = "matrix" if polyphase._plan(rate, TARGET_RATE_HZ, filter_name).efficient else "resampy"
  print(f"  {filter_name:<11} {rate:6d}  {form:<7}  {differences[0]:8.1e}  {differences[1]:8.1e}"
        f"  {seconds['resampy'] * 1e3:8.1f}  {seconds['transforms.resample'] * 1e3:8.1f}"
        f"  {seconds['transforms.audio'] * 1e3:8.1f}"
        f"  {seconds['resampy'] / seconds['transforms.audio']:6.1f}x")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seconds", type=float, default=5.0, help="signal length in seconds")
  parser.add_argument("--calls", type=int, default=5, help="timed calls per contender (median)")
  parser.add_argument("--blas-threads", type=int, default=None,
                      help="limit BLAS to this many threads (default: the library's own)")
  args = parser.parse_args()
  if args.blas_threads:
    import threadpoolctl
    threadpoolctl.threadpool_limits(args.blas_threads, user_api="blas")
  rng = np.random.default_rng(0)
  for filter_name in FILTERS:  # Compile resampy's numba kernels outside the timings.
    resampy.resample(rng.uniform(-1, 1, 4410), 44100, TARGET_RATE_HZ, filter=filter_name)
  print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"BLAS threads {args.blas_threads or 'default'}; "
        f"{args.seconds:g} s of noise -> {TARGET_RATE_HZ} Hz, CPU ms per call "
        f"(median of {args.calls})")
  print(f"  {'filter':<11} {'rate':>6}  {'form':<7}  {'|d| res.':>8}  {'|d| aud.':>8}"
        f"  {'resampy':>8}  {'res.':>8}  {'audio':>8}  {'speed-up':>7}")
  for filter_name in FILTERS:
    for rate in RATES_HZ:
      noise = rng.uniform(-1, 1, int(rate * args.seconds))
      bench_rate(noise, rate, filter_name, args.calls)
  print("|d| res./aud.: max |transforms.resample - resampy| and "
        "max |transforms.audio.resample - resampy|; speed-up: resampy / transforms.audio")


if __name__ == "__main__":
  main()
