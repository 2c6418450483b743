"""Events to an MQTT broker (paho-mqtt), with Home Assistant discovery (docs/monitoring.md).

Topics, under --mqtt mqtt://host[:port]/PREFIX (default prefix "soundscope")
and the node id (--mqtt-node, default "soundscope"):

  PREFIX/NODE/status              "online" / "offline" (retained; "offline" is the
                                  last will, so a killed soundscope reads offline)
  PREFIX/NODE/LABEL/state         "ON" while the label's event lasts, else "OFF" (retained)
  PREFIX/NODE/LABEL/event         each event's start and end, EventNotice.to_dict() JSON
  PREFIX/NODE/window              each window's PredictionEvent.to_dict() (--notify-windows)
  homeassistant/binary_sensor/NODE/LABEL/config   Home Assistant MQTT discovery
                                  (retained): each label a binary sensor of
                                  device class "sound" on the state topic

LABEL is the label's name made topic-safe (letters, digits, '_'; see slug()).

Delivery: every message goes first into an Outbox (runtime/outbox.py: sqlite,
bounded, in order; the pattern of DeviceHive) and leaves it once the broker
acknowledged it (QoS 1, PUBACK).  A thread publishes one message at a time;
while the broker is down, paho reconnects with backoff
(MQTT_RECONNECT_MIN_SECONDS to MQTT_RECONNECT_MAX_SECONDS) and the message
in flight is resent by paho on reconnection, so nothing is lost up to the
outbox's bound (MQTT_OUTBOX_MAX_MESSAGES, past which the oldest are dropped
and counted), even across a restart of soundscope.  QoS 1 is at least once:
a message whose PUBACK was lost when the broker died is sent again (its JSON
carries the event's label, kind and start, by which a consumer can tell).
The discovery configs, the states and "online" are published again on every
connection (a broker restarted without persistence gets them back).

Credentials never travel in the URL: a URL with user:password@ is refused;
the user name comes from $SOUNDSCOPE_MQTT_USERNAME, the password from
--mqtt-password-file or $SOUNDSCOPE_MQTT_PASSWORD.  At the start, soundscope
waits up to MQTT_FIRST_CONNECT_SECONDS for the broker's answer: credentials it
refuses stop the command with one line; a broker it cannot reach yet is said
once and retried (monitoring starts anyway, the outbox keeps the events).
"""

import hashlib
import json
import logging
import os
import re
import threading
import time
import urllib.parse

from soundscope.configs import monitoring as M
from soundscope.runtime import outbox as outbox_lib
from soundscope.runtime import sinks

log = logging.getLogger(__name__)


class MqttUrlError(ValueError):
  """An --mqtt URL that cannot be used; one line."""


class MqttLabelError(ValueError):
  """Two labels whose topic-safe names (slug) are one: they would share topics and ids."""


class MqttRefused(ValueError):
  """The broker refused the credentials (or this client) at the start; one line."""


def parse_url(url):
  """mqtt://host[:port][/prefix] -> (host, port, prefix).

  Raises:
    MqttUrlError: another scheme, no host, a bad port, credentials in the URL.
  """
  try:
    parts = urllib.parse.urlsplit(url)
    port = parts.port
  except ValueError as exc:
    raise MqttUrlError(f"--mqtt {_public(url)}: {exc}") from None
  if parts.scheme != "mqtt":
    raise MqttUrlError(f"--mqtt {_public(url)}: the URL must start with mqtt://")
  if parts.username is not None or parts.password is not None:
    raise MqttUrlError(f"--mqtt {_public(url)}: credentials do not belong in the URL; set "
                       f"${M.MQTT_USERNAME_ENV} and ${M.MQTT_PASSWORD_ENV}")
  if not parts.hostname:
    raise MqttUrlError(f"--mqtt {_public(url)}: no host")
  if port == 0:
    raise MqttUrlError(f"--mqtt {_public(url)}: the port must be 1-65535")
  prefix = parts.path.strip("/") or M.MQTT_DEFAULT_PREFIX
  if "#" in url or "+" in prefix or "//" in prefix or parts.query:
    raise MqttUrlError(f"--mqtt {_public(url)}: the topic prefix {prefix!r} may not hold "
                       f"'#', '+' or empty levels")
  return parts.hostname, port or M.MQTT_DEFAULT_PORT, prefix


def destination(host, port, prefix, node):
  """Where a message goes: 'mqtt://host:port/PREFIX node NODE' (each outbox row says it)."""
  return f"mqtt://{host}:{int(port)}/{prefix} node {node}"


