"""ESC-10 top-1 accuracy through the commands users run: `classify --labels esc10` and
`predict --labels esc10`, on all 400 clips (issue: >= 97 %).

  python bench/bench_esc10_labels.py [--jobs 2]

Prints figures only.  Both commands run as subprocesses (`python -m soundscope`)
with a temporary model store holding the official YAMNet files from
../shared/assets; a clip's predicted category is its top-1 label of the
built-in esc10 label set (classify --json, predict's Parquet `predictions`).
"""

import argparse
import csv
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import ASSETS, require_asset  # noqa: E402


def truth():
  """{file name: category} of the 400 clips."""
  with open(require_asset("audio/esc10/esc10.csv"), newline="") as stream:
    return {row["filename"]: row["category"] for row in csv.DictReader(stream)}


def run(command, env):
  """Runs `python -m soundscope COMMAND...`; returns (stdout, wall seconds)."""
  start = time.perf_counter()
  done = subprocess.run([sys.executable, "-m", "soundscope"] + command, env=env, cwd=REPO,
                        capture_output=True, text=True)
  if done.returncode != 0:
    sys.exit(f"bench: soundscope {command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
  return done.stdout, time.perf_counter() - start


def classify_top1(paths, env, jobs):
  out, seconds = run(["classify", "--labels", "esc10", "--json", "--jobs", str(jobs)]
                     + [str(p) for p in paths], env)
  records = [json.loads(line) for line in out.splitlines() if line.strip()]
  return {pathlib.Path(r["source"]).name: r["predictions"][0]["label"] for r in records}, seconds


def predict_top1(folder, output, env):
  import pyarrow.parquet as pq
  _, seconds = run(["predict", "--model", "yamnet", "--labels", "esc10", "--no-progress",
                    "--input", str(folder / "*.flac"), "--output", str(output)], env)
  table = pq.read_table(output).to_pylist()
  return {pathlib.Path(r["source"]).name: r["predictions"][0]["label"] for r in table}, seconds


def report(name, top1, categories, seconds):
  correct = sum(top1.get(f) == c for f, c in categories.items())
  print(f"{name}: {correct}/{len(categories)} = {correct / len(categories):.2%} top-1 "
        f"({len(top1)} clips answered, {seconds:.0f} s wall)")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--jobs", type=int, default=2, help="classify --jobs")
  args = parser.parse_args()
  categories = truth()
  folder = ASSETS / "audio" / "esc10"
  paths = [folder / name for name in sorted(categories)]
  with tempfile.TemporaryDirectory() as temp:
    from soundscope.models.store import files as store
    store.ModelStore(temp).import_path(require_asset("yamnet"))
    env = dict(os.environ, SOUNDSCOPE_MODEL_DIR=temp)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    top1, seconds = classify_top1(paths, env, args.jobs)
    report("classify --labels esc10", top1, categories, seconds)
    top1, seconds = predict_top1(folder, pathlib.Path(temp) / "esc10.parquet", env)
    report("predict --labels esc10", top1, categories, seconds)


if __name__ == "__main__":
  main()
