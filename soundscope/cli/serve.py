"""`soundscope serve`: the capture loop plus a web page, a history and DeviceHive notifications.

  soundscope serve [--host 127.0.0.1] [--port 8000] [--state-dir DIR] [capture options]
                   [--history-window-days 30] [--save-max-days 7] [--save-max-mb 5000]
                   [--allow-remote --page-password-file FILE]

The page (http://127.0.0.1:8000/) shows the predictions as they come, a
timeline and the events from the history, the status and the settings;
settings, the outbox of undelivered notifications and the history
(history.sqlite3) live in --state-dir (default $SOUNDSCOPE_STATE_DIR or
~/.config/soundscope).  The page is served on loopback only unless
--allow-remote is given with a page password (--page-password-file or
$SOUNDSCOPE_PAGE_PASSWORD).  After a bounded capture (--duration) the page and
delivery keep running until Ctrl-C or SIGTERM.
"""

import logging
import os
import sys
import threading

from soundscope.cli import flags
from soundscope.cli import live as live_cli
from soundscope.configs import history as H
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import session
from soundscope.configs import runtime as S
from soundscope.runtime import sinks as sinks_lib

log = logging.getLogger(__name__)


def add_arguments(parser):
  group = parser.add_argument_group("web page and DeviceHive")
  group.add_argument("--host", default=S.DEFAULT_HOST,
                     help="address to listen on (default %(default)s: this machine only)")
  group.add_argument("--port", type=live_cli.port_number, default=S.DEFAULT_PORT,
                     help="port (default %(default)s; 0 picks a free one)")
  group.add_argument("--state-dir", default=None,
                     help="settings (mode 0600), outboxes and history folder (default "
                          "$SOUNDSCOPE_STATE_DIR or ~/.config/soundscope)")
  group.add_argument("--outbox-size", type=int, default=S.OUTBOX_MAX_NOTIFICATIONS,
                     help="undelivered notifications kept; past it the oldest are dropped "
                          "(default %(default)s)")
  flags.add_flags(group, H.PageOptions)
  flags.add_flags(parser, H.HistoryOptions, title="history and saved windows")
  return live_cli.add_arguments(parser)


def page_password(args):
  """The page password (file or environment), or None; raises flags.UsageError when the
  host is not loopback without --allow-remote and a password."""
  from soundscope.runtime import credentials
  try:
    password = credentials.read_secret(args.page_password_file, H.PAGE_PASSWORD_ENV)
  except credentials.SecretError as exc:
    raise flags.UsageError(f"--page-password-file {exc}") from None
  if not _is_loopback(args.host):
    if not args.allow_remote:
      raise flags.UsageError(f"--host {args.host} is not a loopback address: the page would be "
                             f"open to the network; add --allow-remote and a page password")
    if not password:
      raise flags.UsageError(f"--allow-remote needs a page password: --page-password-file "
                             f"FILE or ${H.PAGE_PASSWORD_ENV}")
  return password


def settings_view(args):
  """The run's settings for the page: plain values, no secret, URLs without credentials."""
  from soundscope.runtime import credentials
  view = {}
  for name, value in sorted(vars(args).items()):
    if any(word in name for word in ("password", "token", "secret")):
      continue
    if name == "label_set":
      value = value.name if value is not None else None
    if isinstance(value, str) and "://" in value:
      value = credentials.public_url(value)
    if value is None or isinstance(value, (str, int, float, bool)):
      view[name] = value
  return view


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
  if not logging.getLogger().isEnabledFor(logging.INFO):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # No line per request unless -v.
  server = serving.make_server(host, port, app, threaded=True)
  thread = threading.Thread(target=server.serve_forever, name="soundscope-web", daemon=True)
  thread.start()
  return server


def open_history(state_dir, options):
  """History and its sink, or (None, None) with --no-history."""
  from soundscope.runtime import history as history_lib
  if options.no_history:
    return None, None
  history = history_lib.History(os.path.join(state_dir, H.HISTORY_FILE), options)
  return history, history_lib.HistorySink(history)


def run(args):
  from soundscope.runtime import credentials
  from soundscope.runtime import devices
  from soundscope.runtime import history as history_lib
  from soundscope.runtime import web
  from soundscope.runtime.web import hub as hub_lib
  credentials.install_log_redaction()
  if not args.list_devices:
    try:
      password = page_password(args)
      history_options = flags.build(H.HistoryOptions, args)
    except flags.UsageError as exc:
      live_cli.error("serve", exc)
      return 2
  classifier, status = live_cli.prepare(args, "serve")
  if classifier is None:
    return status
  state_dir = args.state_dir or S.default_state_dir()
  from soundscope.runtime import outbox as outbox_lib
  try:
    live_cli.make_state_dir(state_dir, "--state-dir" if args.state_dir else
                            f"the state folder (${S.STATE_DIR_ENV})")
    config_store, courier = build_services(state_dir, args.outbox_size)
    history, history_sink = open_history(state_dir, history_options)
    extra = live_cli.sinks(args, state_dir)     # --jsonl, --mqtt.
  except (ValueError, OSError, outbox_lib.OutboxError, history_lib.HistoryError) as exc:
    # A damaged settings file, outbox or history, a read-only folder, another serve on it.
    live_cli.error("serve", exc)
    return 1
  hub = hub_lib.EventHub()
  sinks = sinks_lib.SinkSet([sinks_lib.ConsoleSink(sys.stdout, events=args.events),
                             sinks_lib.WebSink(hub),
                             sinks_lib.DeviceHiveSink(courier, windows=args.notify_windows)]
                            + extra + ([history_sink] if history_sink else []))
  try:
    live = session.LiveSession(args, classifier, sinks, history=history,
                               history_options=history_options)
  except NotADirectoryError as exc:
    sinks.close()
    live_cli.error("serve", exc)
    return 1
  app = web.create_app(hub, config_store, courier, live.status,
                       S.LOOPBACK_HOST_NAMES if _is_loopback(args.host) else None,
                       history=history, save_path=args.save_path,
                       settings=settings_view(args), page_password=password)
  try:
    server = start_web(app, args.host, args.port)
  except (OSError, SystemExit) as exc:   # Port in use (werkzeug says so and exits), bad address.
    sinks.close()
    reason = "see above" if isinstance(exc, SystemExit) else str(exc)
    live_cli.error("serve", f"cannot listen on {args.host}:{args.port} ({reason})")
    return 1
  host = f"[{args.host}]" if ":" in args.host else args.host
  print(f"soundscope serve: http://{host}:{server.port}/", file=sys.stderr, flush=True)
  if not _is_loopback(args.host):
    print(f"soundscope serve: warning: listening on {args.host}: anyone who can reach it and "
          f"has the page password can see the predictions and change the DeviceHive settings",
          file=sys.stderr)
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
