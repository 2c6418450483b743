"""Label sets: a model's classes grouped into the labels a user reports.

A label set is a YAML file (docs/labels.md):

  name: home                    # the set's name (reported as `label_set`)
  description: ...              # optional, free text
  threshold: 0.1                # optional: default reporting threshold of every label (0.0)
  labels:
    - name: dog                 # the label reported
      classes: [Dog, Bark, /m/0ghcn6]           # display names or AudioSet MIDs
      threshold: 0.2            # optional: reported only when scoring at least this
    - name: animal
      classes:
        - {class: Animal, descendants: true}    # a whole AudioSet ontology branch
      deny: [{class: Insect, descendants: true}]  # optional: classes taken out
      allow: [Dog, Cat, Bird]   # optional: only these of the resolved classes count

A class entry is a display name or MID of one of the model's classes, or a
mapping {class: NAME|MID, descendants: true} naming a node of AudioSet's
ontology (ontology.json: child_ids): the node and everything under it, kept
where the model has the class (by MID, or by name when the model has no MIDs).
A label's classes are (classes) minus (deny), and, with `allow`, only those also
in (allow).  A label's score is the best (max) of its classes' scores.

  load(spec)                           LabelSet from a file path or a built-in name
                                       (configs/label_sets/NAME.yaml: esc10, home,
                                       audioset-top)
  resolve(label_set, names, mids, ontology_path)   ResolvedLabelSet: model class
                                       indices per label
  for_classifier(spec, classifier, ontology_path)  both, for a Classifier (the commands
                                       take the ontology from the model store by
                                       default: soundscope/cli/labels.py)
  label_scores(scores, resolved)       float32 [..., C] class scores -> [..., L]
  relabel(scores, resolved)            scoring.Scores over classes -> over labels

Every problem is a LabelSetError (a ValueError) of one line naming the file and
the line (`esc10.yaml:7: unknown class 'Dgo' in label 'dog' (did you mean
'Dog'?)`).
"""

import dataclasses
import difflib
import json
import os
import pathlib

import numpy as np
import yaml

from soundscope.configs import events as E
from soundscope.transforms import event_tables

SUFFIXES = (".yaml", ".yml")
SET_KEYS = ("name", "description", "threshold", "events", "labels")
LABEL_KEYS = ("name", "classes", "threshold", "events", "allow", "deny")
CLASS_KEYS = ("class", "descendants")
# `events:` keys -> configs.events.EventRules fields (a label's own event rules).
EVENT_KEYS = {"enter": "enter", "exit": "exit", "min_duration": "min_duration_seconds",
              "merge_gap": "merge_gap_seconds", "bounds": "bounds", "compete": "compete",
              "compete_mean": "compete_mean", "exclusive": "exclusive"}
RATIO_KEYS = ("compete", "compete_mean")   # `events:` keys whose value is a ratio in [0, 1].
FLAG_KEYS = ("exclusive",)                 # `events:` keys whose value is true or false.
EVENT_CHOICES = {"bounds": E.BOUNDS}   # `events:` keys whose value is a word, with its choices.


class LabelSetError(ValueError):
  """A label set that cannot be read or resolved; one line naming the file and line."""


@dataclasses.dataclass(frozen=True)
class ClassRef:
  """One class entry: `text` a display name or MID, `descendants` its whole
  ontology branch, `line` its 1-based line in the file."""
  text: str
  descendants: bool
  line: int


@dataclasses.dataclass(frozen=True)
class LabelSpec:
  """One label as written: its classes, reporting threshold (score in [0, 1]),
  optional allow/deny class entries and its event rules: ((EventRules field,
  value), ...) from the set's and its own `events:` (the label's win)."""
  name: str
  classes: tuple
  threshold: float
  allow: tuple
  deny: tuple
  line: int
  events: tuple = ()


@dataclasses.dataclass(frozen=True)
class LabelSet:
  """A parsed label-set file; `source` is its path, used in every error."""
  name: str
  labels: tuple
  source: str
  description: str = ""


@dataclasses.dataclass(frozen=True)
class ResolvedLabelSet:
  """A label set bound to one model's classes.

  Attributes:
    name: the set's name.
    labels: L label names, index-aligned with label scores.
    class_indices: L tuples of the model's class indices (each non-empty).
    thresholds: float32 [L] reporting thresholds, scores in [0, 1].
    events: L tuples of (configs.events.EventRules field, value): each label's
      own event rules (event_rules()).
  """
  name: str
  labels: tuple
  class_indices: tuple
  thresholds: np.ndarray
  events: tuple = ()

  def reportable(self, scores):
    """float32 [..., L] label scores with those under their label's threshold set
    to -inf, so that top-k selection (classifier.top_k) never reports them (NaN, a
    window not classified, models/scoring.py min_level_dbfs, stays NaN)."""
    scores = np.asarray(scores, np.float32)
    return np.where((scores >= self.thresholds) | np.isnan(scores), scores,
                    np.float32(-np.inf))


