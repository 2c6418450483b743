"""A label set's own event rules (`events:` per set and per label, models/label_sets.py)
and the label-set errors a user must fix: each one line naming the file and line, exit 2."""

import dataclasses
import json

import numpy as np
import pytest

from conftest import asset
from test_label_sets import model_dir, write  # noqa: F401  (a fixture and a helper)
from soundscope.cli import main as cli
from soundscope.configs.events import EventRules
from soundscope.models import label_sets

DOG_CLIP = "audio/esc10/1-100032-A-0.flac"


@pytest.mark.parametrize("text, expected", [
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n    events: {enter: 0.2, exit: 0.5}\n",
     ":5: label 'a': events exit 0.5 is above enter 0.2"),
    ("name: t\nevents:\n  exit: 0.4\nlabels:\n  - name: a\n    classes: [Dog]\n"
     "    events:\n      enter: 0.3\n",
     ":8: label 'a': events exit 0.4 is above enter 0.3"),
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n    events: {entr: 0.2}\n",
     ":5: unknown key 'entr' in a events mapping (did you mean 'enter'?)"),
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n    events: {enter: 0}\n",
     ":5: label 'a': events 'enter' must be a score in (0, 1], not 0"),
    ("name: t\nevents: {min_duration: -1}\nlabels:\n  - name: a\n    classes: [Dog]\n",
     ":2: the label set: events 'min_duration' must be a number of seconds >= 0, not -1"),
    ("name: t\nevents: {compete_mean: 1.5}\nlabels:\n  - name: a\n    classes: [Dog]\n",
     ":2: the label set: events 'compete_mean' must be a ratio in [0, 1], not 1.5"),
    ("name: t\nevents: {exclusive: 1}\nlabels:\n  - name: a\n    classes: [Dog]\n",
     ":2: the label set: events 'exclusive' must be true or false, not 1"),
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n    events: {bounds: loud}\n",
     ":5: label 'a': events 'bounds' must be one of window, centre, level, not 'loud'"),
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n    events: 0.3\n",
     ":3: label 'a': 'events' is a mapping of enter, exit, min_duration, merge_gap"),
])
def test_bad_event_rules_in_a_set_are_one_line_naming_file_and_line(tmp_path, text, expected):
  with pytest.raises(label_sets.LabelSetError) as raised:
    label_sets.load(write(tmp_path, text))
  message = str(raised.value)
  assert message.startswith(str(tmp_path / "set.yaml") + expected), message
  assert "\n" not in message


def test_each_label_gets_the_commands_rules_with_its_own_events():
  labels = ("a", "b", "c", "d")
  spec = label_sets.LabelSet("t", tuple(
      label_sets.LabelSpec(name, (), 0.0, (), (), 1, events) for name, events in zip(labels, (
          (("enter", 0.2),), (("exit", 0.7),), (), (("merge_gap_seconds", 3.0),
                                                   ("min_duration_seconds", 1.5))))), "t.yaml")
  resolved = label_sets.ResolvedLabelSet("t", labels, ((0,),) * 4, None,
                                         tuple(s.events for s in spec.labels))
  rules = EventRules(enter=0.5, exit=0.3, merge_gap_seconds=0.5)
  per_label = label_sets.event_rules(resolved, rules)
  assert per_label == (
      dataclasses.replace(rules, enter=0.2, exit=0.2),     # exit at most its enter
      dataclasses.replace(rules, enter=0.7, exit=0.7),     # enter at least its exit
      rules,
      dataclasses.replace(rules, merge_gap_seconds=3.0, min_duration_seconds=1.5))
  plain = dataclasses.replace(resolved, events=((),) * 4)
  assert label_sets.event_rules(plain, rules) is rules
  assert label_sets.event_rules(None, rules) is rules


def test_classify_events_follow_each_labels_own_rules_and_a_bad_set_is_exit_2(
    tmp_path, model_dir, capsys):
  """The dog clip twice (dog 1.44-2.90 s, peak 0.94, then 5 s later): a label whose own
  enter is 0.99 has no event, the same classes under the command's rules have two, and
  with its own 10 s merge gap one."""
  import soundfile
  from soundscope.transforms import audio
  dog = audio.load_mono(asset(DOG_CLIP))
  clip = str(tmp_path / "two-dogs.wav")
  soundfile.write(clip, np.concatenate([dog, dog]), 16000, subtype="FLOAT")
  path = write(tmp_path, "name: pets\nevents: {merge_gap: 0.0}\nlabels:\n"
               "  - name: dog\n    classes: [Dog, Bark]\n"
               "  - name: dog_strict\n    classes: [Dog, Bark]\n    events: {enter: 0.99}\n"
               "  - name: dog_merged\n    classes: [Dog, Bark]\n    events: {merge_gap: 10}\n")
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", str(path), "--events",
                     "--json", "--event-enter", "0.5", "--event-exit", "0.3", clip])
  captured = capsys.readouterr()
  assert status == 0, captured.err
  events = json.loads(captured.out)["events"]
  by_label = {label: [e for e in events if e["label"] == label]
              for label in ("dog", "dog_strict", "dog_merged")}
  assert len(by_label["dog"]) == 2 and not by_label["dog_strict"]
  assert len(by_label["dog_merged"]) == 1
  assert by_label["dog_merged"][0]["start_seconds"] == by_label["dog"][0]["start_seconds"]
  assert by_label["dog_merged"][0]["end_seconds"] == by_label["dog"][-1]["end_seconds"]

  bad = write(tmp_path, "name: pets\nlabels:\n  - name: dog\n    classes: [Dog]\n"
              "    events:\n      enter: 0.2\n      exit: 0.6\n", "bad.yaml")
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", str(bad), "--events",
                     clip])
  captured = capsys.readouterr()
  assert status == 2 and captured.out == ""
  (line,) = captured.err.splitlines()
  assert f"{bad}:6: label 'dog': events exit 0.6 is above enter 0.2" in line, line
