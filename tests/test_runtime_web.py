"""The web page and its JSON API, in a real headless browser (Debian's chromium + Playwright)."""

import datetime
import json
import os
import re
import stat
import threading

import pytest

import support_browser
import support_runtime as sr
from devicehive_server import DeviceHiveServer
from soundscope.runtime import config as config_lib
from soundscope.runtime import courier as courier_lib
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import outbox as outbox_lib
from soundscope.cli import serve as serve_cli
from soundscope.runtime import sinks as sinks_lib
from soundscope.runtime import web
from soundscope.runtime import windows
from soundscope.runtime.web import hub as hub_lib

T0 = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)
SECRET = "refresh-SECRET-do-not-echo-0123456789"


class Stack:
  """Loop pieces + Flask app served on loopback + a local DeviceHive server."""

  def __init__(self, tmp_path):
    self.devicehive = DeviceHiveServer().start()
    self.store = config_lib.ConfigStore(str(tmp_path / "state" / "devicehive.json"))
    self.store.save(config_lib.DeviceHiveConfig(
        server_url=self.devicehive.base_url, refresh_token=self.devicehive.issue_refresh_token(),
        device_id="web-test", device_name="Web test"))
    self.courier = courier_lib.Courier(
        outbox_lib.Outbox(str(tmp_path / "state" / "outbox.sqlite3")), self.store.load(),
        backoff_initial=0.05, backoff_max=0.3)
    self.hub = hub_lib.EventHub()
    self.sinks = sinks_lib.SinkSet([sinks_lib.WebSink(self.hub),
                                    sinks_lib.DeviceHiveSink(self.courier, windows=True)])
    self.loop = loop_lib.Loop(None, sr.BandEnergyClassifier(), self.sinks, top_k=3)
    self.app = web.create_app(self.hub, self.store, self.courier,
                              lambda: {"model": "band-energy", "windows": self.loop.processed})
    self.server = serve_cli.start_web(self.app, "127.0.0.1", 0)
    self.url = f"http://127.0.0.1:{self.server.port}"

  def classify(self, relative, seconds, offset):
    """Runs the loop on a real clip and sends the event to the sinks; returns the event."""
    samples, rate = sr.read_clip(relative)
    start = T0 + datetime.timedelta(seconds=offset)
    window = windows.Window(samples[:int(seconds * rate)].reshape(-1, 1), rate, 0, start,
                            start + datetime.timedelta(seconds=seconds), 0.0)
    event = self.loop.process(window)
    self.sinks.emit(event)
    return event

  def close(self):
    self.sinks.close()
    self.server.shutdown()
    self.devicehive.stop()


@pytest.fixture
def stack(tmp_path):
  stack = Stack(tmp_path)
  yield stack
  stack.close()


def test_json_api_and_events_page(stack):
  client = stack.app.test_client()
  config = client.get("/api/config").get_json()
  assert config["has_refresh_token"] and "refresh_token" not in config
  assert config["notification_name"] == "audio_analysis"

  events = [stack.classify(sr.RAIN_CLIP, 1.0, n) for n in range(12)]
  recent = client.get("/api/events").get_json()["events"]
  assert [e["sequence"] for e in recent] == list(range(12, 0, -1))
  assert recent[0] == json.loads(json.dumps(events[-1].to_dict()))
  assert recent[0]["predictions"] == [{"label": p.label, "index": p.index, "score": p.score}
                                      for p in events[-1].predictions]
  page = client.get("/events").get_data(as_text=True)
  shown = re.findall(r'<time datetime="([^"]+)"', page)
  assert len(shown) == 20      # Ten rows, start and end each.
  assert shown[:2] == ["2026-11-26T12:00:11.000Z", "2026-11-26T12:00:12.000Z"]
  assert "2026-11-26T12:00:01.000Z" not in page   # The 11th-newest is gone.

  sr.wait_for(lambda: client.get("/api/status").get_json()["devicehive"]["sent"] == 12,
              what="DeviceHive delivery")
  status = client.get("/api/status").get_json()
  assert status["devicehive"]["connected"] and status["runtime"]["windows"] == 12

  bad = client.post("/api/config", json={"device_id": "spaces are not allowed"})
  assert bad.status_code == 400 and "device_id" in bad.get_json()["errors"]
  not_json = client.post("/api/config", data="device_id=x")
  assert not_json.status_code == 400
  good = client.post("/api/config", json={"device_name": "Hall", "notification_name": "heard"})
  assert good.status_code == 200 and good.get_json()["device_name"] == "Hall"
  assert stack.courier.config.notification_name == "heard"
  forged = client.post("/config", data={"device_name": "Evil", "form_token": "guess"})
  assert forged.status_code == 400 and stack.store.load().device_name == "Hall"


