"""`soundscope serve` end to end: PortAudio capture, YAMNet, the page's API, DeviceHive,
the history, and soundscope killed and restarted while DeviceHive is down; a 10-minute
soundscape file replayed through serve gives classify's events on MQTT, in the history
and on the page."""

import datetime
import io
import json
import os
import re
import sqlite3
import subprocess
import threading
import urllib.request

import numpy as np
import soundfile
import pytest

import support_mqtt as sm
import support_runtime as sr
from conftest import asset
from devicehive_server import DeviceHiveServer
from soundscope.configs import events as E
from soundscope.configs import history as H
from soundscope.runtime import config as config_lib
from soundscope.runtime import history as history_lib

DEVICE = "serve-test"


class Serve:
  """A running `soundscope serve`, its stdout and stderr each collected on a thread (the
  threads own the pipes: communicate() would take lines from the stderr thread)."""

  def __init__(self, home, state, models, port=0,
               options=("--duration", 10, "--top-k", 5, "--notify-windows")):
    self.process = subprocess.Popen(
        sr.soundscope_command("serve", "--port", port, "--state-dir", state,
                              "--model-dir", models, *options),
        env=sr.child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    self.out_lines, self.err_lines = [], []
    self._collectors = [threading.Thread(target=self._collect, args=(pipe, lines), daemon=True)
                        for pipe, lines in ((self.process.stdout, self.out_lines),
                                            (self.process.stderr, self.err_lines))]
    for thread in self._collectors:
      thread.start()
    try:
      self.url = sr.wait_for(self._url, timeout=60, what="serve to print its address")
    except BaseException:
      self.process.kill()
      raise

  @staticmethod
  def _collect(pipe, lines):
    for line in pipe:
      lines.append(line)

  def _url(self):
    if self.process.poll() is not None:
      pytest.fail("serve exited early:\n" + "".join(self.err_lines))
    for line in self.err_lines:
      match = re.search(r"soundscope serve: (http://127\.0\.0\.1:\d+/)", line)
      if match:
        return match.group(1)
    return None

  def get(self, path):
    with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=10) as response:
      return json.load(response)

  def kill(self):
    """SIGKILL: no clean stop, nothing flushed on the way out."""
    self.process.kill()
    self._ended()
    return self.process.returncode, "".join(self.out_lines)

  def stop(self):
    if self.process.poll() is None:
      self.process.send_signal(15)
    self._ended()
    return self.process.returncode, "".join(self.out_lines), "".join(self.err_lines)

  def _ended(self):
    """Waits for the process to exit and for its pipes' last lines."""
    self.process.wait(timeout=30)
    for thread in self._collectors:
      thread.join(timeout=30)


@pytest.fixture
def started():
  """Every Serve started by the test; any still running at the end is killed."""
  processes = []
  yield processes
  for serve in processes:
    if serve.process.poll() is None:
      serve.process.kill()
      serve.process.wait(10)