# ---------------------------------------------------------------- reading YAML

class _Text(str):
  """A YAML string that remembers its 1-based line."""
  line = 0


class _Map(dict):
  """A YAML mapping that remembers its 1-based line."""
  line = 0


class _Loader(yaml.SafeLoader):
  """SafeLoader whose strings and mappings carry their line numbers."""


def _construct_text(loader, node):
  text = _Text(loader.construct_scalar(node))
  text.line = node.start_mark.line + 1
  return text


def _construct_map(loader, node):
  mapping = _Map(loader.construct_mapping(node, deep=True))
  mapping.line = node.start_mark.line + 1
  return mapping


_Loader.add_constructor("tag:yaml.org,2002:str", _construct_text)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def builtin_dir():
  """The folder of the built-in label sets (configs/label_sets/)."""
  from soundscope import configs
  return pathlib.Path(configs.__file__).resolve().parent / "label_sets"


def builtin_names():
  """Names of the built-in label sets, sorted."""
  return sorted(path.stem for path in builtin_dir().glob("*.yaml"))


def path_of(spec):
  """The file of a label set given as a path or a built-in name.

  Raises:
    LabelSetError: neither an existing file nor a built-in name.
  """
  spec = os.fspath(spec)
  if os.path.isfile(spec):
    return pathlib.Path(spec)
  if spec in builtin_names():
    return builtin_dir() / f"{spec}.yaml"
  kind = "file" if spec.endswith(SUFFIXES) or os.sep in spec else "built-in label set"
  raise LabelSetError(f"{spec}: no such {kind} (built-in label sets: "
                      f"{', '.join(builtin_names())}; or give a .yaml file)")


def load(spec):
  """Parses a label set (a file path or a built-in name) into a LabelSet.

  Raises:
    LabelSetError naming the file and line: bad YAML, a missing or unknown
    key, a bad threshold, no labels, a repeated label name.
  """
  path = path_of(spec)
  try:
    with open(path, encoding="utf-8") as stream:
      document = yaml.load(stream, Loader=_Loader)  # nosec: a SafeLoader subclass.
  except yaml.YAMLError as exc:
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark else ""
    raise LabelSetError(f"{path}{where}: not valid YAML: "
                        f"{getattr(exc, 'problem', None) or exc}") from None
  except (OSError, UnicodeDecodeError) as exc:
    raise LabelSetError(f"{path}: cannot read: {exc}") from None
  return _label_set(document, str(path))


def _label_set(document, source):
  if not isinstance(document, dict):
    raise LabelSetError(f"{source}:1: a label set is a mapping with 'name' and 'labels'")
  _check_keys(document, SET_KEYS, source, "label set")
  name = _required_text(document, "name", source, "label set")
  default = _threshold(document, source, 0.0)
  default_events = _events(document, source, {}, "the label set")
  labels = document.get("labels")
  if not isinstance(labels, list) or not labels:
    raise LabelSetError(f"{source}:{_line(document)}: 'labels' must be a non-empty list")
  specs = tuple(_label(item, source, default, default_events) for item in labels)
  _check_unique(specs, source)
  return LabelSet(str(name), specs, source, str(document.get("description") or ""))


def _label(item, source, default_threshold, default_events):
  if not isinstance(item, dict):
    raise LabelSetError(f"{source}:{_line(item)}: a label is a mapping with 'name' and "
                        f"'classes', not {item!r}")
  _check_keys(item, LABEL_KEYS, source, "label")
  name = _required_text(item, "name", source, "label")
  problem = event_tables.label_problem(name)
  if problem:
    raise LabelSetError(f"{source}:{_key_line(item, 'name')}: {problem}")
  where = f"label {name!r}"
  classes = _class_refs(item.get("classes"), source, item, where, required=True)
  events = _events(item, source, default_events, where)
  return LabelSpec(str(name), classes, _threshold(item, source, default_threshold),
                   _class_refs(item.get("allow"), source, item, where),
                   _class_refs(item.get("deny"), source, item, where), item.line,
                   tuple(sorted(events.items())))


