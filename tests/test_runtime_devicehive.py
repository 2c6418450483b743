"""DeviceHive delivery against a local DeviceHive server on loopback, over REST and WebSocket."""

import datetime
import os
import socket
import stat

import pytest

import support_runtime as sr
from devicehive_server import DeviceHiveServer
from soundscope.models import classifier as classifier_lib
from soundscope.runtime import config as config_lib
from soundscope.runtime import courier as courier_lib
from soundscope.runtime import devicehive as dh
from soundscope.runtime import outbox as outbox_lib
from soundscope.runtime import prediction
from soundscope.runtime import sinks as sinks_lib

T0 = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)
DEVICE = "soundscope-test-1"


@pytest.fixture(params=["rest", "websocket"])
def server(request):
  """The local server; server.client_url is the endpoint of the transport under test."""
  server = DeviceHiveServer().start()
  server.client_url = server.url(request.param)
  yield server
  server.stop()


def config_for(server, **changes):
  settings = dict(server_url=server.client_url, refresh_token=server.issue_refresh_token(),
                  device_id=DEVICE, device_name="Kitchen microphone")
  settings.update(changes)
  return config_lib.DeviceHiveConfig(**settings).validate()


def event(number):
  """A prediction event whose window starts `number` seconds after T0 (its identity)."""
  start = T0 + datetime.timedelta(seconds=number)
  return prediction.PredictionEvent(
      sequence=number, start_utc=start, end_utc=start + datetime.timedelta(seconds=5),
      predictions=[classifier_lib.Prediction("Dog", 74, 0.9),
                   classifier_lib.Prediction("Bark", 75, 0.5)],
      model="yamnet", model_version="1", ended_at=0.0, classified_at=0.0)


def numbers(server):
  """Which events arrived, in arrival order (from their window start)."""
  return [round((datetime.datetime.strptime(n["parameters"]["start_utc"], "%Y-%m-%dT%H:%M:%S.%fZ")
                 .replace(tzinfo=datetime.timezone.utc) - T0).total_seconds())
          for n in server.received(DEVICE)]


def start_courier(path, config, capacity=100):
  return courier_lib.Courier(outbox_lib.Outbox(str(path), capacity), config,
                             backoff_initial=0.05, backoff_max=0.3)


def test_client_speaks_the_documented_api(server):
  client = dh.client_for(server.client_url, login=server.login, password=server.password)
  assert isinstance(client, dh.DeviceHiveWebSocketClient) == server.client_url.startswith("ws:")
  client.authenticate()
  assert client.refresh_token and dh.token_expiry(client.access_token) > 0
  client.register_device(DEVICE, "Kitchen microphone", data={"software": "soundscope"})
  assert server.devices[DEVICE]["name"] == "Kitchen microphone"
  answer = client.insert_notification(DEVICE, "audio_analysis", {"predictions": []},
                                      "2026-11-26T12:00:05.000")
  assert answer["id"] == 1 and answer["timestamp"] == "2026-11-26T12:00:05.000"
  stored = server.received(DEVICE)[0]
  assert stored["notification"] == "audio_analysis" and stored["parameters"] == {"predictions": []}
  # A WebSocket connection is authorised once, with the access token; REST sends it each call.
  assert server.count("authenticate", 200) == (1 if server.client_url.startswith("ws:") else 0)

  with pytest.raises(dh.DeviceHiveError) as missing:
    client.insert_notification("no-such-device", "audio_analysis", {})
  assert missing.value.status == 404 and "not found" in missing.value.message

  wrong = dh.client_for(server.client_url, login=server.login, password="wrong")
  with pytest.raises(dh.DeviceHiveError) as refused:
    wrong.authenticate()
  assert refused.value.status == 401 and refused.value.message == "Invalid credentials"


def test_a_refused_access_token_is_refreshed_once_and_the_call_retried(server):
  client = dh.client_for(server.client_url, refresh_token=server.issue_refresh_token())
  client.register_device(DEVICE, "mic")
  server.revoke_access_tokens()
  client.insert_notification(DEVICE, "audio_analysis", {"n": 1})
  assert server.count("notification/insert", 401) == 1
  assert server.count("token/refresh", 201) == 2   # First access, then after the 401.
  assert len(server.received(DEVICE)) == 1


