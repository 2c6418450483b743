"""Secrets and access: credentials in URLs, nothing echoed, the page's guards and password."""

import argparse
import base64
import datetime
import json
import logging
import socket
import urllib.parse

import pytest
import requests

import support_runtime as sr
from devicehive_server import DeviceHiveServer
from soundscope.cli import main as main_cli
from soundscope.cli import serve as serve_cli
from soundscope.configs import runtime as S
from soundscope.runtime import config as config_lib
from soundscope.runtime import courier as courier_lib
from soundscope.runtime import credentials
from soundscope.runtime import history as history_lib
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import outbox as outbox_lib
from soundscope.runtime import sinks as sinks_lib
from soundscope.runtime import web
from soundscope.runtime import windows
from soundscope.runtime.web import hub as hub_lib

MQTT_SECRET = "mqtt-Pa55/word+x"     # '/' and '+' change when URL-quoted: both forms are caught.


def every_get_answer(client):
  """(path, text) of every GET route without parameters, and the first events of the stream."""
  answers = []
  for rule in client.application.url_map.iter_rules():
    if "GET" in rule.methods and not rule.arguments and rule.rule != "/api/stream":
      response = client.get(rule.rule)
      assert response.status_code in (200, 204, 404), (rule.rule, response.status_code)
      answers.append((rule.rule, response.get_data(as_text=True)))
  stream = client.get("/api/stream")
  chunks = stream.response
  answers.append(("/api/stream", "".join(next(chunks).decode() for _ in range(2))))
  stream.close()
  return answers


def test_a_url_with_credentials_is_split_used_and_never_echoed(tmp_path, caplog):
  devicehive = DeviceHiveServer().start()
  password = devicehive.password
  try:
    store = config_lib.ConfigStore(str(tmp_path / "state" / "devicehive.json"))
    courier = courier_lib.Courier(outbox_lib.Outbox(str(tmp_path / "state" / "outbox.sqlite3")),
                                  store.load(), backoff_initial=0.05, backoff_max=0.3)
    hub = hub_lib.EventHub()
    sinks = sinks_lib.SinkSet([sinks_lib.WebSink(hub), sinks_lib.DeviceHiveSink(courier, windows=True)])
    history = history_lib.History(str(tmp_path / "state" / "history.sqlite3"))
    mqtt_url = f"mqtts://monitor:{urllib.parse.quote(MQTT_SECRET, safe='')}@broker.example/"
    credentials.split_url(mqtt_url)   # What an MQTT sink does with --mqtt-url:
    credentials.remember(MQTT_SECRET)  # the password becomes a remembered secret.
    settings = serve_cli.settings_view(
        argparse.Namespace(mqtt_url=mqtt_url, mqtt_password_file="/x", top_k=3))
    assert settings == {"mqtt_url": "mqtts://[secret]@broker.example/", "top_k": 3}
    # A status that carries a secret by accident (an error message quoting a URL) is blanked.
    leaky = {"model": "band-energy", "mqtt": {"last_error": f"refused: {mqtt_url}"}}
    app = web.create_app(hub, store, courier, lambda: leaky, history=history,
                         settings=dict(settings, leak=MQTT_SECRET))
    client = app.test_client()

    given = devicehive.base_url.replace("http://", f"http://{devicehive.login}:{password}@")
    answer = client.post("/api/config", json={"server_url": given, "device_id": "safe-1"})
    assert answer.status_code == 200, answer.get_json()
    stored = store.load()
    assert (stored.server_url, stored.login, stored.password) == (
        devicehive.base_url, devicehive.login, password)
    assert password not in json.dumps(answer.get_json())
    refused = config_lib.DeviceHiveConfig(server_url=given, refresh_token="t", device_id="d")
    with pytest.raises(config_lib.ConfigError, match="not in the URL"):
      refused.validate()

    # The split login and password work: a window is delivered.
    runner = sr.BandEnergyClassifier()
    samples, rate = sr.read_clip(sr.DOG_CLIP)
    t0 = datetime.datetime(2026, 11, 26, 12, tzinfo=datetime.timezone.utc)
    loop = loop_lib.Loop(None, runner, sinks, top_k=3)
    sinks.emit(loop.process(windows.Window(samples[:rate].reshape(-1, 1), rate, 0, t0,
                                           t0 + datetime.timedelta(seconds=1), 0.0)))
    sr.wait_for(lambda: len(devicehive.received("safe-1")) == 1, what="delivery")

    caplog.set_level(logging.INFO)
    credentials.install_log_redaction()
    logging.getLogger("soundscope.test").warning("cannot reach %s (%s)", given, mqtt_url)
    answers = every_get_answer(client)
    assert {path for path, _ in answers} >= {"/", "/events", "/api/status", "/api/config",
                                             "/api/settings", "/api/events", "/api/timeline",
                                             "/api/history/events", "/api/stream"}
    quoted = urllib.parse.quote(MQTT_SECRET, safe="")
    for path, text in answers + [("log", caplog.text)]:
      for secret in (password, MQTT_SECRET, quoted):
        assert secret not in text, f"{path} echoes a secret"
    assert "[secret]" in caplog.text and "[secret]" in dict(answers)["/api/status"]
    assert '"server_url":"' + devicehive.base_url in dict(answers)["/api/status"].replace(" ", "")
  finally:
    sinks.close()
    devicehive.stop()