def outbox_path(state_dir, host, port, prefix, node):
  """The outbox of one destination: <state_dir>/mqtt-outbox-<12 hex digits>.sqlite3.

  Messages queued for one broker, prefix and node wait in their own file, for
  the next run with that destination; another destination never gets them.
  """
  key = hashlib.sha256(destination(host, port, prefix, node).encode()).hexdigest()[:12]
  return os.path.join(state_dir, M.MQTT_OUTBOX_FILE.format(key=key))


def _public(url):
  """The URL with any user:password@ removed (never echo a secret)."""
  try:
    parts = urllib.parse.urlsplit(url)
  except ValueError:
    return "(an unreadable URL)"
  host = parts.netloc.rsplit("@", 1)[-1]
  return urllib.parse.urlunsplit(parts._replace(netloc=host))


def slug(label):
  """A label as one topic level and HA object id: lower case, runs of other than
  letters and digits as '_' ('Chicken, rooster' -> 'chicken_rooster')."""
  return re.sub(r"[^a-z0-9]+", "_", str(label).lower()).strip("_") or "label"


def check_labels(labels):
  """Raises MqttLabelError (one line naming both) when two labels have one slug: they
  would share a state topic and a Home Assistant unique_id."""
  seen = {}
  for label in labels:
    other = seen.setdefault(slug(label), label)
    if other != label:
      raise MqttLabelError(f"--mqtt: the labels {other!r} and {label!r} share the topic "
                           f"name {slug(label)!r} (topics and Home Assistant ids would be "
                           f"one); rename one in the label set")


class Topics:
  """The topic names of one node (see the module docstring)."""

  def __init__(self, prefix, node, discovery_prefix=M.MQTT_DISCOVERY_PREFIX):
    self.base = f"{prefix}/{node}"
    self.node = node
    self.discovery_prefix = discovery_prefix
    self.status = f"{self.base}/status"
    self.window = f"{self.base}/window"

  def state(self, label):
    return f"{self.base}/{slug(label)}/state"

  def event(self, label):
    return f"{self.base}/{slug(label)}/event"

  def discovery(self, label):
    return f"{self.discovery_prefix}/binary_sensor/{self.node}/{slug(label)}/config"

  def discovery_config(self, label):
    """Home Assistant's MQTT discovery payload of a label's binary sensor."""
    return {"name": str(label), "unique_id": f"{self.node}_{slug(label)}",
            "object_id": f"{self.node}_{slug(label)}", "device_class": "sound",
            "state_topic": self.state(label), "payload_on": M.MQTT_PAYLOAD_ON,
            "payload_off": M.MQTT_PAYLOAD_OFF, "json_attributes_topic": self.event(label),
            "availability_topic": self.status, "payload_available": M.MQTT_ONLINE,
            "payload_not_available": M.MQTT_OFFLINE,
            "device": {"identifiers": [f"soundscope_{self.node}"],
                       "name": f"soundscope {self.node}", "manufacturer": "soundscope",
                       "model": "sound event monitor"}}