@pytest.mark.slow
def test_serve_delivers_every_window_once_in_order_across_a_kill_and_restart(tmp_path, started):
  dog, _ = sr.read_clip(sr.DOG_CLIP)
  rain, _ = sr.read_clip(sr.RAIN_CLIP)
  home = sr.file_microphone(tmp_path / "home", np.concatenate([dog, rain]))
  models = sr.import_yamnet(tmp_path / "models")
  state = tmp_path / "state"
  devicehive = DeviceHiveServer()
  devicehive.start()
  devicehive.stop()        # Known port, nothing listening: DeviceHive is down.
  # Over DeviceHive's WebSocket API here; the web page's test delivers over REST, and
  # tests/test_runtime_devicehive.py runs the courier over both.
  config_lib.ConfigStore(str(state / "devicehive.json")).save(config_lib.DeviceHiveConfig(
      server_url=devicehive.ws_url, login=devicehive.login, password=devicehive.password,
      device_id=DEVICE, device_name="Serve test"))

  first = Serve(home, state, models)
  started.append(first)

  def settled(serve):
    """The run's capture is over: (history sink's status, DeviceHive's)."""
    status = serve.get("/api/status")
    return (not status["runtime"]["running"] and
            (status["runtime"]["sinks"]["history"], status["devicehive"]))
  history, outbox = sr.wait_for(lambda: settled(first), timeout=60, what="the first capture")
  first_events = history["events_written"]        # Start and end notices of sound events.
  assert history["windows_written"] == 2 and first_events > 0
  assert outbox["queued"] == 2 + first_events     # Two windows (--notify-windows) and the events.
  status = first.get("/api/status")
  assert status["runtime"]["windows"] == 2 and status["runtime"]["model"] == "yamnet"
  assert status["devicehive"]["connected"] is False and status["devicehive"]["last_error"]
  assert "password" not in json.dumps(first.get("/api/config")).replace("has_password", "")
  printed = first.get("/api/events")["events"]
  code, out = first.kill()       # Killed: the outbox and the history must hold what they had.
  assert code == -9 and len(out.strip().splitlines()) == 2

  devicehive.start()
  second = Serve(home, state, models)
  started.append(second)
  history, _ = sr.wait_for(lambda: settled(second), timeout=60, what="the second capture")
  assert history["windows_written"] == 2
  expected = 2 + first_events + 2 + history["events_written"]
  sr.wait_for(lambda: len(devicehive.received(DEVICE)) == expected, timeout=60,
              what=f"{expected} notifications")
  events = second.get("/api/history/events")
  assert events["total"] > 0 and "Dog" in events["labels"], events["labels"]
  code, _, err = second.stop()
  # The history holds both runs' windows, the killed run's first, and no event left open.
  with sqlite3.connect(str(state / "history.sqlite3")) as db:
    windows = db.execute("SELECT start_time, end_time FROM windows ORDER BY id").fetchall()
    states = {row[0] for row in db.execute("SELECT state FROM events")}
    stored = {(label, history_lib.iso_utc(start), history_lib.iso_utc(end), peak)
              for label, start, end, peak in db.execute(
                  "SELECT label, start_time, end_time, peak_score FROM events")}
  assert len(windows) == 4
  assert [history_lib.iso_utc(start) for start, _ in windows[:2]] == [
      e["start_utc"] for e in reversed(printed)]
  assert states <= {"closed", "interrupted"} and "closed" in states
  assert code == 0, err
  everything = devicehive.received(DEVICE)
  devicehive.stop()
  received = [n for n in everything if n["notification"] == "audio_analysis"]
  heard = [(n["parameters"]["kind"], n["parameters"]["label"], n["parameters"]["start_utc"])
           for n in everything if n["notification"] != "audio_analysis"]
  assert len(everything) == expected and len(set(heard)) == len(heard)   # No duplicate.
  ended = {(n["parameters"]["label"], n["parameters"]["start_utc"], n["parameters"]["end_utc"],
            n["parameters"]["peak_score"]) for n in everything if n["parameters"].get("kind") == "end"}
  assert stored == ended      # The same events in the history as on DeviceHive.
  assert len(received) == 4
  starts = [n["parameters"]["start_utc"] for n in received]
  # Delivery order is the outbox's order: the first process's two windows, then the
  # second's.  Window times come from each stream's start plus its sample count, and the
  # ALSA file plugin delivers a whole file at once, so the second process's windows may
  # carry earlier times than the first's last one: compare within each process.
  assert len(set(starts)) == 4 and starts[0] < starts[1] and starts[2] < starts[3]
  assert [n["parameters"]["start_utc"] for n in received[:2]] == [e["start_utc"] for e in reversed(printed)]
  for notification, pattern in zip(received, [r"Dog|Bark", r"Rain"] * 2):
    assert notification["notification"] == "audio_analysis"
    labels = [p["label"] for p in notification["parameters"]["predictions"]]
    assert len(labels) == 5 and re.search(pattern, " ".join(labels)), labels
    assert notification["parameters"]["model"] == "yamnet"


# A 10-minute soundscape (bench/soundscapes.py: ESC-10 clips of one fold at -10, -20 and
# -30 dBFS peak, 2 to 10 s apart, over pink noise at -50 dBFS), 16 kHz 16-bit.
SEED, MINUTES, FOLD = 21, 10, 1


def soundscape_file(folder):
  """The soundscape as a WAV file in folder (skips when the ESC-10 clips are absent)."""
  asset("audio/esc10/esc10.csv")
  from bench import soundscapes
  waveform, rate, _ = soundscapes.make_soundscape(SEED, MINUTES, FOLD)
  path = folder / "soundscape.wav"
  soundfile.write(str(path), waveform, rate, subtype="PCM_16")
  return path


def by_start(events):
  return sorted(events, key=lambda e: (e["start_seconds"], e["label"]))