def test_an_expiring_access_token_is_renewed_before_it_is_refused(server):
  server.access_ttl = 2.0     # Shorter than the client's 30 s margin: always "about to expire".
  client = dh.client_for(server.client_url, refresh_token=server.issue_refresh_token())
  client.register_device(DEVICE, "mic")
  for n in range(3):
    client.insert_notification(DEVICE, "audio_analysis", {"n": n})
  assert server.count("token/refresh", 201) == 4
  assert server.count("notification/insert", 401) == 0


def test_an_expired_refresh_token_falls_back_to_login(server):
  server.refresh_ttl = -1.0
  stale = server.issue_refresh_token()
  client = dh.client_for(server.client_url, refresh_token=stale, login=server.login,
                         password=server.password)
  client.register_device(DEVICE, "mic")
  assert server.count("token/refresh", 401) == 1
  assert server.count("token", 201) == 1 and client.refresh_token != stale


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:{}/api/rest",
                                      "ws://127.0.0.1:{}/api/websocket"])
def test_unreachable_server_is_its_own_error(endpoint):
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
  client = dh.client_for(endpoint.format(port), refresh_token="x", timeout=2)
  with pytest.raises(dh.DeviceHiveUnreachable):
    client.authenticate()


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_a_server_that_never_answers_is_unreachable_after_the_timeout(scheme):
  import time
  with socket.socket() as silent:          # Accepts connections (backlog), never answers.
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    client = dh.client_for(f"{scheme}://127.0.0.1:{silent.getsockname()[1]}/api",
                           refresh_token="x", timeout=1)
    started = time.monotonic()
    with pytest.raises(dh.DeviceHiveUnreachable, match="token/refresh: .* unreachable"):
      client.authenticate()
    assert time.monotonic() - started < 5
    client.close()


def test_every_notification_arrives_once_in_order_across_outage_expiry_and_restart(
    server, tmp_path):
  path = tmp_path / "outbox.sqlite3"
  config = config_for(server)
  sink = sinks_lib.DeviceHiveSink(start_courier(path, config))
  for n in (1, 2, 3):
    sink.emit(event(n))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 3, what="first notifications")
  assert sink.status()["connected"] is True

  server.stop()                                           # Outage.
  for n in (4, 5, 6):
    sink.emit(event(n))
  sr.wait_for(lambda: sink.status()["last_error"] and not sink.status()["connected"],
              what="the outage to be noticed")
  assert sink.status()["queued"] == 3
  server.start()
  sr.wait_for(lambda: len(server.received(DEVICE)) == 6, what="delivery after the outage")

  server.revoke_access_tokens()                           # The access token expires.
  for n in (7, 8):
    sink.emit(event(n))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 8, what="delivery after expiry")
  assert server.count("notification/insert", 401) >= 1

  server.stop()                                           # soundscope stops during an outage.
  for n in (9, 10):
    sink.emit(event(n))
  sink.close()
  with outbox_lib.Outbox(str(path)) as left:
    assert left.counters()["queued"] == 2

  restarted = sinks_lib.DeviceHiveSink(start_courier(path, config))   # ... and starts again.
  server.start()
  restarted.emit(event(11))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 11, what="delivery after the restart")
  # The server stores a notification before its answer reaches the courier, which then
  # counts it sent: wait for that too.
  sr.wait_for(lambda: restarted.status()["sent"] == 11, what="the courier to count it sent")
  status = restarted.status()
  restarted.close()
  assert numbers(server) == list(range(1, 12))
  assert status["sent"] == 11 and status["queued"] == 0 and status["dropped"] == 0
  ids = [n["id"] for n in server.received(DEVICE)]
  assert ids == sorted(set(ids))
  assert all(n["notification"] == "audio_analysis" for n in server.received(DEVICE))
  assert server.received(DEVICE)[0]["timestamp"] == "2026-11-26T12:00:06.000"


def test_outbox_keeps_the_newest_up_to_its_bound_and_counts_the_dropped(server, tmp_path):
  server.stop()
  sink = sinks_lib.DeviceHiveSink(start_courier(tmp_path / "outbox.sqlite3",
                                                config_for(server), capacity=4))
  for n in range(1, 8):
    sink.emit(event(n))
  status = sink.status()
  assert (status["queued"], status["dropped"]) == (4, 3)
  server.start()
  sr.wait_for(lambda: len(server.received(DEVICE)) == 4, what="the kept notifications")
  sink.close()
  assert numbers(server) == [4, 5, 6, 7]


