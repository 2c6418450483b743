"""MQTT sink against a real Mosquitto: topics, retained state, Home Assistant discovery,
the last will, and a broker stopped and restarted with nothing lost or repeated."""

import datetime
import json
import shutil
import time

import pytest

import support_mqtt as sm
import support_runtime as sr
from soundscope.runtime import mqtt
from soundscope.runtime import prediction

T0 = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc)


def notice(kind, label, start, end=None, peak=0.9):
  at = lambda seconds: None if seconds is None else T0 + datetime.timedelta(seconds=seconds)
  return prediction.EventNotice(
      kind=kind, label=label, source="test", model="yamnet", model_version="1",
      label_set="esc10", start_seconds=start, end_seconds=end if kind == "end" else None,
      start_utc=at(start), end_utc=at(end) if kind == "end" else None, peak_score=peak,
      mean_score=peak, windows=2)


def test_urls_with_credentials_or_another_scheme_are_refused_in_one_line():
  assert mqtt.parse_url("mqtt://broker.lan:1884/home/sound") == ("broker.lan", 1884,
                                                                "home/sound")
  assert mqtt.parse_url("mqtt://127.0.0.1") == ("127.0.0.1", 1883, "soundscope")
  with pytest.raises(mqtt.MqttUrlError) as refused:
    mqtt.parse_url("mqtt://me:hunter2@broker.lan/x")
  assert "hunter2" not in str(refused.value) and "SOUNDSCOPE_MQTT_PASSWORD" in str(refused.value)
  for bad in ("http://broker.lan", "mqtt:///prefix", "mqtt://h:99999", "mqtt://h/a/#"):
    with pytest.raises(mqtt.MqttUrlError):
      mqtt.parse_url(bad)
  assert mqtt.slug("Chicken, rooster") == "chicken_rooster"


@pytest.mark.slow
def test_events_topics_retained_state_discovery_and_a_broker_restart(tmp_path):
  broker = sm.Broker(tmp_path / "broker").start()
  subscriber = sm.Subscriber(broker.port)
  labels = ["dog", "Chicken, rooster"]
  sink = mqtt.MqttSink("127.0.0.1", broker.port, "home", "kitchen", labels,
                       str(tmp_path / "outbox.sqlite3"), reconnect_min=0.1, reconnect_max=0.4)
  base = "home/kitchen"
  try:
    sr.wait_for(lambda: "online" in subscriber.on(f"{base}/status"), what="online")
    sent = [notice("start", "dog", 1.0), notice("end", "dog", 1.0, 2.5)]
    for item in sent:
      sink.event(item)
    sr.wait_for(lambda: len(subscriber.on(f"{base}/dog/event")) == 2, what="the dog event")
    assert subscriber.on(f"{base}/dog/state")[-2:] == ["ON", "OFF"]
    # The broker goes away for ~1.5 s with a short backoff (the 60 s outage with the
    # default backoff is the test below; the bound is the outbox's size,
    # configs.monitoring.MQTT_OUTBOX_MAX_MESSAGES, not a time).
    broker.stop()
    during = []
    for i in range(5):
      during += [notice("start", "Chicken, rooster", 10.0 + i),
                 notice("end", "Chicken, rooster", 10.0 + i, 10.5 + i)]
    for item in during:
      sink.event(item)
      time.sleep(0.15)
    assert sink.status()["queued"] > 0 and not sink.status()["connected"]
    broker.start()
    topic = f"{base}/chicken_rooster/event"
    sr.wait_for(lambda: len(subscriber.on(topic)) >= len(during), timeout=20,
                what="the events published while the broker was down")
    time.sleep(0.5)     # Any duplicate would arrive meanwhile.
    assert subscriber.json_on(topic) == [item.to_dict() for item in during]
    assert subscriber.json_on(f"{base}/dog/event") == [item.to_dict() for item in sent]
    assert sink.status()["queued"] == 0 and sink.status()["connections"] >= 2
    # What a new client (Home Assistant) finds retained.
    late = sm.Subscriber(broker.port, client_id="late", clean=True)
    sr.wait_for(lambda: len([m for m in late.messages if m[2]]) >= 5, what="retained messages")
    retained = {t: p for t, p, flag in late.messages if flag}
    late.close()
    assert retained[f"{base}/status"] == "online"
    assert retained[f"{base}/dog/state"] == "OFF"
    assert retained[f"{base}/chicken_rooster/state"] == "OFF"
    config = json.loads(retained["homeassistant/binary_sensor/kitchen/chicken_rooster/config"])
    assert config["name"] == "Chicken, rooster" and config["device_class"] == "sound"
    assert config["state_topic"] == f"{base}/chicken_rooster/state"
    assert config["availability_topic"] == f"{base}/status"
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert "homeassistant/binary_sensor/kitchen/dog/config" in retained
  finally:
    sink.close()
    subscriber.close()
  assert subscriber.on(f"{base}/status")[-1] == "offline"
  broker.stop()