def _events(mapping, source, inherited, where):
  """{EventRules field: value} of a mapping's `events:` over the inherited ones.

  Raises:
    LabelSetError naming the line: unknown key, a value that is not a number or
    out of range, an exit above the enter.
  """
  entry = mapping.get("events")
  if entry is None:
    return dict(inherited)
  line = _line(entry) if isinstance(entry, dict) else _line(mapping)
  if not isinstance(entry, dict) or not entry:
    raise LabelSetError(f"{source}:{line}: {where}: 'events' is a mapping of "
                        f"{', '.join(EVENT_KEYS)}")
  _check_keys(entry, tuple(EVENT_KEYS), source, "events mapping")
  events = dict(inherited)
  for key, value in entry.items():
    if key in EVENT_CHOICES:
      if value not in EVENT_CHOICES[key]:
        raise LabelSetError(f"{source}:{line}: {where}: events {key!r} must be one of "
                            f"{', '.join(EVENT_CHOICES[key])}, not {value!r}")
      events[EVENT_KEYS[key]] = value
      continue
    if key in FLAG_KEYS:
      if not isinstance(value, bool):
        raise LabelSetError(f"{source}:{line}: {where}: events {key!r} must be true or false, "
                            f"not {value!r}")
      events[EVENT_KEYS[key]] = value
      continue
    bounds = (0.0, 1.0) if key in ("enter", "exit") + RATIO_KEYS else (0.0, float("inf"))
    if (isinstance(value, bool) or not isinstance(value, (int, float))
        or not bounds[0] <= value <= bounds[1] or (key == "enter" and value == 0)):
      kind = "a score in (0, 1]" if key == "enter" else (
          "a score in [0, 1]" if key == "exit" else "a ratio in [0, 1]" if key in RATIO_KEYS
          else "a number of seconds >= 0")
      raise LabelSetError(f"{source}:{line}: {where}: events {key!r} must be {kind}, "
                          f"not {value!r}")
    events[EVENT_KEYS[key]] = float(value)
  if "enter" in events and "exit" in events and events["exit"] > events["enter"]:
    raise LabelSetError(f"{source}:{line}: {where}: events exit {events['exit']:g} is above "
                        f"enter {events['enter']:g} (an event starts at enter and goes on "
                        f"while scores stay at exit: exit must be at most enter)")
  return events

def _class_refs(entries, source, parent, where, required=False):
  if entries is None and not required:
    return ()
  if not isinstance(entries, list) or not entries:
    raise LabelSetError(f"{source}:{_line(parent)}: {where}: class lists must be non-empty "
                        f"lists of class names, MIDs or {{class: ..., descendants: true}}")
  return tuple(_class_ref(entry, source, parent, where) for entry in entries)


def _class_ref(entry, source, parent, where):
  if isinstance(entry, str):
    return ClassRef(str(entry), False, getattr(entry, "line", _line(parent)))
  if isinstance(entry, dict):
    _check_keys(entry, CLASS_KEYS, source, "class entry")
    text = _required_text(entry, "class", source, "class entry")
    descendants = entry.get("descendants", False)
    if not isinstance(descendants, bool):
      raise LabelSetError(f"{source}:{_line(entry)}: {where}: 'descendants' must be true "
                          f"or false, not {descendants!r}")
    return ClassRef(str(text), descendants, text.line)
  raise LabelSetError(f"{source}:{_line(parent)}: {where}: a class is a name, a MID or "
                      f"{{class: ..., descendants: true}}, not {entry!r}")


def _threshold(mapping, source, default):
  value = mapping.get("threshold", default)
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
    raise LabelSetError(f"{source}:{_key_line(mapping, 'threshold')}: 'threshold' must be a "
                        f"score in [0, 1], not {value!r}")
  return float(value)


def _required_text(mapping, key, source, what):
  value = mapping.get(key)
  if value is not None and not isinstance(value, str):
    raise LabelSetError(f"{source}:{_key_line(mapping, key)}: a {what}'s {key!r} must be "
                        f"text, not {value!r}")
  if value is None or not value.strip():
    raise LabelSetError(f"{source}:{_key_line(mapping, key)}: a {what} needs a non-empty "
                        f"{key!r}")
  return value


def _check_keys(mapping, allowed, source, what):
  for key in mapping:
    if key not in allowed:
      raise LabelSetError(f"{source}:{getattr(key, 'line', _line(mapping))}: unknown key "
                          f"{key!r} in a {what}{_suggest(str(key), allowed)}")