def test_a_notification_dropped_while_connecting_is_never_sent(server, tmp_path):
  """The courier reads the head, then connects; the bound drops that head meanwhile."""
  import threading
  outbox = outbox_lib.Outbox(str(tmp_path / "outbox.sqlite3"), capacity=2)
  config = config_for(server)
  notification = lambda n: {"notification": "audio_analysis",
                            "parameters": event(n).notification_parameters()}
  outbox.put(notification(1))
  connecting, go_on = threading.Event(), threading.Event()

  def held_client(config):   # The real client, handed over once the test says so.
    connecting.set()
    go_on.wait(10)
    return dh.client_for(config.server_url, refresh_token=config.refresh_token)

  courier = courier_lib.Courier(outbox, config, client_factory=held_client,
                                backoff_initial=0.05, backoff_max=0.3)
  assert connecting.wait(10)           # It has read notification 1 and is connecting.
  courier.enqueue(notification(2))
  courier.enqueue(notification(3))     # Capacity 2: notification 1 is dropped.
  go_on.set()
  sr.wait_for(lambda: courier.status()["sent"] == 2, what="the two kept notifications")
  status = courier.status()
  courier.close()
  assert numbers(server) == [2, 3]
  assert (status["sent"], status["dropped"], status["queued"]) == (2, 1, 0)


def test_the_bound_never_drops_the_notification_being_sent(tmp_path):
  outbox = outbox_lib.Outbox(str(tmp_path / "outbox.sqlite3"), capacity=2)
  for n in (1, 2):
    outbox.put({"n": n})
  (head, _), = outbox.peek(1)
  assert outbox.claim(head)
  assert outbox.put({"n": 3}) == 1       # Drops 2, the oldest not in flight.
  assert [body["n"] for _, body in outbox.peek(5)] == [1, 3]
  outbox.ack(head)                       # Delivered: counted once, as sent.
  assert outbox.put({"n": 4}) == 0 and outbox.put({"n": 5}) == 1
  assert [body["n"] for _, body in outbox.peek(5)] == [4, 5]
  assert not outbox.claim(head)          # Gone: the courier must not send it.
  (seq4, _), = outbox.peek(1)
  assert outbox.claim(seq4)
  outbox.release(seq4)                   # Its send failed: droppable again.
  outbox.put({"n": 6})
  assert [body["n"] for _, body in outbox.peek(5)] == [5, 6]
  assert outbox.counters() == {"queued": 2, "sent": 1, "dropped": 3, "rejected": 0}


def test_a_refused_notification_is_counted_and_does_not_block_the_rest(server, tmp_path):
  courier = start_courier(tmp_path / "outbox.sqlite3", config_for(server))
  courier.enqueue({"notification": "", "parameters": {}})   # The server answers 400.
  sinks_lib.DeviceHiveSink(courier).emit(event(1))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 1, what="the valid notification")
  status = courier.status()
  courier.close()
  assert status["rejected"] == 1 and "Notification name is required" in status["last_error"]


def test_refused_credentials_leave_no_connection_open_between_retries(server, tmp_path):
  # A refresh token the server never issued: every connection attempt is refused (401).
  courier = start_courier(tmp_path / "outbox.sqlite3",
                          config_for(server, refresh_token="not.a.token"))
  sinks_lib.DeviceHiveSink(courier).emit(event(1))
  sr.wait_for(lambda: server.count("token/refresh", 401) >= 5, what="five refused attempts")
  open_during_retries = server.open_websockets()
  status = courier.status()
  courier.close()
  assert open_during_retries <= 1            # At most the attempt under way, never one per try.
  assert status["connected"] is False and "401" in status["last_error"]
  assert server.received(DEVICE) == [] and status["queued"] == 1


