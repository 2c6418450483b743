"""Experiment: do window scores smoothed along time help the event rules? (issue 20)

Scores the fold's soundscapes and backgrounds once (events_tuning.py's set-up:
classify's path with `--labels esc10`), then tunes each label's own rules
(events_tuning.tune; bounds centre, compete 0.75, esc10's) on the raw label
scores and on the same scores filtered along time within each file: a centred
moving mean, median or max over --width windows (edges repeat the first and last
window).  A filter of width w needs (w - 1) / 2 windows of look-ahead, which a live
stream would add as latency.  Results: docs/experiments/events-tuning.md.

  PYTHONPATH=. python3 bench/experiments/score_smoothing.py --fold 1 --repeats 2 [--width 3]
      [--kinds raw mean median max]
"""

import argparse
import tempfile

import numpy as np

from bench import soundscapes as S
from bench.experiments import events_tuning as T
from soundscope.configs import events as E
from soundscope.configs.events import EventRules


def smoothed(scored, kind, width):
  """label_window_scores' result with its [w, L] scores filtered along w."""
  starts, ends, scores, window_seconds = scored[:4]
  half = width // 2
  padded = np.pad(np.asarray(scores, np.float64), ((half, half), (0, 0)), mode="edge")
  windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=0)  # [w, L, width]
  reduce = {"mean": np.mean, "median": np.median, "max": np.max}[kind]
  return starts, ends, reduce(windows, axis=-1).astype(np.float32), window_seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--fold", type=int, default=1)
  parser.add_argument("--repeats", type=int, default=2)
  parser.add_argument("--width", type=int, default=3, help="windows (odd)")
  parser.add_argument("--kinds", nargs="+", default=["raw", "mean", "median", "max"],
                      choices=["raw", "mean", "median", "max"])
  args = parser.parse_args()
  from soundscope.models import label_sets
  with tempfile.TemporaryDirectory() as model_dir:
    classifier = S.yamnet_classifier(model_dir)
    resolved = label_sets.for_classifier("esc10", classifier)
    labels = list(resolved.labels)
    scapes = T.scored_soundscapes(classifier, resolved, args.fold, S.LEVELS_DBFS,
                                  repeats=args.repeats)
    backgrounds = T.scored_backgrounds(classifier, resolved)
  base = EventRules(bounds=E.BOUNDS_CENTRE, compete=0.75)
  for kind in args.kinds:
    print(f"--- {kind}" + (f" over {args.width} windows" if kind != "raw" else ""), flush=True)
    if kind == "raw":
      T.tune(scapes, backgrounds, labels, base)
    else:
      T.tune([(truth, smoothed(scored, kind, args.width), seconds)
              for truth, scored, seconds in scapes],
             [smoothed(scored, kind, args.width) for scored in backgrounds], labels, base)


if __name__ == "__main__":
  main()
