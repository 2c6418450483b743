"""Sound events (transforms/events.py), their tables (transforms/event_tables.py) and
`soundscope classify --events`."""

import dataclasses
import json
import re

import numpy as np
import pytest

from soundscope.cli import main as cli
from soundscope.configs import events as E
from soundscope.transforms import event_tables as T
from soundscope.transforms import events as V
from conftest import asset
from support_store import yamnet_store

DOG = "audio/esc10/1-100032-A-0.flac"


def windows(n, hop=0.5, span=1.0):
  """(starts, ends) of n windows of `span` s every `hop` s."""
  starts = np.arange(n) * hop
  return starts, starts + span


def one_label(values):
  return np.asarray(values, np.float32).reshape(-1, 1)


def bounds(events):
  return [(e.label, e.start_seconds, e.end_seconds, e.windows) for e in events]


# --------------------------------------------------------------- hand-made sequences

SEQUENCE = [0.1, 0.6, 0.4, 0.35, 0.2, 0.45, 0.7, 0.1]


def test_hysteresis_enters_at_enter_and_holds_down_to_exit():
  starts, ends = windows(len(SEQUENCE))
  rules = V.EventRules(enter=0.5, exit=0.3, merge_gap_seconds=0.0)
  events = V.detect(starts, ends, one_label(SEQUENCE), ["dog"], rules, window_seconds=1.0)
  # Windows 1-3 (0.6 enters, 0.4 and 0.35 hold, 0.2 ends); window 5 (0.45) holds but never
  # entered, so the second event starts at window 6.
  assert bounds(events) == [("dog", 0.5, 2.5, 3), ("dog", 3.0, 4.0, 1)]
  assert events[0].peak_score == pytest.approx(0.6)
  assert events[0].mean_score == pytest.approx((0.6 + 0.4 + 0.35) / 3)
  assert events[1].peak_score == events[1].mean_score == pytest.approx(0.7)


def test_events_closer_than_the_merge_gap_merge():
  starts, ends = windows(len(SEQUENCE))
  scores = one_label(SEQUENCE)
  # The gap is 3.0 - 2.5 = 0.5 s: merged under a larger gap, not under an equal one.
  merged = V.detect(starts, ends, scores, ["dog"], V.EventRules(0.5, 0.3, 0.0, 0.6), 1.0)
  assert bounds(merged) == [("dog", 0.5, 4.0, 4)]
  assert merged[0].peak_score == pytest.approx(0.7)
  assert merged[0].mean_score == pytest.approx((0.6 + 0.4 + 0.35 + 0.7) / 4)
  apart = V.detect(starts, ends, scores, ["dog"], V.EventRules(0.5, 0.3, 0.0, 0.5), 1.0)
  assert len(apart) == 2


def test_events_shorter_than_the_minimum_duration_are_dropped():
  starts, ends = windows(len(SEQUENCE))
  rules = V.EventRules(0.5, 0.3, min_duration_seconds=1.5, merge_gap_seconds=0.0)
  events = V.detect(starts, ends, one_label(SEQUENCE), ["dog"], rules, 1.0)
  assert bounds(events) == [("dog", 0.5, 2.5, 3)]
  # Merging comes first: two short events close together make one long enough.
  rules = dataclasses.replace(rules, min_duration_seconds=3.5, merge_gap_seconds=0.6)
  assert bounds(V.detect(starts, ends, one_label(SEQUENCE), ["dog"], rules, 1.0)) == [
      ("dog", 0.5, 4.0, 4)]


@pytest.mark.parametrize("tail,expected,peak", [
    # Audio of 1.8 s: window 2 (1.0-2.0) is cut to 0.8 s, window 3 (1.5-2.5) to 0.3 s.
    ("weight", [("dog", 0.5, 1.8, 2)], 0.6),       # 0.45 x 0.8 = 0.36 holds, 0.9 x 0.3 ends
    ("keep", [("dog", 0.5, 1.8, 3)], 0.9),
    ("drop", [("dog", 0.5, 1.5, 1)], 0.6),
])
def test_the_tail_rule_for_windows_cut_at_the_audios_end(tail, expected, peak):
  starts, ends = np.array([0.0, 0.5, 1.0, 1.5]), np.array([1.0, 1.5, 1.8, 1.8])
  scores = one_label([0.1, 0.6, 0.45, 0.9])
  rules = V.EventRules(0.5, 0.3, 0.0, 0.0, tail)
  events = V.detect(starts, ends, scores, ["dog"], rules, window_seconds=1.0)
  assert bounds(events) == expected
  assert events[0].peak_score == pytest.approx(peak)
  if tail == "weight":
    assert events[0].mean_score == pytest.approx((0.6 + 0.45 * 0.8) / 2)


