"""Sound-event detection on synthetic ESC-10 soundscapes, scored with sed_eval.

Soundscapes (bench/soundscapes.py) from the held-out ESC-10 folds (the event
rules of configs/label_sets/esc10.yaml were tuned on fold 1:
bench/experiments/events_tuning.py, docs/experiments/events-tuning.md): clips
at -10, -20 and -30 dBFS peak over pink noise (-50 dBFS RMS) or silence, files
of 1 to 10 minutes.  Events are found as `soundscope classify --labels esc10
--events` finds them (models/scoring.py, models/file_events.py, the command's
default rules and the set's own).  Prints sed_eval's event-based F1 (onset
collar 1 s, offset collar 1 s or 50 % of the length) and segment-based F1 (1 s
segments), overall, per background, per level and per label, and the false
events per 10 minutes of pure background.  Targets (issue 20): segment F1 >=
0.85, event F1 >= 0.70, <= 1 false event per 10 minutes.

  PYTHONPATH=. python3 bench/bench_sed.py [--folds 2 3 4 5] [--minutes 1 2 5 10]
      [--labels esc10|FILE] [--seed 100] [--draws 1]

--seed draws other soundscapes of the same clips (placements, levels,
backgrounds): the figures move by a few hundredths from one draw to another.
--draws N scores N draws (seeds --seed, +200, +400, ...) and prints each one's
overall figures, then their mean, lowest and highest, and how many are under the
targets; the breakdowns (background, level, label) are the first draw's.

--labels takes another label set over the same ten categories (its own event
rules), e.g. bench/experiments/esc10-compete.yaml.
"""

import argparse
import itertools
import os
import tempfile
import time

from bench import soundscapes as S
from soundscope.configs.events import EventRules


DRAW_SEED_STEP = 200          # --draws: the seeds are --seed + this x k.
TARGET_EVENT_F1 = 0.70        # Issue 20's targets, for the --draws summary.
TARGET_SEGMENT_F1 = 0.85


def load_average():
  return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run(classifier, resolved, folds, minutes, levels, seed=100):
  """[(truth, found, seconds)] of every fold x length x background."""
  pairs = []
  for number, (fold, length, kind) in enumerate(itertools.product(folds, minutes,
                                                                  S.BACKGROUNDS)):
    waveform, rate, truth = S.make_soundscape(seed + number, length, fold, kind, levels)
    found = S.detect_events(classifier, resolved, waveform, EventRules())
    pairs.append((truth, found, waveform.size / rate, kind))
  return pairs


def report(name, pairs, labels, indent=""):
  """Prints and returns evaluate's result over `pairs` ((truth, found, seconds, ...))."""
  result = S.evaluate([pair[:3] for pair in pairs], labels)
  events = sum(len(pair[0]) for pair in pairs)
  minutes = sum(pair[2] for pair in pairs) / 60.0
  print(f"{indent}{name:28s} event F1 {result['event_f1']:.3f}  segment F1 {result['segment_f1']:.3f}"
        f"  ({events} true events, {minutes:.0f} min)")
  return result


def print_draws(results):
  """The mean, lowest and highest event and segment F1 of several draws' results, and
  how many of them are under issue 20's targets."""
  for key, name, target in (("event_f1", "event F1", TARGET_EVENT_F1),
                            ("segment_f1", "segment F1", TARGET_SEGMENT_F1)):
    values = [result[key] for result in results]
    under = sum(value < target for value in values)
    print(f"{len(values)} draws: {name} mean {sum(values) / len(values):.3f} (lowest "
          f"{min(values):.3f}, highest {max(values):.3f}); {under} under {target}")


def print_per_label(result, labels, indent="  "):
  """Each label's event and segment F1 (and segment recall, precision) of evaluate's result."""
  events = result["event"].results_class_wise_metrics()
  segments = result["segment"].results_class_wise_metrics()
  for label in labels:
    print(f"{indent}{label:15s} event F1 {events[label]['f_measure']['f_measure']:.3f}  "
          f"segment F1 {segments[label]['f_measure']['f_measure']:.3f}  "
          f"(recall {segments[label]['f_measure']['recall']:.3f}, precision "
          f"{segments[label]['f_measure']['precision']:.3f})")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--folds", type=int, nargs="+", default=[2, 3, 4, 5],
                      help="ESC-10 folds the clips come from (1 was used for tuning)")
  parser.add_argument("--minutes", type=float, nargs="+", default=[1, 2, 5, 10],
                      help="soundscape lengths (one per fold and background), minutes")
  parser.add_argument("--background-minutes", type=float, default=30.0,
                      help="pure background per kind, for false events, minutes")
  parser.add_argument("--seed", type=int, default=100,
                      help="first seed of the soundscapes (the per-level ones: this + 100)")
  parser.add_argument("--draws", type=int, default=1,
                      help="draws of soundscapes to score (seeds --seed + 200 k)")
  parser.add_argument("--labels", default="esc10",
                      help="label set of the ten ESC-10 categories, with its event rules")
  args = parser.parse_args()
  from soundscope.models import label_sets
  print(f"start: {load_average()}")
  started = time.perf_counter()
  with tempfile.TemporaryDirectory() as model_dir:
    classifier = S.yamnet_classifier(model_dir)
    resolved = label_sets.for_classifier(args.labels, classifier)
    labels = list(resolved.labels)
    pairs = run(classifier, resolved, args.folds, args.minutes, S.LEVELS_DBFS, args.seed)
    result = report("all", pairs, labels)
    for kind in S.BACKGROUNDS:
      report(f"background {kind}", [p for p in pairs if p[3] == kind], labels)
    for level in S.LEVELS_DBFS:
      report(f"level {level:g} dBFS only", run(classifier, resolved, args.folds[:2],
                                              args.minutes[:2], (level,), args.seed + 100),
             labels)
    print("per label (all):")
    print_per_label(result, labels)
    for kind in S.BACKGROUNDS:
      found = S.detect_events(classifier, resolved,
                              S.background(300, args.background_minutes * 60.0, kind),
                              EventRules())
      print(f"false events on {args.background_minutes:g} min of {kind}: {len(found)} "
            f"({len(found) * 10.0 / args.background_minutes:.2f} per 10 min) {found[:5]}")
    if args.draws > 1:
      print_draws([result] + [
          report(f"draw --seed {seed}", run(classifier, resolved, args.folds, args.minutes,
                                            S.LEVELS_DBFS, seed), labels)
          for seed in range(args.seed + DRAW_SEED_STEP,
                            args.seed + DRAW_SEED_STEP * args.draws, DRAW_SEED_STEP)])
  print(f"end: {load_average()}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
  main()