@pytest.fixture
def guarded(tmp_path):
  store = config_lib.ConfigStore(str(tmp_path / "devicehive.json"))
  app = web.create_app(hub_lib.EventHub(), store, None, lambda: {"model": "m"})
  server = serve_cli.start_web(app, "127.0.0.1", 0)
  yield app, server
  server.shutdown()


def test_loopback_names_including_ipv6_are_answered_and_cross_site_changes_refused(guarded):
  app, server = guarded
  client = app.test_client()
  port = server.port
  for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", "LOCALHOST:1", "[::1]",
               f"[::1]:{port}"):
    assert client.get("/api/config", headers={"Host": host}).status_code == 200, host
  for host in ("attacker.example", f"attacker.example:{port}", "[::2]:80", "127.0.0.1.nip.io",
               "[::1.evil.example]"):
    assert client.get("/", headers={"Host": host}).status_code == 400, host
  change = {"device_name": "Hall"}
  own = f"http://[::1]:{port}"
  assert client.post("/api/config", json=change, headers={
      "Host": f"[::1]:{port}", "Origin": own, "Sec-Fetch-Site": "same-origin"}).status_code == 200
  for headers in ({"Origin": "http://attacker.example"}, {"Origin": "null"},
                  {"Origin": f"http://localhost:{port}"},   # Another origin than the Host's.
                  {"Sec-Fetch-Site": "cross-site"}):
    answer = client.post("/api/config", json={"device_name": "Evil"},
                         headers=dict(headers, Host=f"[::1]:{port}"))
    assert answer.status_code == 403, headers
  assert app.test_client().get("/api/config").get_json()["device_name"] == "Hall"

  try:   # The same over a real IPv6 loopback socket, when this machine has one.
    probe = socket.socket(socket.AF_INET6)
    probe.bind(("::1", 0))
    probe.close()
  except OSError:
    return
  six = serve_cli.start_web(app, "::1", 0)
  try:
    url = f"http://[::1]:{six.port}"
    assert requests.get(url + "/api/config", timeout=10).status_code == 200
    assert requests.post(url + "/api/config", json=change, headers={"Origin": url},
                         timeout=10).status_code == 200
  finally:
    six.shutdown()


def test_page_password_is_asked_for_every_request(tmp_path):
  store = config_lib.ConfigStore(str(tmp_path / "devicehive.json"))
  app = web.create_app(hub_lib.EventHub(), store, None, lambda: {}, trusted_hosts=None,
                       page_password="page-pw-4242")
  client = app.test_client()
  for path in ("/", "/api/status", "/api/config", "/static/app.js", "/audio/x.wav"):
    answer = client.get(path)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Basic")

  def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
  assert client.get("/", headers=basic("anyone", "wrong")).status_code == 401
  assert client.get("/", headers=basic("anyone", "page-pw-4242")).status_code == 200
  assert client.get("/api/status", headers={"Authorization": "Bearer page-pw-4242"}
                    ).status_code == 200
  page = client.get("/", headers={"Host": "192.0.2.7:8000", **basic("u", "page-pw-4242")})
  assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
  assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_serve_refuses_a_network_address_without_the_flag_and_a_password(tmp_path, capsys,
                                                                          monkeypatch):
  monkeypatch.delenv("SOUNDSCOPE_PAGE_PASSWORD", raising=False)
  cases = [
      (["--host", "0.0.0.0"], "--host 0.0.0.0 is not a loopback address"),
      (["--host", "::", "--allow-remote"], "--allow-remote needs a page password"),
      (["--host", "0.0.0.0", "--allow-remote", "--page-password-file", str(tmp_path / "none")],
       "cannot read the secret"),
  ]
  for extra, message in cases:
    assert main_cli.main(["serve", "--state-dir", str(tmp_path / "state"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("soundscope serve: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
  assert S.LOOPBACK_HOST_NAMES == ("127.0.0.1", "localhost", "[::1]")
  assert serve_cli._is_loopback("::1") and not serve_cli._is_loopback("0.0.0.0")
  password_file = tmp_path / "pw"
  password_file.write_text("from-a-file-77\n")
  args = argparse.Namespace(page_password_file=str(password_file), host="0.0.0.0",
                            allow_remote=True)
  assert serve_cli.page_password(args) == "from-a-file-77"
  assert credentials.redact("x from-a-file-77 y") == "x [secret] y"
