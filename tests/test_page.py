"""The page in Chromium: the timeline, the events list from the history, saved audio playback,
phone width, and a full disk under --save-path."""

import argparse
import datetime
import os
import subprocess
import time
import zoneinfo

import numpy as np
import pytest
import soundfile

import support_runtime as sr
from soundscope.cli import serve as serve_cli
from soundscope.configs import history as H
from soundscope.runtime import config as config_lib
from soundscope.runtime import history as history_lib
from soundscope.runtime import prediction
from soundscope.runtime import session
from soundscope.runtime import sinks as sinks_lib
from soundscope.runtime import web
from soundscope.runtime.web import hub as hub_lib
from test_runtime_web import browser  # noqa: F401  (the module's one Chromium)

ZONE = "Asia/Kolkata"        # UTC+05:30: local days and times differ from UTC ones.
LABELS = ("Dog", "Speech", "Rain")
EVENTS = 130                 # Three pages of 50.
MINUTE = 60.0


class Site:
  """A history of the last hour's windows and EVENTS events over ~5 days, served on loopback."""

  def __init__(self, folder):
    self.now = time.time()
    self.saved = folder / "saved"
    self.saved.mkdir()
    self.history = history_lib.History(str(folder / "history.sqlite3"))
    for n in range(725):   # The last hour, a window every 5 s, and 20 s ahead (a fast file).
      end = self.now - 3600 + n * 5
      lead = LABELS[(n // 60) % 3]
      self.history.add_window({
          "start_utc": history_lib.iso_utc(end - 5), "end_utc": history_lib.iso_utc(end),
          "source": "microphone", "rms_dbfs": -45 + 20 * np.sin(n / 40), "peak_dbfs": -12.0,
          "predictions": [{"label": lead, "score": 0.9}, {"label": "Silence", "score": 0.3}]})
    self.audio = {}
    for n in range(EVENTS):
      start = self.now - 300 - n * 55 * MINUTE
      label = LABELS[0] if n % 4 == 0 else LABELS[1 + n % 2]
      saved = []
      if n < 4:                                # The newest four have saved windows ...
        moment = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
        path = self.saved / prediction.record_name(moment)
        soundfile.write(str(path), np.full(1600, 1000 * (n + 1), np.int16), 16000,
                        subtype="PCM_16")
        saved.append(str(path))
        self.audio[n] = path
      for kind in ("start", "end"):
        self.history.add_event({
            "kind": kind, "label": label, "source": "microphone", "model": "yamnet",
            "model_version": "1", "label_set": "home", "start_seconds": 0.0,
            "end_seconds": 4.0 if kind == "end" else None,
            "start_utc": history_lib.iso_utc(start),
            "end_utc": history_lib.iso_utc(start + 4) if kind == "end" else None,
            "peak_score": 0.5 + n / 1000, "mean_score": 0.4, "windows": 8, "saved_audio": saved})
    self.deleted = self.audio.pop(3)
    os.unlink(self.deleted)                    # ... but retention deleted the fourth's.
    outside = folder / "outside.wav"
    outside.write_bytes(self.audio[0].read_bytes())
    os.symlink(outside, self.saved / "record_20260101T000000.000Z.wav")
    self.hub = hub_lib.EventHub()
    self.app = web.create_app(
        self.hub, config_lib.ConfigStore(str(folder / "devicehive.json")), None,
        lambda: {"model": "yamnet", "source": "microphone", "windows": 720, "running": True,
                 "sinks": {"history": {"windows_written": 720},
                           "mqtt": {"connected": False, "last_error": "broker down"}},
                 "sink_failures": {"mqtt": {"count": 3, "last_error": "broker down"}},
                 "failing_sinks": ["mqtt"]},
        history=self.history, save_path=str(self.saved), settings={"top_k": 3})
    self.server = serve_cli.start_web(self.app, "127.0.0.1", 0)
    self.url = f"http://127.0.0.1:{self.server.port}/"

  def close(self):
    self.server.shutdown()
    self.history.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
  site = Site(tmp_path_factory.mktemp("site"))
  yield site
  site.close()


def open_page(browser, url, width=1000):
  context = browser.new_context(viewport={"width": width, "height": 900}, timezone_id=ZONE)
  page = context.new_page()
  errors = []
  page.on("pageerror", lambda error: errors.append(error))
  page.on("console", lambda message: message.type == "error" and errors.append(message.text))
  page.goto(url)
  page.wait_for_selector("#event-list tbody tr")
  page.wait_for_function("() => Number(document.getElementById('timeline-chart').dataset.points) > 0")
  return context, page, errors


INK = """() => {
  // Pixels of the plot area (uPlot's .u-over covers it): lane blue, and the level's dark
  // line in the bottom part, under the lanes.
  const canvas = document.querySelector('#timeline-chart canvas');
  const box = canvas.getBoundingClientRect();
  const over = document.querySelector('#timeline-chart .u-over').getBoundingClientRect();
  const scale = canvas.width / box.width;
  const x0 = Math.round((over.left - box.left) * scale), y0 = Math.round((over.top - box.top) * scale);
  const w = Math.round(over.width * scale), h = Math.round(over.height * scale);
  const data = canvas.getContext('2d').getImageData(x0, y0, w, h).data;
  let lane = 0, line = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 40) continue;
    const y = Math.floor(i / 4 / w);
    if (data[i + 2] > data[i] + 60) lane++;
    else if (y > 0.65 * h && data[i] < 90 && data[i + 1] < 90) line++;
  }
  return [lane, line, canvas.width];
}"""


@pytest.mark.slow
def test_timeline_draws_lanes_and_level_and_grows_live(site, browser):
  context, page, errors = open_page(browser, site.url)
  chart = page.locator("#timeline-chart")
  expected = site.history.timeline(site.now - 3600, time.time())["labels"]
  assert chart.get_attribute("data-lanes").split("|") == expected
  assert int(chart.get_attribute("data-points")) >= 590     # ~600 buckets of 6 s in an hour.
  lane, line, width = page.evaluate(INK)
  assert lane > 20000 and line > 800 and width >= 900, (lane, line, width)

  assert site.app.test_client().get("/api/timeline").get_json()["end"][-1] == pytest.approx(
      site.now + 20, abs=1e-3)     # Stored to the millisecond.
  points = int(chart.get_attribute("data-points"))
  end = datetime.datetime.now(datetime.timezone.utc)
  site.hub.publish({"sequence": 1, "text": "Siren: 0.80", "start_utc": prediction.iso_utc(
      end - datetime.timedelta(seconds=5)), "end_utc": prediction.iso_utc(end),
      "predictions": [{"label": "Siren", "index": 0, "score": 0.8}], "rms_dbfs": -20.0,
      "peak_dbfs": -3.0})
  page.wait_for_function(f"() => document.getElementById('timeline-chart').dataset.points > {points}")
  assert chart.get_attribute("data-lanes").split("|")[-1] == "Siren"
  page.hover("#timeline-chart .u-over", position={"x": 5, "y": 5})
  tip = page.locator("#timeline-tip time")
  assert tip.get_attribute("title").endswith(" UTC") and tip.get_attribute("datetime")
  assert page.text_content("#st-sinks li[data-sink='mqtt'][data-ok='false']") == (
      "mqtt: failing: broker down (3 failures)")
  assert page.text_content("#st-sinks li[data-sink='history'][data-ok='true']") == "history: ok"
  page.click("button.span[data-minutes='10']")
  page.wait_for_function("() => Number(document.getElementById('timeline-chart').dataset.points) < 200")
  assert not errors
  context.close()


def local_day(seconds):
  return datetime.datetime.fromtimestamp(seconds, zoneinfo.ZoneInfo(ZONE)).date()


@pytest.mark.slow
def test_event_list_filters_pages_and_plays_saved_audio(site, browser):
  context, page, errors = open_page(browser, site.url)
  rows = page.locator("#event-list tbody tr")
  assert rows.count() == 50 and page.text_content("#events-count") == f"Events 1–50 of {EVENTS}"
  newest = site.history.events(limit=EVENTS)["events"]
  first_time = rows.first.locator("time")
  assert first_time.get_attribute("datetime") == newest[0]["start_utc"]
  local = datetime.datetime.fromisoformat(newest[0]["start_utc"].replace("Z", "+00:00"))
  local = local.astimezone(zoneinfo.ZoneInfo(ZONE))
  assert first_time.text_content() == local.strftime("%Y-%m-%d %H:%M:%S")
  assert first_time.get_attribute("title") == newest[0]["start_utc"][:19].replace("T", " ") + " UTC"

  page.click("#events-older")
  page.wait_for_function("() => document.getElementById('event-list').dataset.offset === '50'")
  assert rows.first.locator("time").get_attribute("datetime") == newest[50]["start_utc"]
  page.click("#events-older")
  page.wait_for_function("() => document.getElementById('event-list').dataset.offset === '100'")
  assert rows.count() == EVENTS - 100 and page.is_disabled("#events-older")
  page.click("#events-newer")
  page.wait_for_function("() => document.getElementById('event-list').dataset.offset === '50'")

  page.select_option("#event-label", "Dog")
  dogs = site.history.events(label="Dog", limit=EVENTS)
  page.wait_for_function(f"() => document.getElementById('event-list').dataset.total === '{dogs['total']}'")
  assert page.evaluate("[...document.querySelectorAll('#event-list tbody tr')]"
                       ".every(r => r.dataset.label === 'Dog')")
  assert rows.count() == dogs["total"] == EVENTS // 4 + 1

  day = local_day(site.now - 2 * 86400)
  midnight = datetime.datetime.combine(day, datetime.time(), zoneinfo.ZoneInfo(ZONE))
  wanted = site.history.events(since=midnight.timestamp(), until=midnight.timestamp() + 86400,
                               limit=EVENTS)
  page.select_option("#event-label", "")
  page.fill("#event-day", day.isoformat())
  page.dispatch_event("#event-day", "change")
  page.wait_for_function(
      f"() => document.getElementById('event-list').dataset.total === '{wanted['total']}'")
  shown = page.evaluate("[...document.querySelectorAll('#event-list tbody time')]"
                        ".map(t => t.getAttribute('datetime'))")
  assert shown == [e["start_utc"] for e in wanted["events"]] and 20 <= len(shown) <= 30
  assert {local_day(history_lib.epoch_seconds(s)) for s in shown} == {day}

  page.fill("#event-day", "")
  page.dispatch_event("#event-day", "change")
  page.wait_for_function(f"() => document.getElementById('event-list').dataset.total === '{EVENTS}'")
  page.click("#event-list tbody tr:nth-child(2) button.play")
  src = page.get_attribute("#player", "src")
  assert src == "/audio/" + site.audio[1].name
  status, kind, head = page.evaluate("""src => fetch(src, {cache: 'no-store'}).then(async r => [r.status,
      r.headers.get('content-type'), [...new Uint8Array(await r.arrayBuffer())].slice(0, 12)])""",
                                     src)
  assert status == 200 and kind == "audio/wav"
  assert bytes(head[:4]) == b"RIFF" and bytes(head[8:12]) == b"WAVE"
  page.wait_for_function("() => document.getElementById('player').readyState >= 1")   # Decoded.
  assert page.evaluate("document.getElementById('player').duration") == pytest.approx(0.1)
  assert page.text_content("#event-list tbody tr:nth-child(4) td:last-child") == "deleted"
  client = site.app.test_client()
  for name in ("record_20260101T000000.000Z.wav",     # A link out of the folder.
               "..%2Foutside.wav", "history.sqlite3", site.deleted.name):
    assert client.get("/audio/" + name).status_code == 404, name
  assert not errors
  context.close()


@pytest.mark.slow
def test_page_fits_a_phone(site, browser, tmp_path_factory):
  context, page, errors = open_page(browser, site.url, width=375)
  assert page.evaluate("document.documentElement.scrollWidth") <= 375
  assert page.evaluate("document.querySelector('#timeline-chart canvas').getBoundingClientRect()"
                       ".right") <= 375
  assert page.evaluate(INK)[0] > 2000
  shot = tmp_path_factory.mktemp("screens") / "phone.png"
  page.screenshot(path=str(shot), full_page=True)
  assert shot.stat().st_size > 10000 and not errors
  context.close()


@pytest.fixture
def small_disk(tmp_path):
  """A 1 MB tmpfs (root only; skipped otherwise)."""
  folder = tmp_path / "small"
  folder.mkdir()
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                           capture_output=True, text=True)
  if mounted.returncode:
    pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.strip() or mounted.returncode}")
  yield folder
  subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.slow