def _check_unique(specs, source):
  seen = set()
  for spec in specs:
    if spec.name in seen:
      raise LabelSetError(f"{source}:{spec.line}: label {spec.name!r} appears twice")
    seen.add(spec.name)


def _line(value):
  return getattr(value, "line", 1)


def _key_line(mapping, key):
  """The line of `key` in a YAML mapping (of the mapping itself when the key is absent)."""
  for found in mapping:
    if found == key:
      return getattr(found, "line", _line(mapping))
  return _line(mapping)


def _suggest(text, choices):
  close = difflib.get_close_matches(text, list(choices), n=3)
  if not close:
    return ""
  return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


# ------------------------------------------------------------------- ontology

@dataclasses.dataclass(frozen=True)
class Ontology:
  """AudioSet's ontology: by_id {mid: node dict}, mid_of {name: mid}."""
  by_id: dict
  mid_of: dict


def read_ontology(path):
  """Reads AudioSet's ontology.json (632 nodes with id, name, child_ids).

  Raises:
    LabelSetError: the file cannot be read or is not a list of nodes.
  """
  try:
    with open(path, encoding="utf-8") as stream:
      nodes = json.load(stream)
    by_id = {node["id"]: node for node in nodes}
    return Ontology(by_id, {node["name"]: node["id"] for node in nodes})
  except (OSError, ValueError, KeyError, TypeError) as exc:
    raise LabelSetError(f"{path}: not AudioSet's ontology.json: {exc}") from None


def branch(ontology, key):
  """MIDs of an ontology node (by name or MID) and every node below it (child_ids).

  Returns:
    set of str MIDs, the node's own included; None when no node has that name or MID.
  """
  root = key if key in ontology.by_id else ontology.mid_of.get(key)
  if root is None:
    return None
  found, todo = set(), [root]
  while todo:
    mid = todo.pop()
    if mid not in found and mid in ontology.by_id:
      found.add(mid)
      todo.extend(ontology.by_id[mid].get("child_ids", ()))
  return found


def branch_names(ontology, key):
  """Display names of branch(ontology, key) (None when the node is unknown)."""
  mids = branch(ontology, key)
  return None if mids is None else {ontology.by_id[mid]["name"] for mid in mids}


# ------------------------------------------------------------------ resolving

class _Vocabulary:
  """A model's classes by display name and by MID, and an optional ontology."""

  def __init__(self, names, mids, ontology):
    self.names = list(names)
    self.index_of = {name: i for i, name in enumerate(self.names)}
    self.index_of.update({mid: i for i, mid in enumerate(mids or ()) if mid})
    self.has_mids = any(mids or ())
    self.ontology = ontology

  def indices(self, ref, source, where):
    """Model class indices of one ClassRef (a set of int)."""
    if not ref.descendants:
      if ref.text not in self.index_of:
        raise LabelSetError(f"{source}:{ref.line}: unknown class {ref.text!r} in {where}"
                            f"{_suggest(ref.text, self.names) or ' (not a class of the model)'}")
      return {self.index_of[ref.text]}
    return self._branch_indices(ref, source, where)

  def _branch_indices(self, ref, source, where):
    if self.ontology is None:
      raise LabelSetError(f"{source}:{ref.line}: {where}: 'descendants: true' needs AudioSet's "
                          f"ontology.json, and the model store has none: run `soundscope "
                          f"models download ontology` or `soundscope models import "
                          f"ontology.json`, or give --ontology FILE")
    mids = branch(self.ontology, ref.text)
    if mids is None:
      raise LabelSetError(f"{source}:{ref.line}: unknown ontology class {ref.text!r} in {where}"
                          f"{_suggest(ref.text, self.ontology.mid_of)}")
    keys = mids if self.has_mids else {self.ontology.by_id[m]["name"] for m in mids}
    found = {self.index_of[key] for key in keys if key in self.index_of}
    if not found:
      raise LabelSetError(f"{source}:{ref.line}: {where}: no class of the model is in the "
                          f"ontology branch {ref.text!r}")
    return found