def test_centre_bounds_span_the_middle_halves_of_the_windows():
  # Windows of 1 s every 0.5 s: window i's middle half is i/2 + 0.25 to i/2 + 0.75 s.
  starts, ends = windows(len(SEQUENCE))
  rules = V.EventRules(0.5, 0.3, merge_gap_seconds=0.0, bounds="centre")
  events = V.detect(starts, ends, one_label(SEQUENCE), ["dog"], rules, window_seconds=1.0)
  assert bounds(events) == [("dog", 0.75, 2.25, 3), ("dog", 3.25, 3.75, 1)]
  # The gap is now 3.25 - 2.25 = 1.0 s (0.5 s with whole windows); durations shrink by 0.5 s.
  merged = dataclasses.replace(rules, merge_gap_seconds=1.01)
  assert bounds(V.detect(starts, ends, one_label(SEQUENCE), ["dog"], merged, 1.0)) == [
      ("dog", 0.75, 3.75, 4)]
  short = dataclasses.replace(rules, min_duration_seconds=0.6)
  assert bounds(V.detect(starts, ends, one_label(SEQUENCE), ["dog"], short, 1.0)) == [
      ("dog", 0.75, 2.25, 3)]
  # A window cut at the audio's end (1.8 s) ends there; one cut before its middle is empty.
  cut_starts, cut_ends = np.array([0.0, 0.5, 1.0, 1.5]), np.array([1.0, 1.5, 1.8, 1.8])
  np.testing.assert_array_equal(np.stack(V.centre_bounds(cut_starts, cut_ends, 1.0)),
                                [[0.25, 0.75, 1.25, 1.75], [0.75, 1.25, 1.75, 1.8]])
  np.testing.assert_array_equal(np.stack(V.centre_bounds([1.7], [1.8], 1.0)), [[1.8], [1.8]])
  keep = V.EventRules(0.5, 0.3, tail="keep", bounds="centre")
  assert bounds(V.detect(cut_starts, cut_ends, one_label([0.1, 0.6, 0.45, 0.9]), ["dog"], keep,
                         1.0)) == [("dog", 0.75, 1.8, 3)]


def test_with_compete_a_window_counts_only_for_labels_near_its_best_score():
  starts, ends = windows(4)
  scores = np.array([[0.6, 0.2], [0.6, 0.4], [0.6, 0.0], [0.1, 0.5]], np.float32)
  alone = V.EventRules(0.15, 0.15, merge_gap_seconds=0.0)
  assert bounds(V.detect(starts, ends, scores, ["rain", "fire"], alone, 1.0)) == [
      ("fire", 0.0, 1.5, 2), ("rain", 0.0, 2.0, 3), ("fire", 1.5, 2.5, 1)]
  # fire's 0.2 is under 0.5 x rain's 0.6: that window is not fire's; its 0.4 is not under.
  half = dataclasses.replace(alone, compete=0.5)
  expected = [("rain", 0.0, 2.0, 3), ("fire", 0.5, 1.5, 1), ("fire", 1.5, 2.5, 1)]
  assert bounds(V.detect(starts, ends, scores, ["rain", "fire"], half, 1.0)) == expected
  # Each label's own ratio, against the best of all labels (rain's 0 leaves rain alone).
  assert bounds(V.detect_each(starts, ends, scores, ["rain", "fire"], (alone, half), 1.0)) == (
      expected)
  top = np.array(V.competed(scores, (dataclasses.replace(alone, compete=1.0),) * 2))
  np.testing.assert_array_equal(np.isnan(top), [[0, 1], [0, 1], [0, 1], [1, 0]])
  assert V.competed(scores, (alone, alone)) is scores