def test_monitoring_goes_on_when_the_save_path_is_full_and_says_so(small_disk, tmp_path, browser):
  samples, rate = sr.read_clip(sr.DOG_CLIP)
  source = sr.BlockSource(np.tile(samples, 9), rate, rate // 10)    # 45 s of audio.
  source.live = False                # A file: the capture waits for the classifier.
  args = argparse.Namespace(
      save_path=str(small_disk), min_time=1.0, max_time=2.0, rate=rate, device=None, channels=1,
      duration=None, top_k=3, threshold=0.0, resample_filter="kaiser_fast", aggregation=None,
      label_set=None)
  hub = hub_lib.EventHub()
  live = session.LiveSession(args, sr.BandEnergyClassifier(), sinks_lib.SinkSet(
      [sinks_lib.WebSink(hub)]), source=source)
  assert live.run() == 45
  status = live.status()
  saved = sorted(os.listdir(small_disk))
  assert status["windows"] == 45 and status["failed_windows"] == 0
  assert 20 < len(saved) < 45 and status["save"]["failures"] == 45 - len(saved)
  assert "No space left on device" in status["save"]["last_error"]
  assert hub.recent(1)[0]["sequence"] == 45 and hub.recent(1)[0]["saved_audio"] is None

  app = web.create_app(hub, config_lib.ConfigStore(str(tmp_path / "dh.json")), None,
                       live.status, save_path=str(small_disk))
  assert "No space left" in app.test_client().get("/api/status").get_json()[
      "runtime"]["save"]["last_error"]
  server = serve_cli.start_web(app, "127.0.0.1", 0)
  try:
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.wait_for_selector("#st-save[data-ok='false']")
    assert "No space left on device" in page.text_content("#st-save")
    # No history here: the timeline starts empty and draws the live windows.
    assert page.get_attribute("#timeline-chart", "data-points") == "0"
    hub.publish(dict(hub.recent(1)[0], sequence=46))
    page.wait_for_function("() => document.getElementById('timeline-chart').dataset.points === '1'")
    assert not errors
    context.close()
  finally:
    server.shutdown()

  live.retention.options = H.HistoryOptions(save_max_mb=0.5)    # Retention frees the disk.
  live.retention.run_once()
  kept = live.retention.status()["saved"]
  assert kept["bytes"] <= 0.5 * H.BYTES_PER_MB and kept["deleted_files"] == len(saved) - kept[
      "files"] > 0
  assert sorted(os.listdir(small_disk)) == saved[-kept["files"]:]    # The newest stay.
