"""The fixed mapping from YAMNet's classes to the ten ESC-10 categories, read from
the built-in label set configs/label_sets/esc10.yaml (its one copy).

A clip's score for a category is the highest clip score among the YAMNet
classes mapped to it, and the predicted category is the one with the highest
score: what models/label_sets.py computes for `soundscope classify --labels
esc10` and the accuracy checks (tests/test_yamnet_esc10.py, which also checks
that this dict and the label set agree).  The file lists
plain display names only, so this reads it with yaml.safe_load, without the
label-set parser of models/ (configs sits below models).
"""

import pathlib

import yaml

ESC10_LABEL_SET = pathlib.Path(__file__).resolve().parent / "label_sets" / "esc10.yaml"


def _read_mapping(path=ESC10_LABEL_SET):
  """{ESC-10 category: tuple of YAMNet display names} from the label-set file."""
  with open(path, encoding="utf-8") as stream:
    document = yaml.safe_load(stream)
  return {label["name"]: tuple(label["classes"]) for label in document["labels"]}


# ESC-10 category (esc10.csv `category`) -> YAMNet display names (yamnet_class_map.csv).
ESC10_TO_YAMNET = _read_mapping()
