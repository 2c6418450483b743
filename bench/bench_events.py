"""What sound events add to `soundscope predict --per-window`, on the 400 ESC-10 clips.

  nice python bench/bench_events.py [--limit 400] [--repeat 1] [--labels esc10]

Two figures, both printed:
  wall     `soundscope predict --per-window --model yamnet` on the default runner,
           without and with `--events` (same flags otherwise, --labels as given),
           each in a fresh Python process, rounds interleaved (--repeat), the best
           of each kept; overhead = with / without - 1.
  in-step  in one process, per clip: the time of the per-file step without events
           (models/scoring.score_file with its windows) and of what --events adds
           to it (models/file_events.file_events + event_rows), summed over the
           clips: the extraction's own share, without the noise of two whole runs
           on a shared machine.
Target: events add < 5 % to predict --per-window's wall time (issue 20).
The machine's load average is printed with the figures (other jobs skew them).
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench import common  # noqa: E402

TARGET_PERCENT = 5.0


def clips(limit):
  return sorted(glob.glob(str(common.require_asset("audio/esc10") / "*.flac")))[:limit]


def model_dir(folder):
  """A model store in `folder` holding the real YAMNet (from the assets)."""
  from soundscope.models.store import files as store
  root = os.path.join(folder, "models")
  model_store = store.ModelStore(root)
  for name in ("yamnet_classification.tflite", "yamnet_class_map.csv"):
    model_store.import_file(common.require_asset(f"yamnet/{name}"))
  return root


def run_predict(listing, output, models, events, labels):
  """Wall seconds of one `soundscope predict --per-window` in a fresh process."""
  command = [sys.executable, "-m", "soundscope.cli.main", "predict", "--input", listing,
             "--output", output, "--model", "yamnet", "--model-dir", models, "--per-window",
             "--no-progress"]
  if labels:
    command += ["--labels", labels]
  if events:
    command += ["--events"]
  started = time.monotonic()
  result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
  elapsed = time.monotonic() - started
  if result.returncode != 0:
    raise SystemExit(f"predict failed ({result.returncode}):\n{result.stderr[-3000:]}")
  return elapsed


def in_step(paths, models, labels):
  """(seconds scoring, seconds of the events) summed over the clips, in this process."""
  from soundscope.configs import events as E
  from soundscope.models import file_events, label_sets, scoring
  from soundscope.models.store import registry
  model = registry.load_classifier("yamnet", models)
  resolved = label_sets.for_classifier(labels, model) if labels else None
  scoring_seconds = events_seconds = 0.0
  found = 0
  for path in paths:
    started = time.perf_counter()
    scores = scoring.score_file(model, path, per_window=True)
    scored = time.perf_counter()
    rows = file_events.event_rows(path, file_events.file_events(model, scores, resolved,
                                                                E.EventRules()), None, model)
    events_seconds += time.perf_counter() - scored
    scoring_seconds += scored - started
    found += len(rows)
  return scoring_seconds, events_seconds, found


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--limit", type=int, default=400, help="ESC-10 clips (default all 400)")
  parser.add_argument("--repeat", type=int, default=1,
                      help="interleaved rounds of the two predict runs; the best is kept")
  parser.add_argument("--labels", default="esc10",
                      help="label set of the events ('' for the model's 521 classes)")
  args = parser.parse_args()
  paths = clips(args.limit)
  with tempfile.TemporaryDirectory(prefix="bench-events-") as folder:
    models = model_dir(folder)
    listing = os.path.join(folder, "inputs.txt")
    with open(listing, "w") as handle:
      handle.write("\n".join(paths) + "\n")
    best = {False: float("inf"), True: float("inf")}
    for round_ in range(args.repeat):
      for events in (False, True):
        output = os.path.join(folder, f"out-{int(events)}-{round_}.parquet")
        best[events] = min(best[events], run_predict(listing, output, models, events,
                                                     args.labels))
    scoring_seconds, events_seconds, found = in_step(paths, models, args.labels)
  load = os.getloadavg()
  overhead = 100.0 * (best[True] / best[False] - 1.0)
  share = 100.0 * events_seconds / scoring_seconds
  print(f"{len(paths)} clips, --labels {args.labels or '(the model classes)'}, best of "
        f"{args.repeat}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
  print(f"wall     predict --per-window {best[False]:.2f} s, with --events {best[True]:.2f} s: "
        f"{overhead:+.1f} % (target < {TARGET_PERCENT:g} %)")
  print(f"in-step  scoring {scoring_seconds:.2f} s, events {1000 * events_seconds:.1f} ms "
        f"({found} events): {share:.2f} % of the scoring step")


if __name__ == "__main__":
  main()
