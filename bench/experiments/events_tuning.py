"""Tunes the sound-event rules (configs/events.py) on synthetic ESC-10 soundscapes.

Builds soundscapes from one ESC-10 fold (bench/soundscapes.py: clips at peak
levels drawn from --levels over pink noise or silence, files of 1 to 10
minutes), scores them once through classify's path with `--labels esc10`,
then runs transforms.events.detect over a grid of EventRules (enter, exit,
merge gap, minimum duration; bounds and compete as given) and prints
sed_eval's event-based F1 (1 s onset collar, offset 1 s or 50 %) and
segment-based F1 (1 s), and the false events per 10 minutes of pure
background, for

  * the best rules shared by every label, and
  * each label's own best rules over the same grid (labels are detected
    independently, so sed_eval's class-wise scores under shared rules are each
    label's scores under its own), as `events:` entries for esc10.yaml.

Results: docs/experiments/events-tuning.md.

  PYTHONPATH=. python3 bench/experiments/events_tuning.py --fold 1 [--repeats 2] [--levels ...]
      [--bounds window|centre|level] [--compete RATIO ...] [--compete-mean RATIO]

With several --compete ratios the grid runs once per ratio (the scores are
made once).
"""

import argparse
import dataclasses
import itertools
import tempfile

import numpy as np

from bench import soundscapes as S
from soundscope.configs import events as E
from soundscope.configs.events import EventRules

MINUTES = (1, 2, 3, 4, 5, 10)          # One soundscape of each length per background.
BACKGROUND_MINUTES = 10                # Pure background per kind, for false events.
ENTERS = (0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)
EXIT_FRACTIONS = (0.25, 0.5, 1.0)      # exit = enter x this.
MERGE_GAPS = (1.0, 2.0, 3.0)           # seconds.
HOP_SECONDS = 0.48                     # YAMNet's hop between windows, seconds.


def min_durations(bounds, window_seconds):
  """Minimum durations of the grid, seconds: any event, or two windows (0.01 s under
  their span: 1.445 s whole, 0.958 s by their centres, for YAMNet)."""
  span = window_seconds * (E.CENTRE_FRACTION if bounds in (E.BOUNDS_CENTRE, E.BOUNDS_LEVEL)
                           else 1.0)
  return (0.0, round(HOP_SECONDS + span - 0.01, 3))


def scored_soundscapes(classifier, resolved, fold, levels, minutes=MINUTES, seed=0, repeats=1):
  """[(truth, label_window_scores result, seconds)]: both backgrounds, every length,
  `repeats` times (other seeds)."""
  out = []
  for number, (_, length, kind) in enumerate(itertools.product(range(repeats), minutes,
                                                               S.BACKGROUNDS)):
    waveform, rate, truth = S.make_soundscape(seed + number, length, fold, kind, levels)
    out.append((truth, S.label_window_scores(classifier, resolved, waveform),
                waveform.size / rate))
  return out


def scored_backgrounds(classifier, resolved, minutes=BACKGROUND_MINUTES, seed=1000):
  """[label_window_scores result] of each background kind alone."""
  return [S.label_window_scores(classifier, resolved, S.background(seed, minutes * 60.0, kind))
          for kind in S.BACKGROUNDS]


def false_events(rules, backgrounds, labels):
  """{label: events found on the pure backgrounds} under rules (one EventRules, or L)."""
  counts = dict.fromkeys(labels, 0)
  for scored in backgrounds:
    for label, _, _ in S.events_from_scores(scored, labels, rules):
      counts[label] += 1
  return counts


def measure(rules, scapes, backgrounds, labels):
  """sed_eval's results (S.evaluate) and the false events per label on the backgrounds."""
  pairs = [(truth, S.events_from_scores(scored, labels, rules), seconds)
           for truth, scored, seconds in scapes]
  return S.evaluate(pairs, labels), false_events(rules, backgrounds, labels)


def per_ten_minutes(count, backgrounds):
  return count * 10.0 / (BACKGROUND_MINUTES * len(backgrounds))


def class_f1(result, label):
  """(event F1, segment F1) of one label (0 where sed_eval has NaN: nothing found)."""
  event = result["event"].results_class_wise_metrics()[label]["f_measure"]["f_measure"]
  segment = result["segment"].results_class_wise_metrics()[label]["f_measure"]["f_measure"]
  return float(np.nan_to_num(event)), float(np.nan_to_num(segment))


def shared_rules(base, window_seconds):
  """(exit fraction, merge gap, min duration) combinations."""
  return list(itertools.product(EXIT_FRACTIONS, MERGE_GAPS,
                                min_durations(base.bounds, window_seconds)))


def rules_of(base, enter, fraction, gap, duration):
  return dataclasses.replace(base, enter=enter, exit=round(enter * fraction, 4),
                             merge_gap_seconds=gap, min_duration_seconds=duration)