def assert_batch_events(live, batch, what):
  """Live events equal batch's: labels and window counts exactly, bounds and scores to
  1e-9 (a window's time is the stream's offset plus its start, summed in another order)."""
  live, batch = by_start(live), by_start(batch)
  assert [(e["label"], e["windows"]) for e in live] == \
      [(e["label"], e["windows"]) for e in batch], what
  for one, other in zip(live, batch):
    for name in ("start_seconds", "end_seconds", "peak_score", "mean_score"):
      assert one[name] == pytest.approx(other[name], abs=1e-9), (what, name, one, other)


@pytest.mark.slow
def test_a_replayed_soundscape_gives_the_batch_events_on_mqtt_in_the_history_and_the_page(
    tmp_path, started):
  """A 10-minute soundscape file through one `serve --input FILE` (not paced): the events
  it sends to MQTT, writes to --jsonl, keeps in SQLite and shows on the page (its first
  page in the page itself, the rest as its "older" button asks) are `classify --events`'s
  for the same file; each links saved windows that the page plays."""
  scape = soundscape_file(tmp_path)
  models = sr.import_yamnet(tmp_path / "models")
  notices, saved, state = tmp_path / "events.jsonl", tmp_path / "saved", tmp_path / "state"
  with sm.broker_and_subscriber(tmp_path / "broker", "s/n/+/event") as (broker, subscriber):
    batch = subprocess.Popen(sr.soundscope_command(   # Scores the file while serve does.
        "classify", "--model-dir", models, "--labels", "esc10", "--events", "--json", scape),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sr.child_env(tmp_path))
    serve = Serve(tmp_path, state, models, options=(
        "--input", scape, "--labels", "esc10", "--mqtt", broker.url + "/s", "--mqtt-node", "n",
        "--save-path", saved, "--jsonl", notices))
    started.append(serve)
    out, err = batch.communicate(timeout=120)
    assert batch.returncode == 0, err
    expected = json.loads(out)["events"]
    assert len(expected) >= 30 and len({e["label"] for e in expected}) >= 8, expected
    sr.wait_for(lambda: not serve.get("/api/status")["runtime"]["running"], timeout=60,
                what="the file's end")

    def published(kind):
      return [n for n in (json.loads(text) for _, text, _ in list(subscriber.messages))
              if n["kind"] == kind]
    sr.wait_for(lambda: len(published("end")) >= len(expected), timeout=30,
                what="the events on MQTT")
    with urllib.request.urlopen(serve.url, timeout=10) as page:
      html = page.read().decode()
    first = json.loads(re.search(r'<script id="initial-data" type="application/json">(.*?)'
                                 r'</script>', html, re.S).group(1))["events"]
    shown = list(first["events"])
    while len(shown) < first["total"]:     # Older pages, as the page's "older" button asks.
      older = f"/api/history/events?offset={len(shown)}&limit={H.EVENTS_PAGE_SIZE}"
      shown += serve.get(older)["events"]
    played = {}
    for event in shown:
      for link in event["audio"][:1]:      # Each event's first saved window, as the page plays it.
        with urllib.request.urlopen(serve.url.rstrip("/") + link["url"], timeout=10) as answer:
          assert answer.headers["Content-Type"] == "audio/wav"
          played[link["name"]] = soundfile.read(io.BytesIO(answer.read()), dtype="int16")
    code, _, err = serve.stop()
  assert code == 0, err
  ends = [n for n in map(json.loads, notices.read_text().splitlines()) if n["kind"] == "end"]
  with sqlite3.connect(str(state / "history.sqlite3")) as db:
    db.row_factory = sqlite3.Row
    stored = [dict(row) for row in db.execute(
        "SELECT * FROM events ORDER BY start_time DESC, id DESC")]
  assert_batch_events(published("end"), expected, "MQTT")
  # Every event also started once, before its end and at most its bounds' margin before
  # its final start (esc10's 'level' bounds: the end notice has the bounds refined on the
  # audio, the start notice those first heard); the other starts were cancelled (events
  # that did not stand when they closed: esc10's compete_mean, exclusive).
  cancelled = {(e["label"], e["start_seconds"]) for e in published("cancel")}
  starts = by_start(published("start"))
  assert cancelled <= {(e["label"], e["start_seconds"]) for e in starts}
  starts = [e for e in starts if (e["label"], e["start_seconds"]) not in cancelled]
  for label in {e["label"] for e in expected}:
    began = [e for e in starts if e["label"] == label]
    final = [e for e in by_start(expected) if e["label"] == label]
    assert len(began) == len(final), label
    for start, event in zip(began, final):
      assert start["start_seconds"] < event["end_seconds"]
      assert start["start_seconds"] <= event["start_seconds"] + E.LEVEL_MARGIN_SECONDS + 0.02
  assert_batch_events(ends, expected, "JSONL")
  assert_batch_events(stored, expected, "SQLite")
  assert_batch_events(shown, expected, "the page")
  # The page and the SQLite file hold each event once, with its end notice's times and
  # saved windows; the page links the windows by name, and plays them.
  assert len({e["id"] for e in shown}) == len(shown) == first["total"] == len(stored)
  notice_of = {(n["label"], n["start_utc"]): n for n in ends}
  for event, row in zip(shown, stored):
    assert event["id"] == row["id"] and event["state"] == row["state"] == "closed"
    assert event["start_utc"] == history_lib.iso_utc(row["start_time"])
    assert event["end_utc"] == history_lib.iso_utc(row["end_time"])
    notice = notice_of[event["label"], event["start_utc"]]
    assert (event["end_utc"], event["label_set"]) == (notice["end_utc"], "esc10")
    names = [os.path.basename(p) for p in notice["saved_audio"]]
    assert names == [os.path.basename(p) for p in json.loads(row["saved_audio"])]
    assert names and [a["name"] for a in event["audio"]] == names
  wave, _ = soundfile.read(str(scape), dtype="int16")
  for event in shown:        # Its first saved window is the file's audio where it was heard.
    name = event["audio"][0]["name"]
    samples, rate = played[name]
    at = saved_at(name, event, wave, samples)
    assert rate == 16000 and event["start_seconds"] < at + samples.size / rate
    assert at < event["end_seconds"], (name, at, event)


