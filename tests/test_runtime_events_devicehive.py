"""DeviceHive gets events, not windows, by default; a refused refresh token is said once
and retried on the backoff's schedule, not at every window (the issue: 17 a minute)."""

import dataclasses
import datetime
import logging
import time

import pytest

import support_runtime as sr
from devicehive_server import DeviceHiveServer
from soundscope.models import classifier as classifier_lib
from soundscope.runtime import config as config_lib
from soundscope.runtime import courier as courier_lib
from soundscope.runtime import outbox as outbox_lib
from soundscope.runtime import prediction
from soundscope.runtime import sinks as sinks_lib

T0 = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc)
DEVICE = "soundscope-events-1"


def notice(number):
  start = T0 + datetime.timedelta(seconds=number)
  return prediction.EventNotice(
      kind="end", label="dog", source="mic", model="yamnet", model_version="1",
      label_set="esc10", start_seconds=float(number), end_seconds=number + 1.5,
      start_utc=start, end_utc=start + datetime.timedelta(seconds=1.5), peak_score=0.9,
      mean_score=0.8, windows=3, saved_audio=("/tmp/record_x.wav",))


def window(number):
  start = T0 + datetime.timedelta(seconds=number)
  return prediction.PredictionEvent(
      sequence=number, start_utc=start, end_utc=start + datetime.timedelta(seconds=5),
      predictions=[classifier_lib.Prediction("Dog", 74, 0.9)], model="yamnet",
      model_version="1", ended_at=0.0, classified_at=0.0)


@pytest.mark.slow
def test_an_expired_refresh_token_is_said_once_and_retried_with_backoff(tmp_path, caplog):
  server = DeviceHiveServer().start()
  caplog.set_level(logging.INFO, logger="soundscope.runtime.courier")
  try:
    server.refresh_ttl = -1.0          # The refresh token has expired; no login to fall back on.
    config = config_lib.DeviceHiveConfig(
        server_url=server.url("rest"), refresh_token=server.issue_refresh_token(),
        device_id=DEVICE, device_name="kitchen").validate()
    courier = courier_lib.Courier(outbox_lib.Outbox(str(tmp_path / "outbox.sqlite3")), config,
                                  backoff_initial=0.2, backoff_max=5.0)
    sink = sinks_lib.DeviceHiveSink(courier, windows=False)   # As serve without --notify-windows.
    for number in range(20):           # 2 s of events arriving every 0.1 s.
      sink.emit(window(number))        # Windows are not notified by default.
      sink.event(notice(number))
      time.sleep(0.1)
    # Backoff 0.2, 0.4, 0.8 s: attempts at about 0, 0.2, 0.6 and 1.4 s (one per event before).
    attempts = server.count("token/refresh")
    assert 2 <= attempts <= 5, attempts
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "token/refresh: HTTP 401" in said[0], said
    assert courier.status()["queued"] == 20
    # A fresh refresh token in the settings: delivered at once, said once.
    server.refresh_ttl = 3600.0
    courier.reconfigure(dataclasses.replace(config, refresh_token=server.issue_refresh_token()))
    sr.wait_for(lambda: len(server.received(DEVICE)) == 20, what="the queued events")
    courier.close()
  finally:
    server.stop()
  received = server.received(DEVICE)
  assert {n["notification"] for n in received} == {"audio_event"}
  assert [n["parameters"]["start_seconds"] for n in received] == [float(i) for i in range(20)]
  assert "saved_audio" not in received[0]["parameters"]
  assert received[0]["parameters"]["kind"] == "end" and received[0]["parameters"]["label"] == "dog"
  said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
  assert len(said) == 2 and "delivering again" in said[1], said