class MqttSink(sinks.Sink):
  """Publishes events (and windows when asked) to an MQTT broker through an outbox.

  Args:
    host, port, prefix: the broker and the topic prefix.
    node: node id in the topics and discovery.
    labels: the label names reported (a discovery config and a state each).
    outbox_path: the outbox's sqlite file (outbox_path(): one per destination); rows
      queued there for another destination are dropped at the start, never sent.
    windows: also publish every window on PREFIX/NODE/window.
    username, password: broker credentials, or None.
    capacity: most messages kept undelivered.
    client_id: MQTT client id (default soundscope-NODE).
    reconnect_min, reconnect_max: paho's reconnection backoff, seconds.

  Raises:
    MqttLabelError: two labels share a topic-safe name (check_labels).
  """
  name = "mqtt"

  def __init__(self, host, port, prefix, node, labels, outbox_path, windows=False,
               username=None, password=None, capacity=M.MQTT_OUTBOX_MAX_MESSAGES,
               client_id=None, reconnect_min=M.MQTT_RECONNECT_MIN_SECONDS,
               reconnect_max=M.MQTT_RECONNECT_MAX_SECONDS):
    import paho.mqtt.client as paho   # Imported here: only --mqtt needs it (extra "live").
    check_labels(labels)
    self.host, self.port = host, int(port)
    self.topics = Topics(prefix, node)
    self.destination = destination(host, port, prefix, node)
    self.labels = list(labels)
    self.windows = windows
    self.outbox = outbox_lib.Outbox(outbox_path, capacity)
    self._drop_foreign()
    self._states = {label: M.MQTT_PAYLOAD_OFF for label in self.labels}
    self._acked = set()
    self._cond = threading.Condition()
    self._stop = threading.Event()
    self._drain_until = None
    self.connected = False
    self.connections = 0
    self.last_error = None
    self._failing = False
    self._dropping = False               # The outbox is full and drops the oldest.
    self._sent_at = None
    self._answered = threading.Event()   # The first CONNACK (or a failure to connect) came.
    self.refused = None                  # The broker's reason when it refused the first connection.
    client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                         client_id=client_id or f"soundscope-{node}", clean_session=True)
    if username:
      client.username_pw_set(username, password)
    client.will_set(self.topics.status, M.MQTT_OFFLINE, qos=M.MQTT_QOS, retain=True)
    client.reconnect_delay_set(reconnect_min, reconnect_max)
    client.on_connect = self._on_connect
    client.on_disconnect = self._on_disconnect
    client.on_publish = self._on_publish
    client.on_connect_fail = self._on_connect_fail
    self._client = client
    client.connect_async(self.host, self.port, keepalive=M.MQTT_KEEPALIVE_SECONDS)
    client.loop_start()
    self._thread = threading.Thread(target=self._run, name="soundscope-mqtt", daemon=True)
    self._thread.start()

  def _drop_foreign(self):
    """Drops (counted, said in one line) the rows an earlier run queued for another
    destination (or without one): this broker must not get them."""
    foreign = {}
    for seq, body in self.outbox.peek(len(self.outbox)):
      if body.get("destination") != self.destination:
        foreign.setdefault(body.get("destination") or "an unknown destination", []).append(seq)
    if foreign:
      count = self.outbox.discard([seq for seqs in foreign.values() for seq in seqs])
      log.warning("MQTT: %d message(s) in %s were queued for %s, not %s; dropped, not sent",
                  count, self.outbox.path, " and ".join(sorted(foreign)), self.destination)

  @classmethod
  def from_url(cls, url, node, labels, outbox_path, windows=False, password=None,
               environ=None, first_connect_seconds=M.MQTT_FIRST_CONNECT_SECONDS):
    """An MqttSink for --mqtt URL, once the broker answered (or could not be reached in
    first_connect_seconds).

    Args:
      password: the password (--mqtt-password-file), else $SOUNDSCOPE_MQTT_PASSWORD.
      environ: the environment (default os.environ).

    Raises:
      MqttUrlError: a bad URL.  MqttRefused: the broker refused the credentials.
    """
    import os
    environ = os.environ if environ is None else environ
    host, port, prefix = parse_url(url)
    sink = cls(host, port, prefix, node, labels, outbox_path, windows,
               username=environ.get(M.MQTT_USERNAME_ENV) or None,
               password=password or environ.get(M.MQTT_PASSWORD_ENV) or None)
    sink._answered.wait(first_connect_seconds)
    if sink.refused:
      sink.close(drain_seconds=0)
      raise MqttRefused(f"--mqtt {_public(url)}: the broker refused the connection "
                        f"({sink.refused}); check ${M.MQTT_USERNAME_ENV} and the password")
    return sink

  # -- the loop's side ----------------------------------------------------------

  def emit(self, event):
    if self.windows:
      self._queue(self.topics.window, json.dumps(event.to_dict()), retain=False)

  def event(self, notice):
    state = M.MQTT_PAYLOAD_ON if notice.kind == "start" else M.MQTT_PAYLOAD_OFF
    self._states[notice.label] = state
    self._queue(self.topics.state(notice.label), state, retain=True)
    self._queue(self.topics.event(notice.label), json.dumps(notice.to_dict()), retain=False)

  def _queue(self, topic, payload, retain):
    dropped = self.outbox.put({"topic": topic, "payload": payload, "retain": retain,
                               "destination": self.destination})
    if dropped and not self._dropping:
      self._dropping = True
      log.warning("MQTT: the outbox is full (%d messages); the oldest are dropped and "
                  "counted (said again when there is room)", self.outbox.capacity)
    with self._cond:
      self._cond.notify_all()

  def status(self):
    return dict(self.outbox.counters(), broker=f"mqtt://{self.host}:{self.port}",
                topics=self.topics.base, connected=self.connected,
                connections=self.connections, last_error=self.last_error,
                last_sent_at=self._sent_at)

  # -- paho's callbacks (its network thread) --------------------------------------

  def _on_connect(self, client, userdata, flags, reason_code, properties):
    if reason_code.is_failure:
      if not self._answered.is_set():     # The start: from_url says it in one line.
        self.refused = str(reason_code)
        self._answered.set()
        return
      self._failed(f"the broker refused the connection: {reason_code}")
      return
    # Discovery, states and availability again on every connection (QoS 1, retained).
    for label in self.labels:
      client.publish(self.topics.discovery(label), json.dumps(self.topics.discovery_config(label)),
                     qos=M.MQTT_QOS, retain=True)
      client.publish(self.topics.state(label), self._states[label], qos=M.MQTT_QOS, retain=True)
    client.publish(self.topics.status, M.MQTT_ONLINE, qos=M.MQTT_QOS, retain=True)
    with self._cond:
      self.connected = True
      self.connections += 1
      self._cond.notify_all()
    self._answered.set()
    if self._failing:
      log.warning("MQTT: connected to %s:%d again", self.host, self.port)
      self._failing = False
    else:
      log.info("MQTT: connected to %s:%d", self.host, self.port)

  def _on_disconnect(self, client, userdata, flags, reason_code, properties):
    with self._cond:
      self.connected = False
      self._cond.notify_all()
    if not self._stop.is_set() and not self.refused:
      self._failed(f"disconnected from {self.host}:{self.port} ({reason_code})")

  def _on_connect_fail(self, client, userdata):
    self._answered.set()
    self._failed(f"cannot reach {self.host}:{self.port}")

  def _on_publish(self, client, userdata, mid, reason_code, properties):
    with self._cond:
      self._acked.add(mid)
      self._cond.notify_all()

  def _failed(self, reason):
    self.last_error = reason
    if not self._failing:
      self._failing = True
      log.warning("MQTT: %s; retrying with backoff (said again when it works)", reason)

  # -- the delivery thread ----------------------------------------------------------

  def _run(self):
    while not self._finished():
      pending = self.outbox.peek(1)
      if not pending:
        if self._stop.is_set():
          return
        with self._cond:
          self._cond.wait(M.MQTT_ACK_WAIT_SECONDS)
        continue
      seq, body = pending[0]
      if not self.outbox.claim(seq):
        continue
      if self._publish(body):
        self.outbox.ack(seq)
        self._sent_at = time.time()
        if self._dropping and len(self.outbox) < self.outbox.capacity:
          self._dropping = False
          log.warning("MQTT: the outbox has room again (%d dropped in all)",
                      self.outbox.counters()["dropped"])
      else:
        self.outbox.release(seq)
        return        # Stopped before the broker acknowledged: it stays in the outbox.

  def _finished(self):
    return self._stop.is_set() and (self._drain_until is None
                                    or time.monotonic() >= self._drain_until)

  def _publish(self, body):
    """Publishes one message and waits for its PUBACK (paho resends it after a
    reconnection); False when stopped first."""
    with self._cond:
      while not self.connected:
        if self._finished():
          return False
        self._cond.wait(M.MQTT_ACK_WAIT_SECONDS)
      self._acked.clear()    # Acknowledgements of discovery and the like: not ours.
    info = self._client.publish(body["topic"], body["payload"], qos=M.MQTT_QOS,
                                retain=body["retain"])
    with self._cond:
      while info.mid not in self._acked:
        if self._finished():
          return False
        self._cond.wait(M.MQTT_ACK_WAIT_SECONDS)
    return True

  def close(self, drain_seconds=None):
    """Delivers what it can within drain_seconds (configs.runtime DRAIN_TIMEOUT_SECONDS),
    says "offline", disconnects; the rest stays in the outbox for the next start."""
    from soundscope.configs import runtime as S
    drain = S.DRAIN_TIMEOUT_SECONDS if drain_seconds is None else drain_seconds
    self._drain_until = time.monotonic() + drain
    self._stop.set()
    with self._cond:
      self._cond.notify_all()
    self._thread.join(drain + 1)
    if self.connected:
      info = self._client.publish(self.topics.status, M.MQTT_OFFLINE, qos=M.MQTT_QOS,
                                  retain=True)
      try:
        info.wait_for_publish(1.0)
      except (RuntimeError, ValueError):
        pass
    self._client.disconnect()
    self._client.loop_stop()
    self.outbox.close()
