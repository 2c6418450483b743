"""Command-line flags generated from the config dataclasses, so a default exists once.

A config field that a command exposes carries its flag in its metadata
(configs.fields.flag, in configs/params.py, configs/training.py, ...):

  example_hop_seconds: float = dataclasses.field(default=EXAMPLE_HOP_SECONDS, metadata=flag(
      "--example-hop", "hop between 0.96 s examples", unit="s"))

`add_flags(parser, Config)` adds those fields' flags (type, choices and default
from the field, help with the default and its unit); `build(Config, args)`
makes the config from the parsed values, and a value the config's own checks
refuse (its __post_init__) becomes a UsageError naming the flag, which the
command line prints as one usage error, exit 2.  The checks therefore live
once, in the config.
"""

import dataclasses
import re
import typing


class UsageError(ValueError):
  """A flag value that its config refuses: the command prints it as a usage error, exit 2."""


def flag_fields(config_class, names=None):
  """The fields of config_class that have a flag, in declaration order (or `names`' order)."""
  fields = {f.name: f for f in dataclasses.fields(config_class) if "flag" in f.metadata}
  if names is None:
    return list(fields.values())
  missing = [name for name in names if name not in fields]
  if missing:
    raise KeyError(f"{config_class.__name__} has no flag for {missing}")
  return [fields[name] for name in names]


def _value_type(field, config_class):
  kind = typing.get_type_hints(config_class).get(field.name, field.type)
  if typing.get_origin(kind) is typing.Union:       # Optional[int] and the like.
    kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
  return kind


def _default(field):
  if field.default is not dataclasses.MISSING:
    return field.default
  if field.default_factory is not dataclasses.MISSING:
    return field.default_factory()
  return None


def _help(field, default):
  meta = field.metadata
  if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
    return f"{meta['help']} (required)"
  if default is None or default is False:
    return meta["help"]
  unit = f" {meta['unit']}" if meta.get("unit") else ""
  return f"{meta['help']} (default {default}{unit})".replace("%", "%%")


def add_flags(parser, config_class, names=None, title=None):
  """Adds the flags of config_class's fields to an argparse parser.

  Args:
    parser: an argparse parser or argument group.
    config_class: a dataclass whose fields carry flag() metadata.
    names: the fields to expose (default: every field with a flag).
    title: put them in an argument group of this title.

  Returns:
    the parser.
  """
  target = parser.add_argument_group(title) if title else parser
  for field in flag_fields(config_class, names):
    default = _default(field)
    meta = field.metadata
    kind = _value_type(field, config_class)
    options = {"dest": field.name, "help": _help(field, default)}
    if kind is bool:
      options.update(action="store_true", default=bool(default))
    else:
      options.update(type=kind, default=default, metavar=meta.get("metavar"))
      if meta.get("choices"):
        options["choices"] = tuple(meta["choices"])
      if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
        options.update(required=True, default=None)
    target.add_argument(meta["flag"], **options)
  return parser


def build(config_class, args, **fixed):
  """config_class from the parsed flags of its fields (those args has), plus `fixed` values.

  Raises:
    UsageError: the config refused a value (its message, with the flag named).
  """
  values = {field.name: getattr(args, field.name) for field in dataclasses.fields(config_class)
            if hasattr(args, field.name)}
  values.update(fixed)
  try:
    return config_class(**values)
  except ValueError as exc:
    message = str(exc)
    for field in flag_fields(config_class):
      message = re.sub(rf"\b{field.name}\b", field.metadata["flag"], message)
    raise UsageError(message) from None


def model_name(text):
  """argparse type of a model name in the store (e.g. --export NAME): one plain folder name,
  not a known model's (yamnet, vggish, ontology: they hold only their official files)."""
  import argparse
  from soundscope.models.store import files
  try:
    return files.check_not_known(files.check_name(text))
  except ValueError as exc:
    raise argparse.ArgumentTypeError(str(exc)) from None
