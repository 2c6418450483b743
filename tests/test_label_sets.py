"""Label sets (models/label_sets.py) and `soundscope classify --labels`.

The ESC-10 accuracy through the esc10 set (all 400 clips, slow) is in
tests/test_yamnet_esc10.py, which scores the clips once for every check.
"""

import csv
import json

import numpy as np
import pytest

from conftest import asset
from support_store import yamnet_store
from soundscope.cli import main as cli
from soundscope.models import label_sets


@pytest.fixture(scope="module")
def yamnet_classes():
  """(mids, display names) of YAMNet's 521 classes."""
  from soundscope.models.networks import yamnet
  return yamnet.load_class_map(asset("yamnet/yamnet_class_map.csv"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("models")
  yamnet_store(root)
  return str(root)


def write(tmp_path, text, name="set.yaml"):
  path = tmp_path / name
  path.write_text(text)
  return path


def resolve_text(tmp_path, text, yamnet_classes, ontology=None):
  mids, names = yamnet_classes
  return label_sets.resolve(label_sets.load(write(tmp_path, text)), names, mids, ontology)


def test_built_in_sets_resolve_against_yamnet(yamnet_classes):
  mids, names = yamnet_classes
  assert label_sets.builtin_names() == ["audioset-top", "esc10", "home"]
  for set_name in label_sets.builtin_names():
    resolved = label_sets.resolve(label_sets.load(set_name), names, mids,
                                  asset("audioset/ontology.json"))
    assert resolved.name == set_name and all(resolved.class_indices)
  home = label_sets.resolve(label_sets.load("home"), names, mids)
  assert {"dog", "cat", "baby_crying", "glass_breaking", "smoke_fire_alarm", "doorbell",
          "knock", "speech"} <= set(home.labels)
  assert home.thresholds[home.labels.index("speech")] == pytest.approx(0.3)


def test_a_class_is_named_by_display_name_or_mid(tmp_path, yamnet_classes):
  resolved = resolve_text(tmp_path, "name: t\nlabels:\n  - name: dog\n"
                          "    classes: [Dog, /m/05tny_]\n", yamnet_classes)
  mids, names = yamnet_classes
  assert [names[i] for i in resolved.class_indices[0]] == ["Dog", "Bark"]
  assert mids[names.index("Bark")] == "/m/05tny_"


def test_a_labels_score_is_the_max_of_its_classes_on_real_scores(model_dir):
  from soundscope.models import scoring
  from soundscope.models.store import registry
  model = registry.load_classifier("yamnet", model_dir)
  resolved = label_sets.for_classifier("home", model)
  scores = scoring.score_file(model, asset("audio/esc10/1-100032-A-0.flac"), per_window=True)
  windows, names = label_sets.label_scores(scores.windows.scores, resolved)
  assert names == list(resolved.labels) and windows.dtype == np.float32
  assert windows.shape == (len(scores.windows.scores), len(names))
  for j, indices in enumerate(resolved.class_indices):
    np.testing.assert_array_equal(windows[:, j], scores.windows.scores[:, list(indices)].max(1))
  relabelled = label_sets.relabel(scores, resolved)
  np.testing.assert_array_equal(relabelled.clip, label_sets.label_scores(scores.clip, resolved)[0])
  np.testing.assert_array_equal(relabelled.windows.scores, windows)
  dog = [model.labels.index(n) for n in ("Dog", "Bark", "Bow-wow", "Yip", "Howl", "Growling",
                                         "Whimper (dog)")]
  assert relabelled.clip[names.index("dog")] == scores.clip[dog].max() > 0.1


def test_unknown_class_is_exit_2_with_one_line_naming_file_line_and_a_close_name(
    capsys, tmp_path, model_dir):
  path = write(tmp_path, "name: pets\nlabels:\n  - name: dog\n    classes:\n"
               "      - Dog\n      - Barks\n")
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", str(path),
                     str(asset("audio/esc10/1-100032-A-0.flac"))])
  captured = capsys.readouterr()
  assert status == 2 and captured.out == ""
  (line,) = captured.err.splitlines()
  assert f"{path}:6:" in line and "'Barks'" in line and "'Bark'" in line, line


def test_an_empty_labels_flag_is_a_usage_error_and_labels_under_their_thresholds_say_so(
    capsys, tmp_path, model_dir):
  clip = str(asset("audio/esc10/1-100032-A-0.flac"))
  with pytest.raises(SystemExit) as raised:
    cli.main(["classify", "--model-dir", model_dir, "--labels", "", clip])
  assert raised.value.code == 2 and "argument --labels: empty" in capsys.readouterr().err
  # One label whose own threshold the dog clip's score (> 0.1) cannot reach.
  path = write(tmp_path, "name: strict\nlabels:\n  - name: dog\n    classes: [Dog]\n"
               "    threshold: 1.0\n")
  assert cli.main(["classify", "--model-dir", model_dir, "--labels", str(path), clip]) == 0
  assert capsys.readouterr().out == f"{clip}: (no label reaches its threshold)\n"