def test_with_compete_mean_an_event_stands_only_if_its_label_keeps_up_over_its_windows():
  starts, ends = windows(6)
  labels = ["rain", "fire"]

  def found(scores, rules):
    whole = V.detect(starts, ends, scores, labels, rules, 1.0)
    assert streamed(starts, ends, scores, labels, rules, 1.0) == whole
    return bounds(whole)
  # rain leads in windows 0-2 and fire in 3-5; fire also fires, lower, in 0-2.
  scores = np.array([[0.8, 0.3], [0.9, 0.35], [0.8, 0.3], [0.1, 0.6], [0.2, 0.7], [0.1, 0.6]],
                    np.float32)
  alone = V.EventRules(0.25, 0.25, merge_gap_seconds=0.0)
  both = [("rain", 0.0, 2.0, 3), ("fire", 0.0, 3.5, 6)]
  assert found(scores, alone) == both
  # Over fire's six windows its mean (0.475) is above 0.5 x rain's (0.483), not 1 x.
  assert found(scores, dataclasses.replace(alone, compete_mean=0.5)) == both
  top = dataclasses.replace(alone, compete_mean=1.0)
  assert found(scores, top) == both[:1]
  # Split by a gap in fire's scores, its second event (windows 3-5) is its own.
  split = scores.copy()
  split[2, 1] = 0.0
  assert found(split, top) == [("rain", 0.0, 2.0, 3), ("fire", 1.5, 3.5, 3)]
  # Each label with its own ratio, in a stream too.
  assert streamed(starts, ends, scores, labels, (alone, top), 1.0) == V.detect_each(
      starts, ends, scores, labels, (alone, top), 1.0)
  # A merged event is weighed over its whole span, the merged gap's windows too: fire's
  # windows alone (0.6 against rain's 0.1) would keep it, its span (0.35 against 0.5) not.
  gap = np.array([[0.1, 0.6], [0.1, 0.6], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.1, 0.6]],
                 np.float32)
  merging = dataclasses.replace(alone, merge_gap_seconds=2.0)
  assert found(gap, merging) == [("fire", 0.0, 3.5, 3), ("rain", 1.0, 3.0, 3)]
  assert found(gap, dataclasses.replace(merging, compete_mean=0.9)) == [("rain", 1.0, 3.0, 3)]
  with pytest.raises(ValueError, match="compete_mean"):
    V.EventRules(compete_mean=1.5)


def test_labels_are_independent_and_events_come_in_time_order():
  starts, ends = windows(4)
  scores = np.array([[0.0, 0.9], [0.9, 0.9], [0.9, 0.0], [0.0, 0.0]], np.float32)
  events = V.detect(starts, ends, scores, ["a", "b"], V.EventRules(), 1.0)
  assert bounds(events) == [("b", 0.0, 1.5, 2), ("a", 0.5, 2.0, 2)]
  assert V.detect([], [], np.zeros((0, 2)), ["a", "b"]) == []


@pytest.mark.parametrize("bad", [{"enter": 0.0}, {"enter": 1.5}, {"enter": 0.4, "exit": 0.5},
                                 {"exit": -0.1}, {"min_duration_seconds": -1.0},
                                 {"merge_gap_seconds": -0.5}, {"tail": "trim"},
                                 {"bounds": "center"}, {"compete": 1.5}, {"compete": -0.1}])
def test_bad_rules_are_refused(bad):
  with pytest.raises(ValueError):
    V.EventRules(**bad)


def test_bad_windows_are_one_line_errors():
  starts, ends = windows(3)
  with pytest.raises(V.EventInputError, match=r"\[w, 2\]"):
    V.detect(starts, ends, np.zeros((3, 1)), ["a", "b"])
  with pytest.raises(V.EventInputError, match="time order"):
    V.detect(starts[::-1], ends[::-1], np.zeros((3, 1)), ["a"])
  stream = V.EventStream(["a"], V.EventRules(), 1.0)
  stream.push(1.0, 2.0, [0.0])
  with pytest.raises(V.EventInputError, match="time order"):
    stream.push(0.5, 1.5, [0.0])
  with pytest.raises(V.EventInputError, match="window_seconds"):
    V.EventStream(["a"], V.EventRules(), None)


# ------------------------------------------------------------- streaming = whole arrays