def saved_at(name, event, wave, samples):
  """Seconds into the file where a saved window's int16 samples are, searched within 2 ms
  of the time its name gives (names and event times are to the millisecond)."""
  named = datetime.datetime.strptime(name, "record_%Y%m%dT%H%M%S.%fZ.wav").replace(
      tzinfo=datetime.timezone.utc).timestamp()
  guess = int(round((named - history_lib.epoch_seconds(event["start_utc"])
                     + event["start_seconds"]) * 16000))
  found = [at for at in range(max(0, guess - 32), guess + 33)
           if np.array_equal(wave[at:at + samples.size], samples)]
  assert len(found) == 1, (name, guess, found)
  return found[0] / 16000


def test_bad_ports_and_unusable_paths_are_one_line_naming_the_flag(tmp_path, capsys):
  from soundscope.cli import main as cli_main
  models = sr.import_yamnet(tmp_path / "models")
  afile = tmp_path / "afile"
  afile.write_text("not a folder")
  for argv, status, words in (
      (["serve", "--port", "70000"], 2, "argument --port: a port is 0-65535"),
      (["serve", "--port", "-5"], 2, "argument --port: a port is 0-65535"),
      (["serve", "--port", "http"], 2, "argument --port: not a port number"),
      (["capture", "--mqtt", "mqtt://127.0.0.1:0/x"], 2, "the port must be 1-65535"),
      (["capture", "--mqtt", "mqtt://127.0.0.1:65536/x"], 2, "Port out of range"),
      (["capture", "--input", "rtsp://cam:99999/live"], 2, "a port is 1-65535"),
      (["capture", "--input", "rtsp://me:hunter2@[::1/live"], 2, "Invalid IPv6 URL"),
      (["capture", "--input", "rtspx://me:hunter2@cam/live"], 2, "unknown scheme 'rtspx'"),
      (["capture", "--jsonl", str(tmp_path)], 1, f"--jsonl {tmp_path}: cannot append"),
      (["serve", "--port", "0", "--state-dir", str(afile)], 1,
       f"--state-dir {afile}: cannot be the state folder")):
    try:
      code = cli_main.main([*argv, "--model-dir", str(models)])
    except SystemExit as exc:    # argparse's own usage errors.
      code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == status, (argv, err)
    assert words in err[-1] and "Traceback" not in "".join(err), (argv, err)
    assert len([line for line in err if "error:" in line]) == 1, err
    assert "hunter2" not in "".join(err)