@pytest.mark.parametrize("text, expected", [
    ("name: t\nlabels:\n  - name: a\n    clases: [Dog]\n", ":4: unknown key 'clases'"),
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n    threshold: 2\n",
     ":5: 'threshold' must be a score in [0, 1]"),
    ("name: t\nthreshold: 1.5\nlabels:\n  - name: a\n    classes: [Dog]\n",
     ":2: 'threshold' must be a score in [0, 1]"),
    ("name: t\nlabels:\n  - name: 5\n    classes: [Dog]\n", ":3: a label's 'name' must be text, not 5"),
    ('name: t\nlabels:\n  - name: "dog\\tbark"\n    classes: [Dog]\n',
     ":3: label 'dog\\tbark' holds a tab or a line break"),
    ("name: t\nlabels:\n  - name: a\n    classes: [{class: Animal, descendants: true}]\n",
     ":4: label 'a': 'descendants: true' needs AudioSet's ontology.json"),
    ("name: t\nlabels:\n  - name: a\n    classes: [Dog]\n  - name: a\n    classes: [Cat]\n",
     ":5: label 'a' appears twice"),
    ("name: t\nlabels: [\n", ": not valid YAML"),
])
def test_bad_label_sets_are_one_line_naming_file_and_line(tmp_path, yamnet_classes, text,
                                                          expected):
  with pytest.raises(label_sets.LabelSetError) as raised:
    resolve_text(tmp_path, text, yamnet_classes)
  message = str(raised.value)
  assert message.startswith(str(tmp_path / "set.yaml")) and expected in message, message
  assert "\n" not in message


def test_animal_descendants_include_dog_and_bark_not_music():
  ontology = label_sets.read_ontology(asset("audioset/ontology.json"))
  animal = label_sets.branch_names(ontology, "Animal")
  assert {"Animal", "Dog", "Bark", "Domestic animals, pets"} <= animal
  assert "Music" not in animal and "Speech" not in animal
  assert label_sets.branch(ontology, "/m/0jbk") == label_sets.branch(ontology, "Animal")
  assert label_sets.branch(ontology, "Not a class") is None


def test_a_branch_label_resolves_through_the_ontology_with_deny_and_allow(
    tmp_path, yamnet_classes):
  ontology = asset("audioset/ontology.json")
  _, names = yamnet_classes
  resolved = resolve_text(tmp_path, "name: t\nlabels:\n"
                          "  - name: animal\n    classes: [{class: Animal, descendants: true}]\n"
                          "    deny: [{class: Insect, descendants: true}]\n"
                          "  - name: pets\n    classes: [{class: Animal, descendants: true}]\n"
                          "    allow: [Dog, Cat, Music]\n", yamnet_classes, ontology)
  animal = {names[i] for i in resolved.class_indices[0]}
  assert {"Dog", "Bark", "Animal"} <= animal
  assert not {"Music", "Insect", "Mosquito", "Speech"} & animal
  assert {names[i] for i in resolved.class_indices[1]} == {"Dog", "Cat"}
  with pytest.raises(label_sets.LabelSetError, match=r":4: unknown ontology class 'Animl'.*"
                     r"'Animal'"):
    resolve_text(tmp_path, "name: t\nlabels:\n  - name: a\n"
                 "    classes: [{class: Animl, descendants: true}]\n", yamnet_classes, ontology)


def test_classify_labels_esc10_reports_the_category_on_a_few_clips(capsys, model_dir):
  """One real CLI call: the first clip of every ESC-10 category, text and JSON."""
  directory = asset("audio/esc10")
  with open(directory / "esc10.csv", newline="") as stream:
    first = {}
    for row in csv.DictReader(stream):
      first.setdefault(row["category"], str(directory / row["filename"]))
  paths = list(first.values())
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", "esc10", "--json",
                     "--top-k", "10", *paths])
  captured = capsys.readouterr()
  assert status == 0 and captured.err == ""
  records = [json.loads(line) for line in captured.out.splitlines()]
  assert [r["source"] for r in records] == paths
  assert all(r["label_set"] == "esc10" and len(r["predictions"]) == 10 for r in records)
  top1 = [r["predictions"][0]["label"] for r in records]
  hits = sum(label == category for label, category in zip(top1, first))
  assert hits >= 9, list(zip(first, top1))
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", "esc10", paths[0]])
  out = capsys.readouterr().out
  assert status == 0 and out.startswith(f"{paths[0]}: dog: ")


def test_a_label_under_its_threshold_is_not_reported(capsys, tmp_path, model_dir):
  path = write(tmp_path, "name: t\nthreshold: 0.99\nlabels:\n  - name: dog\n"
               "    classes: [Dog, Bark]\n  - name: any\n    classes: [Silence, Dog]\n"
               "    threshold: 0\n")
  clip = str(asset("audio/esc10/1-100032-A-0.flac"))
  status = cli.main(["classify", "--model-dir", model_dir, "--labels", str(path), "--json", clip])
  record = json.loads(capsys.readouterr().out)
  assert status == 0 and [p["label"] for p in record["predictions"]] == ["any"]
