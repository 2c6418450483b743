"""What the `capture` and `serve` commands share: their flags, their start and their sinks.

Their flags come from the configs (configs.runtime.CaptureOptions,
configs.monitoring.MonitoringOptions: --input, events, rules, MQTT, JSON lines;
configs.events.EventRules: the --event-* rules of `classify --events`;
configs.params.ReportOptions, and VggishParams' --resample-filter: the live
windows' only front-end choice), so a default and its check exist once.
"""

import os
import sys

from soundscope.cli import flags
from soundscope.cli import labels as labels_cli
from soundscope.configs import events as E
from soundscope.configs import monitoring as M
from soundscope.configs import params as P
from soundscope.configs import runtime as S

REPORT_FLAGS = ("model", "model_dir", "top_k", "threshold", "aggregation")
SINK_NAMES = ("console", "web", "devicehive", "mqtt", "jsonl", "history")


def add_arguments(parser):
  """The capture, monitoring and model options of both commands."""
  flags.add_flags(parser, S.CaptureOptions, title="capture")
  flags.add_flags(parser, M.MonitoringOptions, title="input, events and sinks "
                                                    "(docs/monitoring.md)")
  flags.add_flags(parser, E.EventRules, title="event rules (docs/events.md)")
  model = parser.add_argument_group("model")
  flags.add_flags(model, P.ReportOptions, names=REPORT_FLAGS)
  flags.add_flags(model, P.VggishParams, names=["resample_filter"])
  labels_cli.add_arguments(model)
  return parser


def check_arguments(args):
  """Raises flags.UsageError for a value the configs refuse."""
  flags.build(S.CaptureOptions, args)
  flags.build(P.ReportOptions, args)
  flags.build(E.EventRules, args)
  return flags.build(M.MonitoringOptions, args)


def port_number(text):
  """argparse type of a TCP port to listen on: a whole number 0-65535 (0: any free one).

  Raises:
    argparse.ArgumentTypeError: anything else (a usage error naming the flag, exit 2).
  """
  import argparse
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
  if not 0 <= value <= S.MAX_PORT:
    raise argparse.ArgumentTypeError(f"a port is 0-{S.MAX_PORT} (0 picks a free one), "
                                     f"not {value}")
  return value


def error(command, message):
  print(f"soundscope {command}: error: {message}", file=sys.stderr)


def load_classifier(args):
  from soundscope.models.store import registry
  return registry.load_classifier(args.model, args.model_dir)


def open_source(args):
  """The --input source (not opened yet); sources.SourceError for a bad --input."""
  from soundscope.runtime import sources
  return sources.open_source(
      args.input, device=args.device, rate=args.rate, channels=args.channels,
      duration_seconds=args.duration, realtime=args.realtime, input_rate=args.input_rate,
      input_channels=args.input_channels, input_format=args.input_format)


def live_events(args, classifier, source_name):
  """The LiveEvents of --labels, the --event-* rules and --rules; flags.UsageError for bad rules."""
  from soundscope.runtime import live_events as live_events_lib
  from soundscope.runtime import rules as rules_lib
  from soundscope.models import label_sets
  labels = list(label_sets.label_names(args.label_set, classifier))
  # The label set's own per-label event rules over the command line's (label_sets.event_rules).
  events = label_sets.event_rules(args.label_set, flags.build(E.EventRules, args))
  try:
    if args.rules:
      rules = rules_lib.load(args.rules, labels, events, args.cooldown, args.gate_dbfs,
                             SINK_NAMES)
    else:
      rules = rules_lib.uniform(labels, events, args.cooldown, args.gate_dbfs)
  except rules_lib.RulesError as exc:
    raise flags.UsageError(f"--rules {exc}") from None
  return live_events_lib.LiveEvents(classifier, args.label_set, rules, source_name)


