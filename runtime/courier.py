"""Delivers the outbox to DeviceHive, in order, on its own thread.

The courier connects (authenticate, then PUT /device/{id} as the original
daemon did on connect), then sends the oldest queued notification, removes it
only once the server accepted it, and goes on.  When the server cannot be
reached, or answers with a server error, it waits with exponential backoff
(0.5 s, 1 s, 2 s, ... up to 60 s) and reconnects; a new configuration (or
close) ends the wait at once, new notifications do not: a refused token is
tried again on the backoff's schedule, not at every window.  Delivery failing
and working again are said on the console once each (not per attempt).  A notification the server refuses for good
(400, 403 after a fresh token, 413) is removed and counted as rejected, so one
bad notification never blocks the queue.

Delivery is exactly once as long as soundscope stops cleanly and the server's
answers arrive; if the process dies between the server's answer and the
removal from the outbox, or an answer is lost (timeout after the server stored
the notification), that one notification is sent again (its parameters carry
the window start and end, by which a consumer can tell).
"""

import logging
import threading
import time

from soundscope.runtime import devicehive as dh
from soundscope.configs import runtime as S

log = logging.getLogger(__name__)

_PERMANENT = (400, 403, 413, 422)


class Courier:
  """Owns the outbox, the configuration and the delivery thread.

  Args:
    outbox: runtime.outbox.Outbox.
    config: runtime.config.DeviceHiveConfig.
    client_factory: callable(config) -> a devicehive client (tests may point it anywhere).
    backoff_initial, backoff_max: seconds.
  """

  def __init__(self, outbox, config, client_factory=None,
               backoff_initial=S.BACKOFF_INITIAL_SECONDS, backoff_max=S.BACKOFF_MAX_SECONDS):
    self.outbox = outbox
    self._config = config
    self._client_factory = client_factory or _default_client
    self.backoff_initial = backoff_initial
    self.backoff_max = backoff_max
    self._backoff = backoff_initial
    self._client = None
    self._wake = threading.Event()
    self._reconfigured = threading.Event()   # Ends a backoff wait (new settings or close).
    self._failing = False
    self._stop = threading.Event()
    self._drain_until = None
    self._lock = threading.Lock()
    self.connected = False
    self.last_error = None
    self.last_error_at = None
    self.last_sent_at = None
    self.connections = 0
    self.dropped_now = 0
    self._abandoned = False    # close() returned while a delivery was still under way.
    self._released = False     # Connection and outbox closed (once).
    self._thread = threading.Thread(target=self._run, name="soundscope-devicehive", daemon=True)
    self._thread.start()

  @property
  def config(self):
    return self._config

  def reconfigure(self, config):
    """Switches to new settings; the next delivery reconnects with them."""
    with self._lock:
      self._config = config
      self._drop_client()
      self._backoff = self.backoff_initial
    self._reconfigured.set()
    self._wake.set()

  def enqueue(self, notification):
    """Queues {"notification", "parameters", "timestamp"} and wakes the thread."""
    self.dropped_now += self.outbox.put(notification)
    self._wake.set()

  def status(self):
    """Connection state and counters for the page and /api/status."""
    counters = self.outbox.counters()
    config = self._config
    return dict(counters, enabled=config.enabled, connected=self.connected,
                server_url=config.server_url, device_id=config.device_id,
                last_error=self.last_error, last_error_at=self.last_error_at,
                last_sent_at=self.last_sent_at, connections=self.connections)

  # -- the thread -------------------------------------------------------------

  def _run(self):
    try:
      self._deliver_until_stopped()
    finally:
      if self._abandoned:
        self._release()

  def _deliver_until_stopped(self):
    while not self._finished():
      with self._lock:
        config = self._config
      if not config.enabled:
        if self._stop.is_set():
          return
        self._sleep(None)
        continue
      pending = self.outbox.peek(1)
      if not pending:
        if self._stop.is_set():
          return
        if self._client is None:
          self._attempt(self._connect, config)   # Show "connected" before the first window.
          continue
        self._sleep(None)
        continue
      seq, body = pending[0]
      self._attempt(self._deliver, config, seq, body)

  def _finished(self):
    if not self._stop.is_set():
      return False
    return self._drain_until is None or time.monotonic() >= self._drain_until

  def _attempt(self, action, config, *args):
    try:
      action(config, *args)
      self._backoff = self.backoff_initial
      if self._failing and self.connected:
        self._failing = False
        log.warning("DeviceHive: delivering again to %s", config.server_url)
    except (dh.DeviceHiveUnreachable, dh.DeviceHiveError) as exc:
      self._failed(exc)
    except Exception as exc:  # An odd answer or a full disk must not kill delivery for good.
      log.exception("DeviceHive delivery failed unexpectedly")
      self._failed(exc)

  def _connect(self, config):
    client = self._client_factory(config)
    adopted = False
    try:
      client.authenticate()
      client.register_device(config.device_id, config.device_name,
                             data={"software": "soundscope"})
      with self._lock:
        adopted = config is self._config    # Not if the settings changed meanwhile.
        if adopted:
          self._client = client
          self.connected = True
          self.connections += 1
    finally:
      if not adopted:       # A refused or outdated client must not keep its connection.
        client.close()
    if adopted:
      log.info("DeviceHive: connected to %s as device %s", config.server_url, config.device_id)

  def _deliver(self, config, seq, body):
    client = self._client
    if client is None:
      self._connect(config)
      client = self._client
      if client is None:     # The settings changed meanwhile: start over with the new ones.
        return
    if not self.outbox.claim(seq):   # Dropped by the bound while connecting: take the next.
      return
    sent = False
    try:
      client.insert_notification(config.device_id, body["notification"],
                                 body.get("parameters") or {}, body.get("timestamp"))
      sent = True
    except dh.DeviceHiveError as exc:
      if exc.status == 404:       # The device was deleted meanwhile: register it again.
        self._drop_client()
        raise
      if exc.status in _PERMANENT:
        log.warning("DeviceHive refused notification %d for good: %s", seq, exc)
        self.outbox.reject(seq)
        self._note_error(exc)
        return
      raise
    finally:
      if not sent:      # Still queued; the bound may drop it again while we back off.
        self.outbox.release(seq)
    self.outbox.ack(seq)
    self.connected = True
    self.last_sent_at = time.time()

  def _failed(self, exc):
    self._note_error(exc)
    self._drop_client()
    if self._stop.is_set():
      self._drain_until = time.monotonic()   # Unreachable while stopping: leave the rest on disk.
      return
    if not self._failing:
      self._failing = True
      log.warning("DeviceHive: %s; retrying with backoff up to %.0f s (said again when it "
                  "works)", exc, self.backoff_max)
    else:
      log.info("DeviceHive: %s; retrying in %.1f s", exc, self._backoff)
    self._backoff_sleep(self._backoff)
    self._backoff = min(self.backoff_max, self._backoff * S.BACKOFF_FACTOR)

  def _note_error(self, exc):
    self.last_error = str(exc)
    self.last_error_at = time.time()

  def _drop_client(self):
    client, self._client = self._client, None
    self.connected = False
    if client is not None:
      client.close()

  def _backoff_sleep(self, seconds):
    """Waits `seconds` unless new settings or close() come first (new notifications do not)."""
    self._reconfigured.clear()
    deadline = time.monotonic() + seconds
    while not self._stop.is_set() and not self._reconfigured.is_set():
      left = deadline - time.monotonic()
      if left <= 0:
        break
      self._wake.wait(left)
      self._wake.clear()

  def _sleep(self, seconds):
    self._wake.wait(seconds)
    self._wake.clear()

  def close(self, drain_timeout=S.DRAIN_TIMEOUT_SECONDS):
    """Delivers what it can within drain_timeout seconds, then stops; the rest stays queued."""
    self._drain_until = time.monotonic() + drain_timeout
    self._stop.set()
    self._wake.set()
    self._thread.join(drain_timeout + S.HTTP_TIMEOUT_SECONDS + 1)
    if self._thread.is_alive():
      # A call is still waiting for its answer.  Closing its connection or the
      # outbox under it would lose the acknowledgement, and the next start would
      # send that notification again: the thread closes them when it ends.
      log.warning("DeviceHive: a delivery is still under way; leaving it to finish")
      self._abandoned = True
      if self._thread.is_alive():   # (It may have ended meanwhile: then release here.)
        return
    self._release()

  def _release(self):
    with self._lock:
      if self._released:
        return
      self._released = True
    self._drop_client()
    self.outbox.close()


def _default_client(config):
  return dh.client_for(config.server_url, refresh_token=config.refresh_token or None,
                       login=config.login or None, password=config.password or None)
