"""Sound events on synthetic soundscapes of real ESC-10 clips, scored with sed_eval.

Soundscapes of ESC-10 fold 5 (bench/soundscapes.py: clips at -10, -20 and -30
dBFS peak over pink noise or silence; each placed clip one true event over its
active part) go through `soundscope classify --labels esc10 --events`' path
with the esc10 set's own rules (level bounds, competing and exclusive labels), which were
tuned on fold 1 (bench/experiments/events_tuning.py), and with the same labels
independent (bench/experiments/esc10-independent.yaml, also tuned on fold 1).

Issue 20's targets are event-based F1 >= 0.70 (onset collar 1 s, offset
collar 1 s or 50 %), segment-based F1 >= 0.85 (1 s segments) and at most 1
false event per 10 minutes of pure background.  Measured on these 15 minutes
(80 events; docs/experiments/events-tuning.md has the four held-out folds):
esc10 (competing and exclusive labels, level bounds) event F1 0.684, segment F1 0.744;
independent labels (centre bounds) 0.675 and 0.696; no false event.  So only
the false-event target is asserted as such; the F1 floors below guard the
measured figures (about three events of margin), not the targets, which this
small sample misses (on the four held-out folds of bench_sed, 144 minutes:
event F1 0.822, segment F1 0.870; over ten draws of those folds, `bench_sed.py --draws 10`,
segment F1 0.835-0.872, mean 0.854).
bench/bench_sed.py prints every figure on more audio.
"""

import json
import pathlib

import numpy as np
import pytest

from conftest import asset
from support_store import yamnet_store
from soundscope.cli import main as cli
from soundscope.configs.events import EventRules
from soundscope.models import label_sets

pytestmark = pytest.mark.slow

INDEPENDENT_SET = (pathlib.Path(__file__).resolve().parents[1]
                   / "bench/experiments/esc10-independent.yaml")
FOLD = 5                                          # Held out: the rules were tuned on fold 1.
SOUNDSCAPES = ((0, 1, "noise"), (1, 4, "silence"), (2, 10, "noise"))  # seed, minutes, kind.
BACKGROUND_MINUTES = 2.5                          # Of each kind: 5 minutes, so no false event.
MIN_EVENT_F1 = 0.65                               # Measured 0.684 (target 0.70).
MIN_SEGMENT_F1 = 0.71                             # Measured 0.744 (target 0.85 on more audio).
MIN_INDEPENDENT_EVENT_F1 = 0.62                   # Measured 0.675.
MIN_INDEPENDENT_SEGMENT_F1 = 0.64                 # Measured 0.696.
MAX_FALSE_EVENTS_PER_10_MINUTES = 1.0             # Issue 20's target.


@pytest.fixture(scope="module")
def soundscapes():
  asset("audio/esc10/esc10.csv")
  from bench import soundscapes as S
  return S


@pytest.fixture(scope="module")
def scored(tmp_path_factory, soundscapes):
  """(model dir, resolved esc10, [(truth, found, seconds, waveform)], [found on each
  background], the same two for the esc10-independent set)."""
  from soundscope.models import scoring
  from soundscope.models.store import registry
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  classifier = registry.load_classifier("yamnet", root)
  resolved = label_sets.for_classifier("esc10", classifier)
  independent = label_sets.for_classifier(str(INDEPENDENT_SET), classifier)
  assert independent.labels == resolved.labels

  def found(waveform):
    scores = scoring.score_waveform(classifier, waveform, per_window=True)
    return [soundscapes.detect_events(classifier, labels, waveform, EventRules(), scores)
            for labels in (resolved, independent)]

  out, out_independent = [], []
  for seed, minutes, kind in SOUNDSCAPES:
    waveform, rate, truth = soundscapes.make_soundscape(seed, minutes, FOLD, kind)
    assert rate == 16000 and waveform.dtype == np.float32
    own, other = found(waveform)
    out.append((truth, own, waveform.size / rate, waveform))
    out_independent.append((truth, other, waveform.size / rate, waveform))
  backgrounds = [found(soundscapes.background(9, BACKGROUND_MINUTES * 60, k))
                 for k in soundscapes.BACKGROUNDS]
  return (str(root), resolved, out, [own for own, _ in backgrounds], out_independent,
          [other for _, other in backgrounds])