OUTAGE_SECONDS = 60.0          # Issue 21's fault: the broker stopped for 60 s, then restarted.


@pytest.mark.slow
def test_a_60_s_broker_outage_with_the_default_backoff_loses_and_repeats_nothing(tmp_path):
  """An event every 2 s while the broker is down for 60 s: with the sink's default
  reconnection backoff (configs.monitoring) all arrive once, in order, within the
  longest backoff wait after the broker is back.  Mostly waiting, little CPU."""
  from soundscope.configs import monitoring as M
  broker = sm.Broker(tmp_path / "broker").start()
  subscriber = sm.Subscriber(broker.port)
  sink = mqtt.MqttSink("127.0.0.1", broker.port, "home", "yard", ["dog"],
                       str(tmp_path / "outbox.sqlite3"))
  topic = "home/yard/dog/event"
  try:
    sr.wait_for(lambda: "online" in subscriber.on("home/yard/status"), what="online")
    broker.stop()
    down, during = time.monotonic(), []
    while time.monotonic() - down < OUTAGE_SECONDS:
      start = 2.0 * len(during)
      during.append(notice("end", "dog", start, start + 1.0))
      sink.event(during[-1])
      time.sleep(2.0)
    assert not sink.status()["connected"] and sink.status()["queued"] >= len(during)
    broker.start()
    back = time.monotonic()
    sr.wait_for(lambda: len(subscriber.on(topic)) >= len(during),
                timeout=M.MQTT_RECONNECT_MAX_SECONDS + 20,
                what="the events published while the broker was down")
    caught_up = time.monotonic() - back
    time.sleep(1.0)     # Any duplicate would arrive meanwhile.
    assert subscriber.json_on(topic) == [item.to_dict() for item in during]
    assert len(during) >= 29 and sink.status()["queued"] == 0
    assert caught_up <= M.MQTT_RECONNECT_MAX_SECONDS + 10, caught_up
  finally:
    sink.close()
    subscriber.close()
    broker.stop()


def test_wrong_credentials_stop_in_one_line_and_right_ones_connect(tmp_path):
  broker = sm.Broker(tmp_path / "broker", users={"sound": "right-pass"}).start()
  try:
    with pytest.raises(mqtt.MqttRefused) as refused:
      mqtt.MqttSink.from_url(broker.url, "n", ["dog"], str(tmp_path / "a.sqlite3"),
                             environ={"SOUNDSCOPE_MQTT_USERNAME": "sound",
                                      "SOUNDSCOPE_MQTT_PASSWORD": "wrong-pass"})
    message = str(refused.value)
    assert "refused" in message and "wrong-pass" not in message and "\n" not in message
    sink = mqtt.MqttSink.from_url(broker.url, "n", ["dog"], str(tmp_path / "b.sqlite3"),
                                  password="right-pass",
                                  environ={"SOUNDSCOPE_MQTT_USERNAME": "sound"})
    assert sink.connected and sink.refused is None
    sink.close()
  finally:
    broker.stop()


def test_past_the_outbox_bound_the_oldest_are_dropped_counted_and_said_once(tmp_path, caplog):
  broker = sm.Broker(tmp_path / "broker")            # Not started yet: the broker is down.
  sink = mqtt.MqttSink("127.0.0.1", broker.port, "p", "n", ["dog"],
                       str(tmp_path / "outbox.sqlite3"), capacity=4, reconnect_min=0.1,
                       reconnect_max=0.2)
  try:
    for number in range(5):                          # 10 messages: state and JSON each.
      sink.event(notice("start", "dog", float(number)))
    status = sink.status()
    assert (status["queued"], status["dropped"]) == (4, 6) and not status["connected"]
    said = [r.getMessage() for r in caplog.records if "outbox is full" in r.getMessage()]
    assert len(said) == 1, said
    broker.start()
    sr.wait_for(lambda: sink.status()["queued"] == 0, what="the kept messages delivered")
    assert sink.status()["sent"] == 4
    said = [r.getMessage() for r in caplog.records if "outbox" in r.getMessage()]
    assert len(said) == 2 and "room again (6 dropped in all)" in said[1], said
  finally:
    sink.close()
    broker.stop()



