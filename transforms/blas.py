"""How many threads the signal steps' matrix products may use.

The resampler (resample.py) and the mel filterbank (mel_features.py) multiply
matrices with numpy, that is with OpenBLAS.  OpenBLAS starts one thread per
core, and after each product its threads spin for a while, waiting for more
work, before they sleep.  Three callers want fewer threads:

  * parallel jobs (files classified side by side, Beam workers): each job's
    threads would otherwise compete with every other job's for the same cores;
  * a Beam worker, which decodes and runs its model in turn: the spinning
    threads take the cores TensorFlow wants (configs/pipelines.DECODE_THREADS);
  * the live loop: one 5 s window is a small product (~6 ms), and the spinning
    after it cost more CPU than the window itself.

The thread count changes the resampler's float64 output by rounding only
(at most ~1e-15 for a 5 s window at 44.1 kHz, against its 1e-10 agreement with
resampy and the 3e-5 step of 16-bit audio), and the log-mel examples not at
all (tests/test_transforms_resample.py).
"""

import contextlib


def limit_threads(count):
  """Limits this process's BLAS libraries to `count` threads.

  The limit applies at once and lasts for the whole process, or until the
  returned object's `with` block ends (it then restores the previous limits).

  Args:
    count: threads; 0 or less leaves the libraries as they are.

  Returns:
    a context manager (threadpoolctl's, or a no-op one for count <= 0).
  """
  if count <= 0:
    return contextlib.nullcontext()
  import threadpoolctl  # Only here: it inspects every loaded library (~ms).
  return threadpoolctl.threadpool_limits(int(count), user_api="blas")