def tune(scapes, backgrounds, labels, base=EventRules()):
  """Prints the best shared rules, then each label's own best rules (bounds and compete
  of `base`); returns the latter as {label: EventRules}."""
  window_seconds = scapes[0][1][3]
  table = {}
  for enter, shared in itertools.product(ENTERS, shared_rules(base, window_seconds)):
    table[enter, shared] = measure(rules_of(base, enter, *shared), scapes, backgrounds, labels)
  print("best rules shared by every label (<= 1 false event per 10 min):")
  print("enter  exit  merge_gap  min_dur  event_F1  segment_F1  false/10min")
  overall = []
  for (enter, shared), (result, false) in table.items():
    per_ten = per_ten_minutes(sum(false.values()), backgrounds)
    if per_ten <= 1.0:
      overall.append((result["event_f1"] + result["segment_f1"], enter, shared, result, per_ten))
  for _, enter, shared, result, per_ten in sorted(overall, key=lambda r: -r[0])[:8]:
    rules = rules_of(base, enter, *shared)
    print(f"{rules.enter:5.2f} {rules.exit:5.3f} {rules.merge_gap_seconds:9.1f} "
          f"{rules.min_duration_seconds:8.3f} {result['event_f1']:9.3f} "
          f"{result['segment_f1']:11.3f} {per_ten:12.1f}")
  print("each label's own rules (its best event F1 + segment F1 over the whole grid, no "
        "false event on the backgrounds):")
  own = {}
  for label in labels:
    candidates = [(sum(class_f1(result, label)), key) for key, (result, false) in table.items()
                  if false[label] == 0]
    _, (enter, shared) = max(candidates)
    own[label] = rules_of(base, enter, *shared)
    event_f1, segment_f1 = class_f1(table[enter, shared][0], label)
    print(f"  {label:15s} enter {own[label].enter:.2f} exit {own[label].exit:.3f} merge_gap "
          f"{own[label].merge_gap_seconds:.1f} min_duration {own[label].min_duration_seconds:.3f}:"
          f" event F1 {event_f1:.3f}, segment F1 {segment_f1:.3f}")
  per_label = tuple(own[label] for label in labels)
  pairs = [(truth, S.events_from_scores(scored, labels, per_label), seconds)
           for truth, scored, seconds in scapes]
  result = S.evaluate(pairs, labels)
  false = sum(false_events(per_label, backgrounds, labels).values())
  print(f"all labels with their own rules: event F1 {result['event_f1']:.3f}, segment F1 "
        f"{result['segment_f1']:.3f}, false events {per_ten_minutes(false, backgrounds):.1f} "
        f"per 10 min")
  return own


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--fold", type=int, default=1, help="ESC-10 fold to tune on")
  parser.add_argument("--levels", type=float, nargs="+", default=list(S.LEVELS_DBFS),
                      help="peak levels of the placed clips, dBFS")
  parser.add_argument("--repeats", type=int, default=1,
                      help="soundscapes of each length and background (other seeds)")
  parser.add_argument("--bounds", choices=E.BOUNDS, default=E.BOUNDS_WINDOW,
                      help="EventRules.bounds of every rule of the grid")
  parser.add_argument("--compete", type=float, nargs="+", default=[E.COMPETE],
                      help="EventRules.compete ratios: the grid runs once per ratio")
  parser.add_argument("--compete-mean", type=float, default=E.COMPETE_MEAN,
                      help="EventRules.compete_mean of every rule of the grid")
  args = parser.parse_args()
  from soundscope.models import label_sets
  with tempfile.TemporaryDirectory() as model_dir:
    classifier = S.yamnet_classifier(model_dir)
    resolved = label_sets.for_classifier("esc10", classifier)
    labels = list(resolved.labels)
    scapes = scored_soundscapes(classifier, resolved, args.fold, tuple(args.levels),
                                repeats=args.repeats)
    backgrounds = scored_backgrounds(classifier, resolved)
  print(f"fold {args.fold}, levels {args.levels} dBFS: {len(scapes)} soundscapes, "
        f"{sum(len(t) for t, _, _ in scapes)} true events, "
        f"{sum(s for _, _, s in scapes) / 60:.0f} min; background {BACKGROUND_MINUTES} min x "
        f"{len(backgrounds)}")
  for compete in args.compete:
    print(f"--- bounds {args.bounds}, compete {compete:g}, compete_mean {args.compete_mean:g}")
    own = tune(scapes, backgrounds, labels, EventRules(bounds=args.bounds, compete=compete,
                                                       compete_mean=args.compete_mean))
    print("as configs/label_sets/esc10.yaml `events:` entries:")
    for label, rules in own.items():
      print(f"  {label}: {{enter: {rules.enter:g}, exit: {rules.exit:g}, min_duration: "
            f"{rules.min_duration_seconds:g}, merge_gap: {rules.merge_gap_seconds:g}}}")


if __name__ == "__main__":
  main()