def test_messages_left_for_one_broker_never_reach_another(tmp_path, caplog):
  # Broker A is down: its events wait in its outbox.  The next run publishes to broker B,
  # through B's own outbox (outbox_path), or through a copy of A's (one shared file, as
  # before the fix): B gets none of A's messages, and A gets them once it is used again.
  state = str(tmp_path / "state")
  first, second = sm.Broker(tmp_path / "a"), sm.Broker(tmp_path / "b").start()
  left = mqtt.outbox_path(state, "127.0.0.1", first.port, "p", "n")
  assert left != mqtt.outbox_path(state, "127.0.0.1", first.port, "p", "m") != \
      mqtt.outbox_path(state, "127.0.0.1", first.port, "q", "m")
  sink = mqtt.MqttSink("127.0.0.1", first.port, "p", "n", ["dog"], left, reconnect_min=0.1)
  sink.event(notice("start", "dog", 1.0))
  sink.event(notice("end", "dog", 1.0, 2.0))
  sink.close(drain_seconds=0)
  shared = str(tmp_path / "shared.sqlite3")
  shutil.copyfile(left, shared)
  subscriber = sm.Subscriber(second.port, client_id="broker-b", clean=True)
  try:
    for path in (mqtt.outbox_path(state, "127.0.0.1", second.port, "p", "n"), shared):
      caplog.clear()
      subscriber.messages.clear()
      other = mqtt.MqttSink("127.0.0.1", second.port, "p", "n", ["dog"], path,
                            reconnect_min=0.1)
      try:
        other.event(notice("start", "dog", 50.0))
        sr.wait_for(lambda: len(subscriber.on("p/n/dog/event")) == 1, what="B's own event")
        time.sleep(0.3)
        assert [e["start_seconds"] for e in subscriber.json_on("p/n/dog/event")] == [50.0]
        said = [r.getMessage() for r in caplog.records if "queued for" in r.getMessage()]
        if path == shared:     # A's two events (4 messages) dropped, said in one line.
          assert len(said) == 1 and f"mqtt://127.0.0.1:{first.port}/p node n" in said[0], said
          assert other.status()["dropped"] == 4
        else:
          assert said == []
      finally:
        other.close()
  finally:
    subscriber.close()
    second.stop()
  first.start()
  watcher = sm.Subscriber(first.port, client_id="broker-a", clean=True)
  again = mqtt.MqttSink("127.0.0.1", first.port, "p", "n", ["dog"], left, reconnect_min=0.1)
  try:
    sr.wait_for(lambda: len(watcher.on("p/n/dog/event")) == 2, what="A's kept events")
    assert [e["kind"] for e in watcher.json_on("p/n/dog/event")] == ["start", "end"]
  finally:
    again.close()
    watcher.close()
    first.stop()


def test_two_labels_with_one_topic_name_are_refused_at_the_start(tmp_path, capsys):
  with pytest.raises(mqtt.MqttLabelError, match="'Dog!' and 'dog\\?' share the topic name 'dog'"):
    mqtt.MqttSink("127.0.0.1", sm.free_port(), "p", "n", ["Dog!", "cat", "dog?"],
                  str(tmp_path / "outbox.sqlite3"))
  mqtt.check_labels(["Dog", "Cat", "Chicken, rooster"])      # Distinct: fine.
  from soundscope.cli import main as cli_main
  labels = tmp_path / "pets.yaml"
  labels.write_text("name: pets\nlabels:\n  - name: Dog!\n    classes: [Dog]\n"
                    "  - name: dog?\n    classes: [Bark]\n")
  models = sr.import_yamnet(tmp_path / "models")
  code = cli_main.main(["capture", "--model-dir", str(models), "--labels", str(labels),
                        "--mqtt", f"mqtt://127.0.0.1:{sm.free_port()}/p"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1, err
  assert "'Dog!' and 'dog?' share the topic name 'dog'" in err[0] and "error:" in err[0]