def random_rules(rng):
  enter = float(rng.uniform(0.05, 1.0))
  return V.EventRules(enter, float(rng.uniform(0.0, enter)), float(rng.choice([0.0, 0.5, 2.0])),
                      float(rng.choice([0.0, 0.3, 1.0, 3.0])), str(rng.choice(E.TAILS)),
                      str(rng.choice(E.BOUNDS)), float(rng.choice([0.0, 0.0, 0.5, 1.0])),
                      float(rng.choice([0.0, 0.0, 0.6, 1.0])), bool(rng.uniform() < 0.5))


def random_case(rng):
  """(starts, ends, scores [w, L], rules, window_seconds): random windows, the last ones cut,
  a few too quiet (NaN); rules one EventRules or one per label (a third of the cases)."""
  n, labels = int(rng.integers(0, 60)), int(rng.integers(1, 4))
  hop, span = float(rng.choice([0.25, 0.48, 0.5, 0.96])), float(rng.choice([0.96, 0.975, 1.0]))
  starts = np.arange(n) * hop
  seconds = max(0.1, (n - 1) * hop + span * float(rng.uniform(0.05, 1.0))) if n else 0.0
  ends = np.minimum(starts + span, np.maximum(seconds, starts))
  walk = np.cumsum(rng.normal(0.0, 0.25, (n, labels)), axis=0)
  scores = (1.0 / (1.0 + np.exp(-walk))).astype(np.float32)
  scores[rng.uniform(size=n) < 0.05] = np.nan     # Windows too quiet to classify.
  rules = (random_rules(rng) if rng.uniform() < 2 / 3
           else tuple(random_rules(rng) for _ in range(labels)))
  return starts, ends, scores, rules, span


def streamed(starts, ends, scores, labels, rules, window_seconds, rng=None):
  """Events of an EventStream fed the windows in random-size batches, then flushed."""
  stream = V.EventStream(labels, rules, window_seconds)
  closed, i = [], 0
  while i < len(starts):
    step = 1 if rng is None else int(rng.integers(1, 5))
    closed.extend(stream.push_windows(starts[i:i + step], ends[i:i + step], scores[i:i + step]))
    i += step
  return sorted(closed + stream.flush(), key=V.event_order)


def test_streaming_gives_exactly_the_whole_array_events_on_random_scores():
  rng = np.random.default_rng(7)
  found = 0
  for _ in range(300):
    starts, ends, scores, rules, span = random_case(rng)
    labels = [f"l{j}" for j in range(scores.shape[1])]
    whole = V.detect_each(starts, ends, scores, labels, rules, span)
    assert streamed(starts, ends, scores, labels, rules, span, rng) == whole, rules
    found += len(whole)
  assert found > 100     # The cases do make events.


def test_a_stream_gives_an_event_out_once_no_later_window_can_change_it():
  starts, ends = windows(12)
  scores = one_label([0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0])
  stream = V.EventStream(["dog"], V.EventRules(merge_gap_seconds=1.0), 1.0)
  out = [stream.push(s, e, row) for s, e, row in zip(starts, ends, scores)]
  # Event 0.0-1.5 s: out at the first window starting 1.0 s or more after its end (2.5 s).
  assert [i for i, events in enumerate(out) if events] == [5]
  assert bounds(stream.flush()) == [("dog", 4.0, 5.0, 1)]
  assert stream.flush() == []