def _stream_predictions(client, count, **kwargs):
  """The first `count` predictions of /api/stream as (id, sequence) pairs (fails after 20 s)."""
  got = []
  reader = threading.Thread(target=_read_stream, args=(client, count, got, kwargs), daemon=True)
  reader.start()
  reader.join(20)
  assert not reader.is_alive(), f"the stream sent {len(got)} of {count} predictions"
  return got


def _read_stream(client, count, got, kwargs):
  response = client.get("/api/stream", buffered=False, **kwargs)
  fields = {}
  try:
    for line in _lines(response):
      if line == "":
        if fields.get("event") == "prediction":
          got.append((fields.get("id"), json.loads(fields["data"])["sequence"]))
          if len(got) == count:
            return
        fields = {}
      elif not line.startswith(":"):
        name, _, value = line.partition(": ")
        fields[name] = value
  finally:
    response.close()


def _lines(response):
  pending = ""
  for chunk in response.iter_encoded():
    pending += chunk.decode()
    *lines, pending = pending.split("\n")
    yield from lines


def test_an_event_published_before_the_page_streams_is_not_lost(stack):
  # The page is rendered, then an event is published, then the page's stream opens:
  # the stream starts with that event (it was lost before: a CI failure of the browser test).
  client = stack.app.test_client()
  stack.classify(sr.RAIN_CLIP, 1.0, 0)
  page = client.get("/").get_data(as_text=True)
  after = re.search(r'data-stream-after="([^"]+)"', page).group(1)
  stack.classify(sr.RAIN_CLIP, 1.0, 1)
  stack.classify(sr.DOG_CLIP, 1.0, 2)
  first = _stream_predictions(client, 2, query_string={"after": after})
  assert [sequence for _, sequence in first] == [2, 3]
  # A browser that reconnects sends the last id it got (Last-Event-ID): only newer ones follow.
  stack.classify(sr.DOG_CLIP, 1.0, 3)
  again = _stream_predictions(client, 1, headers={"Last-Event-ID": first[0][0]},
                              query_string={"after": after})
  assert [sequence for _, sequence in again] == [3]
  # An id from another server (restarted) replays what this one keeps.
  other = _stream_predictions(client, 4, query_string={"after": "0badcafe-2"})
  assert [sequence for _, sequence in other] == [1, 2, 3, 4]


def test_a_rebound_host_name_gets_no_answer_on_loopback(stack):
  # DNS rebinding: a web site's own name resolves to 127.0.0.1, and the browser
  # sends that name in the Host header.  The page answers loopback names only.
  import requests
  port = stack.server.port
  for path in ("/", "/api/config", "/api/status"):
    assert requests.get(stack.url + path, headers={"Host": f"attacker.example:{port}"},
                        timeout=10).status_code == 400
  hijack = requests.post(stack.url + "/api/config", json={"server_url": "http://attacker.example/"},
                         headers={"Host": f"attacker.example:{port}"}, timeout=10)
  assert hijack.status_code == 400
  assert stack.store.load().server_url == stack.devicehive.base_url
  for name in ("127.0.0.1", "localhost"):
    assert requests.get(stack.url + "/api/config", headers={"Host": f"{name}:{port}"},
                        timeout=10).status_code == 200


@pytest.fixture(scope="module")
def browser():
  """The module's one Chromium (support_browser; skips when absent)."""
  with support_browser.chromium() as launched:
    yield launched