@pytest.mark.slow
def test_closing_during_a_slow_delivery_keeps_its_acknowledgement(server, tmp_path,
                                                                    monkeypatch):
  courier = start_courier(tmp_path / "outbox.sqlite3", config_for(server))
  sr.wait_for(lambda: courier.status()["connected"], what="the connection")
  server.insert_answer_delay = 2.0         # Stored at once, answered 2 s later.
  monkeypatch.setattr(courier_lib.S, "HTTP_TIMEOUT_SECONDS", 0.2)   # close() waits ~1.2 s.
  sinks_lib.DeviceHiveSink(courier).emit(event(1))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 1, what="the notification stored")
  courier.close(drain_timeout=0)
  courier._thread.join(10)                 # The answer still arrives after close() returned.
  assert not courier._thread.is_alive()
  # The next start finds nothing to send again: the delivery was acknowledged.
  with outbox_lib.Outbox(str(tmp_path / "outbox.sqlite3")) as left:   # (Its lock is free.)
    assert left.counters()["queued"] == 0


def test_a_deleted_device_is_registered_again(server, tmp_path):
  sink = sinks_lib.DeviceHiveSink(start_courier(tmp_path / "outbox.sqlite3", config_for(server)))
  sink.emit(event(1))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 1, what="first notification")
  server.devices.clear()
  sink.emit(event(2))
  sr.wait_for(lambda: len(server.received(DEVICE)) == 2, what="delivery after re-registering")
  sink.close()
  assert server.count("device/save", 204) == 2


def test_settings_file_is_private_and_secrets_never_leave(tmp_path, server):
  store = config_lib.ConfigStore(str(tmp_path / "state" / "devicehive.json"))
  saved = store.save(config_for(server, login="me", password="hunter2-pass"))
  assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
  assert store.load() == saved
  view = saved.public_view()
  assert view["has_refresh_token"] and view["has_password"]
  assert saved.refresh_token not in str(view) and "hunter2" not in str(view)
  kept = saved.updated({"device_name": "Hall", "refresh_token": "", "password": ""})
  assert (kept.refresh_token, kept.password, kept.device_name) == (
      saved.refresh_token, saved.password, "Hall")
  # Another transport on the same host and port keeps the stored secrets ...
  host = saved.server_url.split("//")[1].split("/")[0]
  other_transport = (f"ws://{host}/api/websocket" if saved.server_url.startswith("http")
                     else f"http://{host}/api/rest")
  moved = saved.updated({"server_url": other_transport}).validate()
  assert (moved.refresh_token, moved.password) == (saved.refresh_token, saved.password)
  # ... another host or port does not: a stored secret never goes to a server it
  # was not given for, so the new server needs its own.
  for endpoint in ("https://elsewhere.example/api/rest", "wss://elsewhere.example/api/websocket",
                   f"http://{host.split(':')[0]}:1/api/rest"):
    with pytest.raises(config_lib.ConfigError) as refused:
      saved.updated({"server_url": endpoint}).validate()
    assert set(refused.value.errors) == {"refresh_token", "password"}   # (login "me" is kept)
    given = saved.updated({"server_url": endpoint, "refresh_token": "new.token.value"})
    assert given.validate().server_url == endpoint and not given.password
  with pytest.raises(config_lib.ConfigError) as bad:
    saved.updated({"server_url": "ftp://x", "device_id": "no spaces!",
                   "notification_name": " "}).validate()
  assert set(bad.value.errors) == {"server_url", "device_id", "notification_name",
                                   "refresh_token", "password"}   # A new host needs secrets.
  with pytest.raises(config_lib.ConfigError):
    saved.updated({"clear_secrets": "on"}).validate()   # No way left to authenticate.


def test_one_process_at_a_time_opens_an_outbox_and_a_junk_file_is_named(tmp_path):
  import sqlite3
  path = str(tmp_path / "state" / "outbox.sqlite3")
  first = outbox_lib.Outbox(path)
  first.put({"notification": "a"})
  with pytest.raises(outbox_lib.OutboxError, match="in use by another soundscope process"):
    outbox_lib.Outbox(path)        # A second `serve` on the same state folder.
  first.close()
  again = outbox_lib.Outbox(path)
  assert again.counters()["queued"] == 1
  again.close()
  junk = tmp_path / "junk.sqlite3"
  junk.write_bytes(b"not a database at all" * 100)
  with pytest.raises(outbox_lib.OutboxError, match=f"{junk}: not a usable outbox"):
    outbox_lib.Outbox(str(junk))
  assert not isinstance(outbox_lib.OutboxError("x"), sqlite3.Error)