def test_exclusive_labels_give_way_to_a_stronger_overlapping_event_once_it_has_closed():
  # rain 0-3 s (peak 0.8); fire 1-2 s (peak 0.9) overlaps it; dog 4-5 s alone (peak 0.6).
  starts, ends = windows(9)
  scores = np.zeros((9, 3), np.float32)
  scores[0:5, 0] = [0.7, 0.8, 0.8, 0.7, 0.6]          # rain: windows 0-4 -> 0.0-3.0 s
  scores[2:3, 1] = 0.9                                 # fire: window 2 -> 1.0-2.0 s
  scores[8, 2] = 0.6                                   # dog: window 8 -> 4.0-5.0 s
  labels = ["rain", "fire", "dog"]
  plain = V.EventRules(enter=0.5, exit=0.5)
  exclusive = dataclasses.replace(plain, exclusive=True)
  assert bounds(V.detect(starts, ends, scores, labels, plain)) == [
      ("rain", 0.0, 3.0, 5), ("fire", 1.0, 2.0, 1), ("dog", 4.0, 5.0, 1)]
  assert bounds(V.detect(starts, ends, scores, labels, exclusive)) == [
      ("fire", 1.0, 2.0, 1), ("dog", 4.0, 5.0, 1)]
  # Only the exclusive label gives way; the stronger event stays whatever its rules.
  assert bounds(V.detect_each(starts, ends, scores, labels, (plain, exclusive, exclusive))) == [
      ("rain", 0.0, 3.0, 5), ("fire", 1.0, 2.0, 1), ("dog", 4.0, 5.0, 1)]
  # Live: rain closes first (at 3.5 s) but waits for fire, then is dropped, not given out.
  stream = V.EventStream(labels, exclusive, 1.0)
  out = [stream.push(s, e, row) for s, e, row in zip(starts, ends, scores)]
  assert [bounds(events) for events in out if events] == [[("fire", 1.0, 2.0, 1)]]
  assert bounds(stream.take_dropped()) == [("rain", 0.0, 3.0, 5)]
  assert bounds(stream.flush()) == [("dog", 4.0, 5.0, 1)] and stream.take_dropped() == []


# --------------------------------------------------------------------- tables

EVENTS = [V.Event("dog", 0.48, 1.935, 0.91796875, 0.8359375, 3),
          V.Event("crying, baby", 1.0 / 3.0, 5.0, 0.5000000001, 0.3, 1),
          V.Event("Chien (aboiement) é", 2.88, 4.815, 1.0, 1.0, 4)]


def test_csv_and_jsonl_round_trip(tmp_path):
  for kind, writer, reader in (("csv", T.write_csv, T.read_csv),
                               ("jsonl", T.write_jsonl, T.read_jsonl)):
    path = tmp_path / f"events.{kind}"
    with open(path, "w", newline="", encoding="utf-8") as stream:
      writer(stream, "a/dog.flac", EVENTS[:2])
      if kind == "csv":
        writer(stream, "b, c.wav", EVENTS[2:], header=False)
      else:
        writer(stream, "b, c.wav", EVENTS[2:])
    assert reader(path) == [("a/dog.flac", EVENTS[0]), ("a/dog.flac", EVENTS[1]),
                            ("b, c.wav", EVENTS[2])], kind


def test_raven_selection_table_round_trips_through_pandas(tmp_path):
  import pandas as pd
  path = tmp_path / T.table_name("x/dog.flac", T.RAVEN_SUFFIX)
  assert path.name == "dog.selections.txt"
  with open(path, "w", newline="", encoding="utf-8") as stream:
    T.write_raven(stream, EVENTS)
  assert T.read_raven(path) == EVENTS
  table = pd.read_csv(path, sep="\t")
  assert list(table.columns[:8]) == ["Selection", "View", "Channel", "Begin Time (s)",
                                     "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
                                     "Annotation"]
  assert table["Selection"].tolist() == [1, 2, 3]
  assert set(table["View"]) == {"Spectrogram 1"} and set(table["Channel"]) == {1}
  assert set(table["High Freq (Hz)"]) == {8000.0}
  with open(tmp_path / "empty.selections.txt", "w", encoding="utf-8") as stream:
    T.write_raven(stream, [])
  assert T.read_raven(tmp_path / "empty.selections.txt") == []


def test_raven_reader_keeps_quotes_and_names_a_table_it_cannot_read(tmp_path):
  path = tmp_path / "quote.selections.txt"
  quoted = [V.Event('say "hi"', 0.5, 1.5, 0.9, 0.5, 3)]
  with open(path, "w", newline="", encoding="utf-8") as stream:
    T.write_raven(stream, quoted)
  assert T.read_raven(path) == quoted
  (tmp_path / "short.txt").write_text("Selection\tView\n1\tSpectrogram 1\n", encoding="utf-8")
  with pytest.raises(T.EventTableError, match=r"short.txt: a selection table without the "
                                              r"columns \['Channel'"):
    T.read_raven(tmp_path / "short.txt")
  lines = path.read_text(encoding="utf-8").splitlines()
  path.write_text(lines[0] + "\n" + lines[1].replace("0.5", "half", 1) + "\n", encoding="utf-8")
  with pytest.raises(T.EventTableError, match=r"quote.selections.txt:2: not a selection row"):
    T.read_raven(path)
  with pytest.raises(T.EventTableError, match="missing.txt: not a selection table"):
    T.read_raven(tmp_path / "missing.txt")


