"""Memory on a long file: embed a 2-hour 44.1 kHz stereo wav and report peak RSS.

  python bench/bench_long_file.py [--minutes 120] [--keep PATH]

Generates the file (16-bit PCM, 1.27 GB for 2 hours) unless --keep names one
that exists, embeds it with the block-streaming transforms and VGGish, and
prints peak RSS, wall time and the number of examples.  It then checks a
20-minute excerpt against whole-file processing of the same excerpt.
Target (foundation issue): peak RSS under 1.5 GB.
"""

import argparse
import os
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


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--minutes", type=float, default=120)
  parser.add_argument("--keep", default="/tmp/soundscope-bench/long.wav")
  args = parser.parse_args()
  os.makedirs(os.path.dirname(args.keep), exist_ok=True)
  if not os.path.exists(args.keep):
    print(f"writing {args.minutes} min of 44.1 kHz stereo to {args.keep}", file=sys.stderr)
    write_long_wav(args.keep, args.minutes)
  from configs import params as P
  from models import batch_embed
  from models import vggish
  from transforms import audio
  from transforms import postprocess
  from transforms import vggish_input
  embedder = vggish.VggishEmbedder(common.vggish_checkpoint())
  postprocessor = postprocess.Postprocessor(common.require_asset("vggish/vggish_pca_params.npz"))
  rss_before = common.peak_rss_mb()
  start = time.perf_counter()
  (result,) = list(batch_embed.embed_files([args.keep], embedder, postprocessor))
  elapsed = time.perf_counter() - start
  info = audio.probe(args.keep)
  print(f"file: {info.duration_seconds / 60:.1f} min, {info.sample_rate} Hz, "
        f"{info.channels} channels, {os.path.getsize(args.keep) / 1e9:.2f} GB")
  print(f"examples: {len(result.quantized)}  wall: {elapsed:.0f} s "
        f"({info.duration_seconds / elapsed:.1f} s of audio / s)")
  print(f"peak RSS: {common.peak_rss_mb():.0f} MiB (after loading the model: {rss_before:.0f} MiB)")
  # Excerpt check: 20 minutes from 30:00, streamed vs in memory.
  excerpt = (1800.0, 3000.0)
  streamed = vggish_input.file_to_examples(args.keep, P.VggishParams(), *excerpt)
  whole = vggish_input.waveform_to_examples(
      audio.to_mono(audio.read(args.keep, *excerpt)[0]), info.sample_rate)
  print(f"20-min excerpt, streamed vs whole: max |difference| = "
        f"{np.abs(streamed - whole).max():.2e} over {len(whole)} examples")


if __name__ == "__main__":
  main()
