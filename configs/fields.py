"""How a config field says which command-line flag sets it (read by soundscope/cli/flags.py).

A plain dict in the field's metadata: the configs stay free of argparse, and
each default still lives once, as the field's default.
"""


def flag(name, help_text, unit=None, choices=None, metavar=None):
  """Metadata of a config field exposed as a command-line flag.

  Args:
    name: the flag, e.g. "--example-hop".
    help_text: what it sets, without the default (added from the field).
    unit: the value's unit for the help ("s", "Hz", ...), or None.
    choices: the accepted values, or None.
    metavar: the value's name in the usage line, or None.

  Returns:
    dict for dataclasses.field(metadata=...).
  """
  return {"flag": name, "help": help_text, "unit": unit, "choices": choices,
          "metavar": metavar}