@pytest.mark.slow
def test_page_updates_live_and_round_trips_settings_without_secrets(stack, browser, tmp_path):
  page = browser.new_page()
  page.goto(stack.url + "/")
  page.wait_for_selector("#dh-connected[data-connected='true']", timeout=15000)
  assert page.text_content("#latest").startswith("Waiting")
  page.evaluate("window.__notReloaded = true")

  event = stack.classify(sr.RAIN_CLIP, 3.0, 0)
  page.wait_for_function(
      "text => document.getElementById('latest').textContent === text", arg=event.to_dict()["text"],
      timeout=15000)
  page.wait_for_function("() => document.getElementById('dh-sent').textContent === '1'",
                         timeout=15000)
  first = page.text_content("#predictions li")
  assert event.predictions[0].label in first
  assert page.get_attribute("#predictions li time", "datetime") == "2026-11-26T12:00:03.000Z"
  assert page.get_attribute("#predictions li time", "title") == "2026-11-26 12:00:03 UTC"
  second = stack.classify(sr.DOG_CLIP, 3.0, 10)
  page.wait_for_function("() => document.querySelectorAll('#predictions li').length === 2",
                         timeout=15000)
  assert page.evaluate("window.__notReloaded") is True
  assert second.to_dict()["text"] in page.text_content("#predictions li")
  page.wait_for_function("() => document.getElementById('dh-sent').textContent === '2'",
                         timeout=15000)
  assert page.text_content("#dh-queued") == "0" and page.text_content("#dh-dropped") == "0"

  # Settings: a new refresh token and device; the token goes in and never comes back.
  page.fill("#device_id", "kitchen-2")
  page.fill("#device_name", "Kitchen")
  page.fill("#refresh_token", SECRET)
  page.click("#save")
  page.wait_for_selector("#saved")
  saved = stack.store.load()
  assert (saved.device_id, saved.device_name, saved.refresh_token) == ("kitchen-2", "Kitchen",
                                                                       SECRET)
  assert stat.S_IMODE(os.stat(stack.store.path).st_mode) == 0o600
  assert page.input_value("#device_id") == "kitchen-2"
  assert page.input_value("#refresh_token") == ""
  assert "stored" in page.get_attribute("#refresh_token", "placeholder")
  assert SECRET not in page.content()
  assert SECRET not in page.evaluate("fetch('/api/config').then(r => r.text())")
  assert SECRET not in page.evaluate("fetch('/api/status').then(r => r.text())")

  # An invalid value is refused, explained, and the typed secret is not echoed.
  page.fill("#device_id", "no spaces")
  page.fill("#password", "typed-password-never-echoed")
  page.click("#save")
  page.wait_for_selector("#device_id-error")
  assert "letters, digits and dashes" in page.text_content("#device_id-error")
  assert "typed-password-never-echoed" not in page.content()
  assert stack.store.load().device_id == "kitchen-2"
  page.close()


def test_a_broken_server_url_or_port_and_a_bad_limit_are_400_not_500(stack):
  client = stack.app.test_client()
  for url, words in (("http://[::1/api", "Invalid IPv6 URL"),
                     ("http://127.0.0.1:99999/api/rest", "1-65535"),
                     ("http://127.0.0.1:0/api/rest", "1-65535"),
                     ("ws://host:port/api/websocket", "1-65535"),
                     ("http://me:pw@[::1/api", "Invalid IPv6 URL")):
    answer = client.post("/api/config", json={"server_url": url})
    assert answer.status_code == 400, (url, answer.get_data(as_text=True))
    assert list(answer.get_json()["errors"]) == ["server_url"] and \
        words in answer.get_json()["errors"]["server_url"], answer.get_json()
  assert stack.store.load().server_url == stack.devicehive.base_url     # Unchanged.
  token = re.search(r'name="form_token" value="([^"]+)"',
                    client.get("/").get_data(as_text=True)).group(1)
  form = client.post("/config", data={"server_url": "http://[::1/api", "form_token": token})
  assert form.status_code == 400 and "Invalid IPv6 URL" in form.get_data(as_text=True)
  with pytest.raises(config_lib.ConfigError, match="server_url"):
    config_lib.DeviceHiveConfig(server_url="http://h:70000/api/rest", refresh_token="t",
                                device_id="d").validate()
  for bad in ("abc", "-1", "0", "1.5"):
    answer = client.get(f"/api/events?limit={bad}")
    assert answer.status_code == 400 and "limit" in answer.get_json()["error"], bad
  assert client.get("/api/events?limit=2").status_code == 200