def test_audacity_label_track_round_trips(tmp_path):
  path = tmp_path / T.table_name("dog.flac", T.AUDACITY_SUFFIX)
  with open(path, "w", newline="", encoding="utf-8") as stream:
    T.write_audacity(stream, EVENTS)
  assert path.read_text(encoding="utf-8").splitlines()[0] == "0.48\t1.935\tdog"
  assert T.read_audacity(path) == [(e.start_seconds, e.end_seconds, e.label) for e in EVENTS]


def test_a_label_with_a_tab_cannot_go_in_a_tab_separated_table(tmp_path):
  with open(tmp_path / "t.txt", "w", encoding="utf-8") as stream:
    with pytest.raises(T.EventTableError, match="tab"):
      T.write_audacity(stream, [dataclasses.replace(EVENTS[0], label="a\tb")])


# ------------------------------------------------------------- real scores, command line

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  return str(root)


def test_streaming_equals_whole_array_on_real_scores(model_dir):
  from soundscope.models import label_sets, scoring
  from soundscope.models.store import registry
  model = registry.load_classifier("yamnet", model_dir)
  resolved = label_sets.for_classifier("esc10", model)
  span = model.framing.span_samples / 16000.0
  found = 0
  for name in (DOG, "audio/esc10/1-116765-A-41.flac",
               "audio/esc10/1-187207-A-20.flac", "audio/esc10/1-17367-A-10.flac"):
    scores = label_sets.relabel(scoring.score_file(model, asset(name), per_window=True), resolved)
    starts, ends, values = scores.windows
    for rules in (V.EventRules(), V.EventRules(0.1, 0.02, 0.0, 0.0, "keep"),
                  V.EventRules(0.05, 0.01, 1.0, 1.0, "drop"),
                  V.EventRules(0.05, 0.05, 0.9, 2.0, "weight", "centre")):
      whole = V.detect(starts, ends, values, resolved.labels, rules, span)
      assert streamed(starts, ends, values, resolved.labels, rules, span) == whole
      found += len(whole)
  assert found >= 3


def classify(capsys, *args):
  status = cli.main(["classify", *args])
  captured = capsys.readouterr()
  return status, captured.out.splitlines(), captured.err.splitlines()


def test_classify_events_finds_the_dog_in_the_dog_clip(capsys, model_dir, tmp_path):
  path = str(asset(DOG))
  status, out, err = classify(capsys, path, "--model-dir", model_dir, "--labels", "esc10",
                              "--events")
  assert status == 0 and not err
  event_lines = [line for line in out[1:] if line.startswith(f"{path}: dog ")]
  assert event_lines, out
  start, end = map(float, event_lines[0].split(" dog ")[1].split(" s ")[0].split("-"))
  assert 0.0 <= start < end <= 5.0
  event_line = re.compile(rf"^{re.escape(path)}: .+ \d+\.\d\d-\d+\.\d\d s \(peak \d\.\d\d\)$")
  assert all(event_line.match(line) for line in out[1:]), out     # no window timeline
  status, out, _ = classify(capsys, path, "--model-dir", model_dir, "--labels", "esc10",
                            "--events", "--json", "--event-dir", str(tmp_path),
                            "--event-format", "raven")
  record = json.loads(out[0])
  dogs = [e for e in record["events"] if e["label"] == "dog"]
  assert status == 0 and dogs and "windows" not in record
  assert 0.0 <= dogs[0]["start_seconds"] < dogs[0]["end_seconds"] <= 5.0
  table = T.read_raven(tmp_path / "1-100032-A-0.selections.txt")
  assert [e.as_dict() for e in table] == record["events"]


def test_a_bad_event_rule_is_a_usage_error_naming_the_flag(capsys, model_dir):
  status, out, err = classify(capsys, str(asset(DOG)), "--model-dir", model_dir, "--labels",
                              "esc10", "--events", "--event-enter", "0.2", "--event-exit", "0.4")
  assert status == 2 and not out
  assert len(err) == 1 and "--event-exit" in err[0], err
