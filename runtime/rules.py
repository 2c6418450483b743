"""Per-label rules of live events: threshold, cooldown and destinations (docs/monitoring.md).

A rules file (--rules FILE, YAML) refines the command line's event rules
(--event-enter/--event-exit/--event-min-duration/--event-merge-gap, --cooldown,
--gate-dbfs) for some labels:

  gate_dbfs: -60              # optional: quieter model windows never start or extend events
  default:                    # optional: every label
    cooldown: 10
  labels:
    dog: {threshold: 0.4, cooldown: 30, sinks: [mqtt, history]}
    speech: {threshold: 0.7, exit: 0.5, min_duration: 2}

Per label: threshold (= the event's enter score), exit, min_duration and
merge_gap (seconds; transforms/events.py), cooldown (seconds: an event starting
sooner than this after the end of the previous announced one of its label is
not announced) and sinks (the sink names that get its notices; default all).
Without a file every label follows the command line, which is what makes
live events equal `classify --events` for the same audio.

Every problem is a RulesError of one line naming the file.
"""

import dataclasses
import difflib

import yaml

from soundscope.configs import events as E

FILE_KEYS = ("gate_dbfs", "default", "labels")
RULE_KEYS = {"threshold": "enter", "exit": "exit", "min_duration": "min_duration_seconds",
             "merge_gap": "merge_gap_seconds"}
OTHER_KEYS = ("cooldown", "sinks")


class RulesError(ValueError):
  """A rules file that cannot be used; one line naming the file and the problem."""


@dataclasses.dataclass(frozen=True)
class LabelRule:
  """How one label's events are made and announced.

  Attributes:
    events: configs.events.EventRules (enter = the label's threshold).
    cooldown_seconds: events starting sooner after the previous announced one
      of this label are not announced, seconds >= 0.
    sinks: names of the sinks that get its notices, or None for all.
  """
  events: E.EventRules = E.EventRules()
  cooldown_seconds: float = 0.0
  sinks: tuple = None


@dataclasses.dataclass(frozen=True)
class Rules:
  """Every label's LabelRule and the volume gate.

  Attributes:
    labels: L label names.
    per_label: L LabelRules, index-aligned with labels.
    gate_dbfs: model windows whose RMS is under this (dBFS) score 0 for events; None: no gate.
  """
  labels: tuple
  per_label: tuple
  gate_dbfs: float = None


def _per_label(events, labels):
  """events: one EventRules, or one per label (a label set's own: label_sets.event_rules)."""
  return (events,) * len(labels) if isinstance(events, E.EventRules) else tuple(events)


def uniform(labels, events=E.EventRules(), cooldown_seconds=0.0, gate_dbfs=None):
  """Rules giving every label the command line's EventRules (or its label's, when
  `events` is a tuple of one per label) and cooldown."""
  return Rules(tuple(labels), tuple(LabelRule(rules, float(cooldown_seconds), None)
                                    for rules in _per_label(events, labels)), gate_dbfs)


def load(path, labels, events=E.EventRules(), cooldown_seconds=0.0, gate_dbfs=None,
         sink_names=None):
  """Rules from a YAML file over the command line's defaults.

  Args:
    path: the rules file.
    labels: the label names events are made for (the label set's or the model's).
    events, cooldown_seconds, gate_dbfs: the command line's defaults (events: one
      EventRules, or one per label: a label set's own, label_sets.event_rules).
    sink_names: the sink names a rule may name (None: any).

  Raises:
    RulesError: unreadable file, unknown key or label, a value its config refuses.
  """
  try:
    with open(path, encoding="utf-8") as stream:
      document = yaml.safe_load(stream) or {}
  except OSError as exc:
    raise RulesError(f"{path}: cannot read the rules file ({exc.strerror or exc})") from None
  except yaml.YAMLError as exc:
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark else ""
    raise RulesError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
  if not isinstance(document, dict):
    raise RulesError(f"{path}: a rules file is a mapping with {', '.join(FILE_KEYS)}")
  _check_keys(document, FILE_KEYS, path, "the file")
  gate = document.get("gate_dbfs", gate_dbfs)
  if gate is not None and not isinstance(gate, (int, float)):
    raise RulesError(f"{path}: gate_dbfs must be a number of dBFS, not {gate!r}")
  bases = [_rule(document.get("default") or {}, LabelRule(rules, cooldown_seconds), path,
                 "default", sink_names) for rules in _per_label(events, labels)]
  named = document.get("labels") or {}
  if not isinstance(named, dict):
    raise RulesError(f"{path}: labels must map label names to their rules")
  for name in named:
    if name not in labels:
      close = difflib.get_close_matches(str(name), list(labels), n=1)
      hint = f" (did you mean {close[0]!r}?)" if close else ""
      raise RulesError(f"{path}: label {name!r} is not one of the labels reported{hint}")
  per_label = tuple(_rule(named[label] or {}, base, path, label, sink_names)
                    if label in named else base for label, base in zip(labels, bases))
  return Rules(tuple(labels), per_label, None if gate is None else float(gate))


def _rule(mapping, base, path, where, sink_names):
  if not isinstance(mapping, dict):
    raise RulesError(f"{path}: {where}: rules are a mapping of {', '.join(_all_keys())}")
  _check_keys(mapping, _all_keys(), path, where)
  changes = {RULE_KEYS[key]: _number(mapping[key], path, where, key)
             for key in RULE_KEYS if key in mapping}
  try:
    events = dataclasses.replace(base.events, **changes)
  except ValueError as exc:
    raise RulesError(f"{path}: {where}: {exc}") from None
  cooldown = base.cooldown_seconds
  if "cooldown" in mapping:
    cooldown = _number(mapping["cooldown"], path, where, "cooldown")
    if cooldown < 0:
      raise RulesError(f"{path}: {where}: cooldown must be at least 0 s, not {cooldown}")
  sinks = base.sinks
  if "sinks" in mapping:
    sinks = mapping["sinks"]
    if not isinstance(sinks, list) or not all(isinstance(s, str) for s in sinks):
      raise RulesError(f"{path}: {where}: sinks must be a list of sink names")
    unknown = [s for s in sinks if sink_names is not None and s not in sink_names]
    if unknown:
      raise RulesError(f"{path}: {where}: unknown sink {unknown[0]!r} (sinks here: "
                       f"{', '.join(sink_names)})")
    sinks = tuple(sinks)
  return LabelRule(events, float(cooldown), sinks)


def _all_keys():
  return tuple(RULE_KEYS) + OTHER_KEYS


def _number(value, path, where, key):
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise RulesError(f"{path}: {where}: {key} must be a number, not {value!r}")
  return float(value)


def _check_keys(mapping, allowed, path, where):
  for key in mapping:
    if key not in allowed:
      close = difflib.get_close_matches(str(key), list(allowed), n=1)
      hint = f" (did you mean {close[0]!r}?)" if close else ""
      raise RulesError(f"{path}: {where}: unknown key {key!r}{hint}; known: "
                       f"{', '.join(allowed)}")
