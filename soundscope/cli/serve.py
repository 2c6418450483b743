"""`soundscope serve`: the capture loop plus a web page and DeviceHive notifications.

  soundscope serve [--host 127.0.0.1] [--port 8000] [--state-dir DIR] [capture options]

The page (http://127.0.0.1:8000/) shows the predictions as they come, the
DeviceHive status and the settings form; settings and the outbox of
undelivered notifications live in --state-dir (default $SOUNDSCOPE_STATE_DIR
or ~/.config/soundscope).  After a bounded capture (--duration) the page and
delivery keep running until Ctrl-C or SIGTERM.
"""

import logging
import os
import sys
import threading

from soundscope.runtime import loop as loop_lib
from soundscope.cli import live as live_cli
from soundscope.runtime import session
from soundscope.configs import runtime as S
from soundscope.runtime import sinks as sinks_lib

log = logging.getLogger(__name__)


def add_arguments(parser):
  group = parser.add_argument_group("web page and DeviceHive")
  group.add_argument("--host", default=S.DEFAULT_HOST,
                     help="address to listen on (default %(default)s: this machine only)")
  group.add_argument("--port", type=int, default=S.DEFAULT_PORT,
                     help="port (default %(default)s; 0 picks a free one)")
  group.add_argument("--state-dir", default=None,
                     help="settings (mode 0600) and outbox folder (default "
                          "$SOUNDSCOPE_STATE_DIR or ~/.config/soundscope)")
  group.add_argument("--outbox-size", type=int, default=S.OUTBOX_MAX_NOTIFICATIONS,
                     help="undelivered notifications kept; past it the oldest are dropped "
                          "(default %(default)s)")
  return live_cli.add_arguments(parser)


def build_services(state_dir, outbox_size):
  """(ConfigStore, Courier) on the state folder."""
  from soundscope.runtime import config as config_lib
  from soundscope.runtime import courier as courier_lib
  from soundscope.runtime import outbox as outbox_lib
  os.makedirs(state_dir, mode=0o700, exist_ok=True)
  store = config_lib.ConfigStore(os.path.join(state_dir, S.CONFIG_FILE))
  outbox = outbox_lib.Outbox(os.path.join(state_dir, S.OUTBOX_FILE), outbox_size)
  return store, courier_lib.Courier(outbox, store.load())


def _is_loopback(host):
  import ipaddress
  if host == "localhost":
    return True
  try:
    return ipaddress.ip_address(host).is_loopback
  except ValueError:
    return False


def start_web(app, host, port):
  """Serves the app on a thread; returns the werkzeug server (server.port is the real port)."""
  from werkzeug import serving
  server = serving.make_server(host, port, app, threaded=True)
  thread = threading.Thread(target=server.serve_forever, name="soundscope-web", daemon=True)
  thread.start()
  return server


def run(args):
  from soundscope.runtime import devices
  from soundscope.runtime import web
  from soundscope.runtime.web import hub as hub_lib
  classifier, status = live_cli.prepare(args, "serve")
  if classifier is None:
    return status
  state_dir = args.state_dir or S.default_state_dir()
  from soundscope.runtime import outbox as outbox_lib
  try:
    config_store, courier = build_services(state_dir, args.outbox_size)
  except (ValueError, OSError, outbox_lib.OutboxError) as exc:
    # A damaged settings file or outbox, a read-only folder, another serve on the folder.
    live_cli.error("serve", exc)
    return 1
  hub = hub_lib.EventHub()
  sinks = sinks_lib.SinkSet([sinks_lib.ConsoleSink(sys.stdout), sinks_lib.WebSink(hub),
                             sinks_lib.DeviceHiveSink(courier)])
  try:
    live = session.LiveSession(args, classifier, sinks)
  except NotADirectoryError as exc:
    sinks.close()
    live_cli.error("serve", exc)
    return 1
  app = web.create_app(hub, config_store, courier, live.status,
                       S.LOOPBACK_HOST_NAMES if _is_loopback(args.host) else None)
  try:
    server = start_web(app, args.host, args.port)
  except (OSError, SystemExit) as exc:   # Port in use (werkzeug says so and exits), bad address.
    sinks.close()
    reason = "see above" if isinstance(exc, SystemExit) else str(exc)
    live_cli.error("serve", f"cannot listen on {args.host}:{args.port} ({reason})")
    return 1
  print(f"soundscope serve: http://{args.host}:{server.port}/", file=sys.stderr, flush=True)
  if not _is_loopback(args.host):
    print(f"soundscope serve: warning: listening on {args.host}: anyone who can reach it can "
          f"see the predictions and change the DeviceHive settings", file=sys.stderr)
  live.install_signal_handlers()
  status = 0
  try:
    live.run()
    if not live.stopped_by_signal():
      live.wait_for_signal()
  except (devices.CaptureError, loop_lib.LoopError) as exc:
    live_cli.error("serve", exc)
    status = 1
  finally:
    sinks.close()        # Ends the pages' event streams, delivers what it can in time.
    server.shutdown()
  print(live.summary(), file=sys.stderr)
  return status
