"""Which event gives way where events of two ESC-10 labels overlap (EventRules.exclusive).

On synthetic soundscapes (bench/soundscapes.py: ESC-10 clips laid one after
another, so no two true events overlap), the esc10 set's events are found
with the set's rules but exclusive off; then, where an event of one label
overlaps one of another, the weaker is dropped, the weaker by each KEY:

  peak   the higher peak score stands (what EventRules.exclusive does)
  mean   the higher mean score
  mass   the higher mean x duration

and only when the overlap covers at least FRACTION of the weaker event (0: any
overlap, as EventRules.exclusive).  Prints sed_eval's event- and segment-based
F1 of each, and of none.  Results: docs/experiments/events-tuning.md.

  PYTHONPATH=. python3 bench/experiments/exclusive_events.py --folds 1 [--seeds 100 300]
"""

import argparse
import dataclasses
import itertools
import tempfile

from bench import soundscapes as S
from soundscope.configs.events import EventRules

KEYS = {"peak": lambda e: e.peak_score, "mean": lambda e: e.mean_score,
        "mass": lambda e: e.mean_score * e.duration_seconds}
FRACTIONS = (0.0, 0.5, 0.8)
MINUTES = (1, 2, 5, 10)                # One soundscape of each length per background.


def give_way(events, key, fraction):
  """`events` less those overlapped by another label's event that is stronger by `key`,
  the overlap covering at least `fraction` of the weaker event."""
  def weaker(event):
    for other in events:
      overlap = (min(event.end_seconds, other.end_seconds)
                 - max(event.start_seconds, other.start_seconds))
      if (other.label != event.label and overlap > 0
          and overlap >= fraction * event.duration_seconds and key(other) > key(event)):
        return True
    return False
  return [event for event in events if not weaker(event)]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--folds", type=int, nargs="+", default=[1])
  parser.add_argument("--seeds", type=int, nargs="+", default=[100, 300],
                      help="first seed of each draw of soundscapes")
  args = parser.parse_args()
  from soundscope.models import file_events, label_sets, scoring
  with tempfile.TemporaryDirectory() as model_dir:
    classifier = S.yamnet_classifier(model_dir)
    resolved = label_sets.for_classifier("esc10", classifier)
    # The set's rules with exclusive off: the events before step 6.
    resolved = dataclasses.replace(resolved, events=tuple(
        tuple(dict(own, exclusive=False).items()) for own in resolved.events))
    labels = list(resolved.labels)
    for seed in args.seeds:
      found = []
      for number, (fold, length, kind) in enumerate(itertools.product(
          args.folds, MINUTES, S.BACKGROUNDS)):
        waveform, rate, truth = S.make_soundscape(seed + number, length, fold, kind)
        scores = scoring.score_waveform(classifier, waveform, per_window=True)
        found.append((truth, file_events.file_events(classifier, scores, resolved,
                                                     EventRules()), waveform.size / rate))
      variants = [("none", None, None)] + [(name, key, fraction) for (name, key), fraction
                                           in itertools.product(KEYS.items(), FRACTIONS)]
      for name, key, fraction in variants:
        pairs = [(truth, [(e.label, e.start_seconds, e.end_seconds)
                          for e in (events if key is None else give_way(events, key, fraction))],
                  seconds) for truth, events, seconds in found]
        result = S.evaluate(pairs, labels)
        where = "" if key is None else f", overlap >= {fraction:g}"
        print(f"folds {args.folds} seed {seed}: {name}{where}: event F1 "
              f"{result['event_f1']:.4f}, segment F1 {result['segment_f1']:.4f}", flush=True)


if __name__ == "__main__":
  main()