def test_a_soundscape_is_the_same_for_a_seed_and_its_truth_lies_in_its_clips(soundscapes):
  first = soundscapes.make_soundscape(3, 1, FOLD, "noise")
  again = soundscapes.make_soundscape(3, 1, FOLD, "noise")
  assert np.array_equal(first[0], again[0]) and first[2] == again[2]
  waveform, rate, truth = first
  assert waveform.size == 60 * rate and np.abs(waveform).max() <= 1.0
  categories = {category for category, _ in soundscapes.fold_clips(FOLD)}
  ends = [end for _, _, end in truth]
  for (label, start, end), next_start in zip(truth, [t[1] for t in truth[1:]] + [60.0]):
    assert label in categories and 0.0 < end - start <= 5.0 and end <= next_start
  # Between the clips there is only the background (-50 dBFS RMS pink noise).
  quiet = waveform[int(np.ceil(ends[-1] + 5.0) * rate):]
  assert quiet.size == 0 or np.sqrt(np.mean(quiet.astype(np.float64) ** 2)) < 10 ** (-45 / 20)


def f1s(soundscapes, out, labels):
  result = soundscapes.evaluate([(truth, found, seconds) for truth, found, seconds, _ in out],
                                list(labels))
  return result["event_f1"], result["segment_f1"], result


def false_per_10_minutes(backgrounds):
  return sum(len(found) for found in backgrounds) * 10.0 / (
      BACKGROUND_MINUTES * len(backgrounds))


def test_events_on_held_out_soundscapes_keep_their_f1_and_no_false_events(
    soundscapes, scored):
  _, resolved, out, backgrounds, _, _ = scored
  event_f1, segment_f1, result = f1s(soundscapes, out, resolved.labels)
  events = sum(len(truth) for truth, _, _, _ in out)
  assert events >= 45                               # Enough for the figures to mean something.
  assert event_f1 >= MIN_EVENT_F1, result["event"]
  assert segment_f1 >= MIN_SEGMENT_F1, result["segment"]
  assert false_per_10_minutes(backgrounds) <= MAX_FALSE_EVENTS_PER_10_MINUTES, backgrounds


def test_competing_labels_find_more_of_the_held_out_events_than_independent_ones(
    soundscapes, scored):
  _, resolved, out, _, out_independent, backgrounds = scored
  event_f1, segment_f1, result = f1s(soundscapes, out_independent, resolved.labels)
  assert event_f1 >= MIN_INDEPENDENT_EVENT_F1, result["event"]
  assert segment_f1 >= MIN_INDEPENDENT_SEGMENT_F1, result["segment"]
  own_event_f1, own_segment_f1, _ = f1s(soundscapes, out, resolved.labels)
  assert own_event_f1 + own_segment_f1 > event_f1 + segment_f1 + 0.02   # Measured + 0.057.
  assert false_per_10_minutes(backgrounds) <= MAX_FALSE_EVENTS_PER_10_MINUTES, backgrounds


def test_the_cli_finds_the_same_events_in_the_soundscape_written_to_a_file(
    tmp_path, scored, capsys):
  import soundfile
  model_dir, _, out, _, _, _ = scored
  truth, found, _, waveform = out[0]
  path = tmp_path / "soundscape.wav"
  soundfile.write(path, waveform, 16000, subtype="FLOAT")
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", "esc10", "--events",
                     "--json", str(path)])
  captured = capsys.readouterr()
  assert status == 0, captured.err
  events = json.loads(captured.out)["events"]
  assert [e["label"] for e in events] == [label for label, _, _ in found]
  np.testing.assert_allclose([[e["start_seconds"], e["end_seconds"]] for e in events],
                             [[start, end] for _, start, end in found], rtol=0, atol=1e-9)
  assert len(found) >= len(truth) // 2
