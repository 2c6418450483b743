"""`soundscope capture`: classify the microphone every 5-7 s and print each window.

  soundscope capture [--min-time 5] [--max-time 7] [--save-path DIR]
                     [--device N|NAME] [--list-devices] [--model NAME] [--model-dir DIR]
                     [--top-k 3] [--threshold 0.0] [--duration SECONDS]

Each window prints one line, '<UTC end>  Speech: 0.75, Music: 0.12, ...'.
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
  classifier, status = live_cli.prepare(args, "capture")
  if classifier is None:
    return status
  sinks = sinks_lib.SinkSet([sinks_lib.ConsoleSink(sys.stdout)])
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
