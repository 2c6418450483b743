"""Time and peak memory of merging predict's part row files into one Parquet file.

  python bench/bench_merge.py [--rows 200000] [--classes 527] [--shards 4] \\
      [--batches 65536,16384,4096]

Writes `--shards` part row files with predictions_schema(with_scores=True), as
the pipeline's parts name them (`--rows` rows in all, `--classes` scores per
row: the size of the whole AudioSet eval set scored per window with
`--scores`), then, for each batch size, merges a fresh copy of them with
merge.concat_parquet (what predict's launcher does) in a fresh Python process and prints its wall
seconds, the peak of Arrow's memory pool (what the merge itself holds) and
the process's peak RSS (importing Beam alone takes ~680 MB).  No assets.
`--keep-shards` skips this step altogether (docs/pipelines.md).
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402


def write_shards(directory, rows, classes, shards, output):
  """Row shards of `output` under `directory`; returns their total size in MB."""
  import numpy as np
  import pyarrow as pa
  import pyarrow.parquet as pq
  from soundscope.pipelines import prediction
  schema = prediction.predictions_schema(with_scores=True)
  rng = np.random.default_rng(0)
  per_shard = -(-rows // shards)
  size = 0
  for shard in range(shards):
    count = min(per_shard, rows - shard * per_shard)
    scores = rng.random((count, classes), dtype=np.float32)
    offsets = np.arange(count + 1, dtype=np.int32) * classes
    table = pa.table({
        "id": [f"clip{shard}-{i}" for i in range(count)],
        "source": [f"/archive/clip{shard}-{i // 10}.wav" for i in range(count)],
        "record": np.zeros(count, np.int32),
        "start_seconds": np.arange(count) * 0.96,
        "end_seconds": np.arange(1, count + 1) * 0.96,
        "predictions": [[{"label": "Speech", "index": 0, "score": 0.5}]] * count,
        "scores": pa.ListArray.from_arrays(offsets, scores.ravel()),
        "model": ["head"] * count, "model_version": ["1"] * count,
        "run_time": pa.array([0] * count, pa.timestamp("us", tz="UTC")),
        "rms_dbfs": rng.uniform(-60.0, 0.0, count), "peak_dbfs": rng.uniform(-50.0, 0.0, count),
        "start_utc": pa.nulls(count, pa.timestamp("us", tz="UTC")),
        "end_utc": pa.nulls(count, pa.timestamp("us", tz="UTC")),
    }).cast(schema)
    path = os.path.join(directory, f"part-{shard:05d}.rows.parquet")
    pq.write_table(table, path)
    size += os.path.getsize(path)
  return size / 1e6


def merge_child(output, batch_rows):
  """Runs in a fresh process: merges and prints a JSON line of figures."""
  import pyarrow as pa
  import glob
  from soundscope.pipelines import merge, prediction
  before = common.peak_rss_mb()
  started = time.monotonic()
  sources = sorted(glob.glob(os.path.join(os.path.dirname(output), "part-*.rows.parquet")))
  rows = merge.concat_parquet(sources, output, prediction.predictions_schema(with_scores=True),
                              batch_rows)
  print(json.dumps({"rows": rows, "seconds": time.monotonic() - started,
                    "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2 ** 20,
                    "rss_before_mb": before, "rss_peak_mb": common.peak_rss_mb()}))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", type=int, default=200000)
  parser.add_argument("--classes", type=int, default=527)
  parser.add_argument("--shards", type=int, default=4)
  parser.add_argument("--batches", default="65536,16384,4096")
  parser.add_argument("--child", nargs=2, metavar=("OUTPUT", "BATCH_ROWS"),
                      help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    merge_child(args.child[0], int(args.child[1]))
    return
  with tempfile.TemporaryDirectory(prefix="bench_merge_") as root:
    source = os.path.join(root, "source")
    os.makedirs(source)
    megabytes = write_shards(source, args.rows, args.classes, args.shards,
                             os.path.join(source, "preds.parquet"))
    print(f"{args.shards} shards, {args.rows} rows x {args.classes} scores, {megabytes:.0f} MB")
    print("| batch rows | merge s | Arrow memory pool peak | process peak RSS (after imports) |")
    print("|---|---|---|---|")
    for batch_rows in (int(b) for b in args.batches.split(",")):
      work = os.path.join(root, f"merge_{batch_rows}")
      shutil.copytree(source, work)
      output = os.path.join(work, "preds.parquet")
      result = subprocess.run([sys.executable, __file__, "--child", output, str(batch_rows)],
                              check=True, capture_output=True, text=True)
      figures = json.loads(result.stdout.strip().splitlines()[-1])
      assert figures["rows"] == args.rows, figures
      print(f"| {batch_rows} | {figures['seconds']:.1f} | {figures['arrow_peak_mb']:.0f} MB | "
            f"{figures['rss_peak_mb']:.0f} MB ({figures['rss_before_mb']:.0f} MB) |",
            flush=True)
      shutil.rmtree(work)


if __name__ == "__main__":
  main()