def resolve(label_set, class_names, class_mids=(), ontology_path=None):
  """Binds a LabelSet to a model's classes.

  Args:
    label_set: a LabelSet (load()).
    class_names: the model's C display names, in score order.
    class_mids: its C AudioSet MIDs ('' or empty when unknown).
    ontology_path: AudioSet's ontology.json, read only when an entry has
      `descendants: true`.

  Returns:
    ResolvedLabelSet.

  Raises:
    LabelSetError naming the file and line: an unknown class (with the closest
    real names), a branch without the ontology, a label left with no class.
  """
  ontology = (read_ontology(ontology_path) if needs_ontology(label_set) and ontology_path
              else None)
  vocabulary = _Vocabulary(class_names, class_mids, ontology)
  indices = tuple(_label_indices(spec, vocabulary, label_set.source)
                  for spec in label_set.labels)
  return ResolvedLabelSet(label_set.name, tuple(spec.name for spec in label_set.labels),
                          indices, np.array([s.threshold for s in label_set.labels], np.float32),
                          tuple(spec.events for spec in label_set.labels))


def _label_indices(spec, vocabulary, source):
  where = f"label {spec.name!r}"

  def union(refs):
    return set().union(*(vocabulary.indices(ref, source, where) for ref in refs))

  chosen = union(spec.classes) - union(spec.deny)
  if spec.allow:
    chosen &= union(spec.allow)
  if not chosen:
    raise LabelSetError(f"{source}:{spec.line}: {where} has no class left after allow/deny")
  return tuple(sorted(chosen))


def needs_ontology(label_set):
  """Whether a LabelSet has a class entry with `descendants: true`."""
  return any(ref.descendants for spec in label_set.labels
             for ref in spec.classes + spec.allow + spec.deny)


def for_classifier(spec, classifier, ontology_path=None):
  """load(spec) resolved against a classifier.Classifier's labels (and mids, when it has them).

  spec: a path, a built-in name or a LabelSet already loaded.
  """
  label_set = spec if isinstance(spec, LabelSet) else load(spec)
  return resolve(label_set, classifier.labels, getattr(classifier, "mids", ()), ontology_path)


# --------------------------------------------------------------------- events

def event_rules(resolved, rules):
  """The event rules of each label: `rules` (the command's) with the label's own `events:`.

  A label that sets enter but not exit gets exit min(rules.exit, enter); one that
  sets exit but not enter gets enter max(rules.enter, exit).

  Args:
    resolved: a ResolvedLabelSet, or None.
    rules: configs.events.EventRules.

  Returns:
    `rules` itself when no label has its own (or resolved is None), else a tuple
    of L EventRules, index-aligned with the labels.
  """
  if resolved is None or not any(resolved.events):
    return rules
  out = []
  for own in resolved.events:
    changes = dict(own)
    if "enter" in changes and "exit" not in changes:
      changes["exit"] = min(rules.exit, changes["enter"])
    if "exit" in changes and "enter" not in changes:
      changes["enter"] = max(rules.enter, changes["exit"])
    out.append(dataclasses.replace(rules, **changes))
  return tuple(out)


# -------------------------------------------------------------------- scoring

def label_scores(scores, resolved):
  """Class scores -> label scores: each label's score is the max of its classes'.

  Args:
    scores: float [..., C] class scores (a clip's [C], windows' [w, C], ...).
    resolved: a ResolvedLabelSet for the model that made them.

  Returns:
    (float32 [..., L] label scores, L label names).
  """
  scores = np.asarray(scores, np.float32)
  columns = [scores[..., list(indices)].max(axis=-1) for indices in resolved.class_indices]
  return np.stack(columns, axis=-1).astype(np.float32), list(resolved.labels)


def relabel(scores, resolved):
  """A scoring.Scores over the model's classes -> the same over the set's labels:
  clip [C] -> [L] and, when present, windows' scores [w, C] -> [w, L] (times kept)."""
  clip, _ = label_scores(scores.clip, resolved)
  windows = scores.windows
  if windows is not None:
    windows = windows._replace(scores=label_scores(windows.scores, resolved)[0])
  return scores._replace(clip=clip, windows=windows)


def reported(scores, resolved):
  """What a command reports of a scoring.Scores: the model's classes (resolved is None),
  or the set's labels (max of their classes) with those under their label's threshold
  at -inf, so that top-k selection (classifier.top_k) never reports them.

  The one place classify, predict and the live loop turn class scores into label scores.
  """
  if resolved is None:
    return scores
  scores = relabel(scores, resolved)
  windows = scores.windows
  if windows is not None:
    windows = windows._replace(scores=resolved.reportable(windows.scores))
  return scores._replace(clip=resolved.reportable(scores.clip), windows=windows)


def label_names(resolved, classifier):
  """The names reported scores are aligned with: the set's labels, or the model's classes."""
  return classifier.labels if resolved is None else list(resolved.labels)
