"""A real Mosquitto broker on a free loopback port, and a subscriber that records everything.

Broker(folder).start() writes a small configuration (anonymous, loopback,
persistence in `folder` so that a restart keeps the subscriber's session and
its queued QoS 1 messages) and starts /usr/sbin/mosquitto; stop() ends it
with SIGTERM (it saves its state), start() again reuses the port.
broker_and_subscriber(folder) starts both for a `with` block (or a fixture)
and stops them at its end.
"""

import contextlib
import json
import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


class Broker:
  """A mosquitto process on 127.0.0.1:port (anonymous, or only `users` {name: password})."""

  def __init__(self, folder, port=None, users=None):
    if not pathlib.Path(MOSQUITTO).exists():
      pytest.skip(f"{MOSQUITTO} is absent (apt install mosquitto)")
    self.folder = pathlib.Path(folder)
    self.folder.mkdir(parents=True, exist_ok=True)
    self.port = port or free_port()
    self.config = self.folder / "mosquitto.conf"
    access = "allow_anonymous true\n"
    if users:      # {name: password}: only they may connect.
      passwords = self.folder / "passwords"
      for number, (name, password) in enumerate(users.items()):
        create = ["-c"] if number == 0 else []
        subprocess.run(["/usr/bin/mosquitto_passwd", *create, "-b", str(passwords), name,
                        password], check=True, capture_output=True)
      access = f"allow_anonymous false\npassword_file {passwords}\n"
    # Run as root, mosquitto would switch to the user "mosquitto", who cannot write here.
    user = "user root\n" if os.geteuid() == 0 else ""
    self.config.write_text(
        f"listener {self.port} 127.0.0.1\n{access}{user}persistence true\n"
        f"persistence_location {self.folder}/\nlog_dest file {self.folder}/mosquitto.log\n")
    self.process = None

  def start(self, timeout=10):
    self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      try:
        socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        return self
      except OSError:
        if self.process.poll() is not None:
          log = self.folder / "mosquitto.log"
          pytest.fail(f"mosquitto exited: {log.read_text() if log.exists() else '(no log)'}")
        time.sleep(0.02)
    pytest.fail("mosquitto did not start listening")

  def stop(self):
    if self.process is not None and self.process.poll() is None:
      self.process.terminate()
      self.process.wait(10)
    self.process = None

  @property
  def url(self):
    return f"mqtt://127.0.0.1:{self.port}"


class Subscriber:
  """Records every message on `topic` (a persistent QoS 1 session: across a broker
  restart, messages published meanwhile are still delivered)."""

  def __init__(self, port, topic="#", client_id="soundscope-test-subscriber", clean=False):
    import paho.mqtt.client as paho
    self.messages = []      # (topic, payload text, retain flag)
    self._lock = threading.Lock()
    self.subscribed = threading.Event()
    self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                              clean_session=clean)
    self.client.reconnect_delay_set(0.1, 0.5)
    self.topic = topic
    self.client.on_connect = self._on_connect
    self.client.on_message = self._on_message
    self.client.on_subscribe = lambda *args: self.subscribed.set()
    self.client.connect("127.0.0.1", port, keepalive=5)
    self.client.loop_start()
    if not self.subscribed.wait(10):
      pytest.fail("the subscriber did not subscribe")

  def _on_connect(self, client, userdata, flags, reason_code, properties):
    client.subscribe(self.topic, qos=1)

  def _on_message(self, client, userdata, message):
    with self._lock:
      self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

  def on(self, topic):
    with self._lock:
      return [payload for t, payload, _ in self.messages if t == topic]

  def json_on(self, topic):
    return [json.loads(payload) for payload in self.on(topic)]

  def close(self):
    self.client.disconnect()
    self.client.loop_stop()


@contextlib.contextmanager
def broker_and_subscriber(folder, topic="#"):
  """(Broker started in `folder`, Subscriber to `topic`), both stopped on the way out."""
  broker = Broker(folder).start()
  try:
    subscriber = Subscriber(broker.port, topic)
    try:
      yield broker, subscriber
    finally:
      subscriber.close()
  finally:
    broker.stop()
