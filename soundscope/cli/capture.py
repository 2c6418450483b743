"""`soundscope capture`: classify an audio input every 5-7 s and print each window.

  soundscope capture [--input device|FILE|-|URL] [--realtime] [--min-time 5] [--max-time 7]
                     [--save-path DIR] [--device N|NAME] [--list-devices] [--model NAME]
                     [--model-dir DIR] [--labels SET] [--top-k 3] [--threshold 0.0]
                     [--duration SECONDS] [--events] [--rules FILE] [--gate-dbfs DB]
                     [--mqtt mqtt://host:port/prefix] [--jsonl FILE] [--notify-windows]

Each window prints one line, '<UTC end>  Speech: 0.75, Music: 0.12, ...'; with
--events each sound event's start and end prints a line too.  Events (and
windows with --notify-windows) go to --mqtt and --jsonl (docs/monitoring.md).
Ctrl-C or SIGTERM stops after the window in progress.
"""

import os
import sys

from soundscope.runtime import loop as loop_lib
from soundscope.cli import live as live_cli
from soundscope.runtime import session
from soundscope.runtime import sinks as sinks_lib


def add_arguments(parser):
  return live_cli.add_arguments(parser)


def run(args):
  from soundscope.runtime import devices
  from soundscope.runtime import outbox as outbox_lib
  classifier, status = live_cli.prepare(args, "capture")
  if classifier is None:
    return status
  try:
    extra = live_cli.sinks(args)
  except (OSError, ValueError, outbox_lib.OutboxError) as exc:   # ValueError: MqttRefused.
    live_cli.error("capture", exc)
    return 1
  sinks = sinks_lib.SinkSet([sinks_lib.ConsoleSink(sys.stdout, events=args.events)] + extra)
  try:
    live = session.LiveSession(args, classifier, sinks)
    live.install_signal_handlers()
    live.run()
  except (devices.CaptureError, loop_lib.LoopError, NotADirectoryError) as exc:
    live_cli.error("capture", exc)
    return 1
  except sinks_lib.OutputClosed:
    # `soundscope capture | head -3`: the reader is done, and so is the capture.
    # stdout goes to /dev/null, so that Python's flush at exit does not complain.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
  finally:
    sinks.close()
  print(live.summary(), file=sys.stderr)
  return 0
