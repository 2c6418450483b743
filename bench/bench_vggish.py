"""Foundation speed: seconds of audio embedded per wall second, per-file loop vs batched loop.

  python bench/bench_vggish.py [--clips N]

(a) the per-file loop: per file, read whole as int16 / 32768, resample with
    kaiser_best (transforms.audio.resample), log-mel, one embed call of
    the project's VGGish (its LiteRT conversion) per file;
(b) bench/batch_embed.py's embed_files: the same transforms and model, with
    decoding/resampling/log-mel in two threads overlapped with the network,
    batches of 64 examples across files.
Neither is the upstream reference code: both run this project's transforms and
VGGish, so the ratio is what batching and overlapping buy.
Both on the ESC-10 clips (44.1 kHz mono, 5 s), same process, same machine.
Also the model-only throughput (examples per second at batch 64) and peak RSS.
"""

import argparse
import glob
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

common.quiet_tensorflow()

from soundscope.configs import params as P  # noqa: E402
from bench import batch_embed  # noqa: E402
from soundscope.models.networks import vggish_litert  # noqa: E402
from soundscope.transforms import postprocess  # noqa: E402
from soundscope.transforms import vggish_input  # noqa: E402


def per_file_loop(paths, embedder, postprocessor):
  """Per file: whole-file decode, transforms' resampler, one embed call."""
  import soundfile
  seconds = 0.0
  for path in paths:
    data, rate = soundfile.read(path, dtype="int16")
    seconds += len(data) / rate
    examples = vggish_input.waveform_to_examples(data / 32768.0, rate)
    postprocessor.postprocess(embedder.embed(examples))
  return seconds


def batched_loop(paths, embedder, postprocessor):
  seconds = 0.0
  for result in batch_embed.embed_files(paths, embedder, postprocessor):
    seconds += result.info.duration_seconds
  return seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--clips", type=int, default=400, help="ESC-10 clips to use")
  args = parser.parse_args()
  paths = sorted(glob.glob(str(common.require_asset("audio/esc10")) + "/*.flac"))[:args.clips]
  embedder = vggish_litert.VggishEmbedder(common.vggish_checkpoint())
  postprocessor = postprocess.Postprocessor(common.require_asset("vggish/vggish_pca_params.npz"))
  # Warm-up: the interpreter's first invoke and the resampler's polyphase filter matrix are paid
  # once per process, before timing.
  per_file_loop(paths[:2], embedder, postprocessor)
  batched_loop(paths[:2], embedder, postprocessor)

  batch = np.random.default_rng(0).normal(-2, 2, (P.VGGISH_BATCH_SIZE, 96, 64)).astype(np.float32)
  start = time.perf_counter()
  for _ in range(10):
    embedder.embed(batch)
  model_rate = 10 * len(batch) / (time.perf_counter() - start)

  start = time.perf_counter()
  audio_a = per_file_loop(paths, embedder, postprocessor)
  rate_a = audio_a / (time.perf_counter() - start)
  start = time.perf_counter()
  audio_b = batched_loop(paths, embedder, postprocessor)
  rate_b = audio_b / (time.perf_counter() - start)

  print(f"clips: {len(paths)} ({audio_a:.0f} s of 44.1 kHz audio)")
  print(f"model only, batch {P.VGGISH_BATCH_SIZE}: {model_rate:.1f} examples/s")
  print(f"(a) per-file loop:    {rate_a:.1f} s of audio / s")
  print(f"(b) batched loop:     {rate_b:.1f} s of audio / s  ({rate_b / rate_a:.2f}x (a))")
  print(f"peak RSS: {common.peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
  main()