def mqtt_password(args):
  """--mqtt checked and its password (--mqtt-password-file, else the environment's, or None).

  Raises:
    flags.UsageError: a bad --mqtt URL or an unreadable password file.
  """
  if not args.mqtt:
    return None
  from soundscope.runtime import credentials
  from soundscope.runtime import mqtt
  try:
    mqtt.parse_url(args.mqtt)
    return credentials.read_secret(args.mqtt_password_file, M.MQTT_PASSWORD_ENV)
  except (mqtt.MqttUrlError, credentials.SecretError) as exc:
    raise flags.UsageError(str(exc)) from None


def check_mqtt_labels(args):
  """With --mqtt, flags.UsageError when two reported labels share a topic-safe name."""
  if args.mqtt:
    from soundscope.runtime import mqtt
    try:
      mqtt.check_labels(args.live_events.labels)
    except mqtt.MqttLabelError as exc:
      raise flags.UsageError(str(exc)) from None


def prepare(args, command):
  """The start that capture and serve share: --list-devices, argument checks, the model.

  Returns:
    (classifier, None) to go on, or (None, exit status) when the command is done
    (devices listed: 0; bad arguments, --input, --mqtt, rules or label set: 2;
    no usable model: 1), the reason printed.  args.label_set is then the
    resolved --labels (or None), args.source the --input source and
    args.live_events the runtime.live_events.LiveEvents, read by LiveSession.
  """
  from soundscope.runtime import devices
  from soundscope.runtime import sources
  if args.list_devices:
    try:
      print(devices.describe_devices())
    except devices.CaptureError as exc:
      error(command, exc)
      return None, 1
    return None, 0
  try:
    check_arguments(args)
    args.mqtt_password = mqtt_password(args)
    args.source = open_source(args)
  except (flags.UsageError, sources.SourceError, ValueError) as exc:
    error(command, exc)
    return None, 2
  try:
    classifier = load_classifier(args)
  except Exception as exc:  # ModelNotFoundError, ChecksumError, ...: say it in one line.
    error(command, exc)
    return None, 1
  try:
    args.label_set = labels_cli.resolve(args, classifier)   # --labels, read by LiveSession.
    args.live_events = live_events(args, classifier, args.source.name)
    check_mqtt_labels(args)
  except flags.UsageError as exc:
    error(command, exc)
    return None, 2
  return classifier, None


def make_state_dir(state_dir, flag):
  """Creates the state folder (mode 0700) if missing.

  Raises:
    OSError: it cannot be a folder (a file of that name, no permission), in one
      line naming `flag` (e.g. '--state-dir').
  """
  try:
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
  except OSError as exc:
    raise OSError(f"{flag} {state_dir}: cannot be the state folder "
                  f"({exc.strerror or exc})") from None


def sinks(args, state_dir=None):
  """The sinks of --jsonl and --mqtt (capture and serve add their own).

  Args:
    state_dir: the folder of MQTT's outbox, made already (default:
      configs.runtime.default_state_dir(), made here).

  Raises:
    OSError: --jsonl cannot be opened; runtime.outbox.OutboxError: MQTT's outbox is in
    use; runtime.mqtt.MqttRefused (a ValueError): the broker refused the credentials.
  """
  from soundscope.runtime import sinks as sinks_lib
  made = []
  if args.jsonl:
    try:
      made.append(sinks_lib.JsonLinesSink(args.jsonl, windows=args.notify_windows))
    except OSError as exc:    # A folder, a missing folder, no permission.
      raise OSError(f"--jsonl {args.jsonl}: cannot append to it "
                    f"({exc.strerror or exc})") from None
  if args.mqtt:
    from soundscope.runtime import mqtt
    if state_dir is None:
      state_dir = S.default_state_dir()
      make_state_dir(state_dir, f"the state folder (${S.STATE_DIR_ENV})")
    host, port, prefix = mqtt.parse_url(args.mqtt)
    made.append(mqtt.MqttSink.from_url(
        args.mqtt, node=args.mqtt_node, labels=list(args.live_events.labels),
        outbox_path=mqtt.outbox_path(state_dir, host, port, prefix, args.mqtt_node),
        windows=args.notify_windows,
        password=args.mqtt_password))
  return made
