"""Live sound events: a file through `capture --input` gives `classify --events`' events,
on the console, in --jsonl and on a real MQTT broker; rules, cooldowns and the gate."""

import dataclasses
import datetime
import json
import signal
import subprocess

import numpy as np
import pytest
import soundfile

import support_mqtt as sm
import support_runtime as sr
from soundscope.runtime import rules as rules_lib
from soundscope.transforms import audio

# ESC-10 clips (dog, rain, rooster, crying baby, chainsaw, dog) with 3 s of silence
# between them and 10 s at the end (a live stream left open closes its last event only
# once later windows show it cannot grow: merge gaps of esc10's rules are up to 3 s),
# made 16 kHz once: live and batch then read the same samples.
CLIPS = (sr.DOG_CLIP, sr.RAIN_CLIP, "audio/esc10/1-26806-A-1.flac",
         "audio/esc10/1-187207-A-20.flac", "audio/esc10/1-116765-A-41.flac", sr.DOG_CLIP)
EVENT_KEYS = ("label", "start_seconds", "end_seconds", "peak_score", "mean_score", "windows")


@pytest.fixture(scope="module")
def scape44(tmp_path_factory):
  """The soundscape at the clips' own 44.1 kHz, 16-bit."""
  folder = tmp_path_factory.mktemp("scape44")
  silence = np.zeros(3 * sr.CLIP_RATE, np.int16)
  parts = [silence]
  for clip in CLIPS:
    samples, rate = sr.read_clip(clip)
    assert rate == sr.CLIP_RATE
    parts += [samples, silence]
  parts.append(np.zeros(7 * sr.CLIP_RATE, np.int16))
  # More silence at the end than the longest merge gap of esc10's event rules (3 s):
  # a live stream left open closes its last event only once that much audio follows it.
  parts.append(silence)
  path = folder / "scape44.wav"
  soundfile.write(str(path), np.concatenate(parts), sr.CLIP_RATE, subtype="PCM_16")
  return path


@pytest.fixture(scope="module")
def scape(tmp_path_factory, scape44):
  folder = tmp_path_factory.mktemp("scape")
  wave, _ = soundfile.read(str(scape44), dtype="float64")
  wave16k = np.clip(np.rint(audio.resample(wave, sr.CLIP_RATE, 16000) * 32768), -32768, 32767)
  path = folder / "scape.wav"
  soundfile.write(str(path), wave16k.astype(np.int16), 16000, subtype="PCM_16")
  return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  return sr.import_yamnet(tmp_path_factory.mktemp("models"))


def classify_events(path, models):
  """`soundscope classify --labels esc10 --events --json` of a file (in this process)."""
  import contextlib
  import io
  from soundscope.cli import main as cli_main
  printed = io.StringIO()
  with contextlib.redirect_stdout(printed):
    code = cli_main.main(["classify", "--labels", "esc10", "--events", "--json",
                          "--model-dir", str(models), str(path)])
  assert code == 0
  events = json.loads(printed.getvalue())["events"]
  assert {e["label"] for e in events} >= {"dog", "rain", "rooster"}, events
  return events


@pytest.fixture(scope="module")
def batch_events(scape, models):
  return classify_events(scape, models)


@pytest.fixture
def mqtt(tmp_path):
  """(Broker, Subscriber to everything) on a free loopback port; stopped after the test."""
  with sm.broker_and_subscriber(tmp_path / "broker") as pair:
    yield pair


def same_events(live, batch):
  """Live end notices equal batch events: labels, windows and scores exactly, bounds to
  1e-9 s (a window's time is its offset plus its start, summed in another order)."""
  assert len(live) == len(batch), (live, batch)
  for one, other in zip(live, batch):
    assert {k: one[k] for k in EVENT_KEYS if "seconds" not in k} == \
        {k: other[k] for k in EVENT_KEYS if "seconds" not in k}
    assert one["start_seconds"] == pytest.approx(other["start_seconds"], abs=1e-9)
    assert one["end_seconds"] == pytest.approx(other["end_seconds"], abs=1e-9)


@pytest.mark.slow
def test_a_file_through_capture_gives_classify_events_in_jsonl_and_on_mqtt(
    tmp_path, scape, models, batch_events, mqtt):
  broker, subscriber = mqtt
  jsonl = tmp_path / "events.jsonl"
  result = subprocess.run(
      sr.soundscope_command("capture", "--input", scape, "--labels", "esc10", "--events",
                            "--jsonl", jsonl, "--mqtt", broker.url + "/sound",
                            "--mqtt-node", "test", "--model-dir", models),
      env=sr.child_env(tmp_path / "home", SOUNDSCOPE_STATE_DIR=tmp_path / "state"),
      capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  written = [json.loads(line) for line in jsonl.read_text().splitlines()]
  assert all("kind" in record for record in written)     # Events only, no windows.
  ends = [r for r in written if r["kind"] == "end"]
  same_events(sorted(ends, key=lambda e: (e["start_seconds"], e["end_seconds"], e["label"])),
              batch_events)
  # Each event started once, before it ended (esc10's 'level' bounds: the end notice
  # has the bounds refined on the audio, the start notice those first heard); a start
  # whose event did not stand when it closed (esc10's compete_mean, exclusive) was
  # cancelled, and batch has no such event.
  starts = [r for r in written if r["kind"] == "start"]
  cancels = [r for r in written if r["kind"] == "cancel"]
  assert sorted(s["label"] for s in starts) == sorted(e["label"] for e in ends + cancels)
  for index, record in enumerate(written):
    if record["kind"] in ("end", "cancel"):
      assert [r for r in written[:index] if r["label"] == record["label"]][-1]["kind"] == "start"
  for cancel in cancels:
    assert not any(e["label"] == cancel["label"] and e["start_seconds"] == cancel["start_seconds"]
                   for e in batch_events)
  for record in written:
    assert record["source"] == str(scape) and record["label_set"] == "esc10"
    assert record["start_utc"].endswith("Z")
  # The console says each start and end after the windows' lines.
  assert result.stdout.count(" started (") == len(starts)
  assert result.stdout.count(" ended after ") == len(ends)
  assert result.stdout.count(" cancelled: ") == len(cancels)
  # The same notices reached MQTT, in order per label, and the states went ON then OFF.
  sr.wait_for(lambda: subscriber.on("sound/test/status")[-1:] == ["offline"],
              what="capture's offline")
  for label in {e["label"] for e in ends + cancels}:
    assert subscriber.json_on(f"sound/test/{label}/event") == \
        [r for r in written if r["label"] == label]
    states = subscriber.on(f"sound/test/{label}/state")
    began = sum(s["label"] == label for s in starts)
    assert states[-2 * began:] == ["ON", "OFF"] * began
  assert subscriber.on("homeassistant/binary_sensor/test/crying_baby/config")


def test_rules_files_are_checked_in_one_line(tmp_path):
  labels = ("dog", "rain")
  path = tmp_path / "rules.yaml"
  path.write_text("gate_dbfs: -50\ndefault: {cooldown: 5}\n"
                  "labels:\n  dog: {threshold: 0.4, exit: 0.2, sinks: [mqtt]}\n")
  rules = rules_lib.load(str(path), labels, sink_names=("mqtt", "console"))
  dog, rain = rules.per_label
  assert (dog.events.enter, dog.events.exit, dog.cooldown_seconds, dog.sinks) == \
      (0.4, 0.2, 5.0, ("mqtt",))
  assert (rain.events.enter, rain.cooldown_seconds, rain.sinks) == (0.5, 5.0, None)
  assert rules.gate_dbfs == -50.0 and len({rule.events for rule in rules.per_label}) == 2
  for text, message in (("labels: {dgo: {threshold: 0.4}}", "did you mean 'dog'"),
                        ("labels: {dog: {treshold: 0.4}}", "did you mean 'threshold'"),
                        ("labels: {dog: {threshold: 2}}", "enter must be in (0, 1]"),
                        ("labels: {dog: {sinks: [email]}}", "unknown sink 'email'"),
                        ("labels: [dog", "not valid YAML")):
    path.write_text(text)
    with pytest.raises(rules_lib.RulesError) as refused:
      rules_lib.load(str(path), labels, sink_names=("mqtt", "console"))
    assert str(path) in str(refused.value) and message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.slow
def test_rules_cooldown_sinks_and_threshold_change_what_is_announced(tmp_path, scape, models,
                                                                    yamnet, batch_events,
                                                                    capsys, monkeypatch):
  from soundscope.configs import events as E
  from soundscope.models import label_sets, scoring
  from soundscope.transforms import events as events_lib
  from soundscope.transforms import level_bounds
  rules = tmp_path / "rules.yaml"
  # Dog gets its own rules (over esc10's), a 60 s cooldown, and --jsonl only; rain's
  # threshold is above its peak (0.96).  The other labels keep esc10's rules.
  rules.write_text("labels:\n"
                   "  dog: {threshold: 0.5, exit: 0.3, min_duration: 0, merge_gap: 0.5,\n"
                   "        cooldown: 60, sinks: [jsonl]}\n"
                   "  rain: {threshold: 0.99}\n")
  jsonl = tmp_path / "events.jsonl"
  from soundscope.cli import main as cli_main     # In this process: no second start-up.
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  code = cli_main.main(["capture", "--input", str(scape), "--labels", "esc10", "--events",
                        "--rules", str(rules), "--jsonl", str(jsonl), "--model-dir", str(models)])
  out, err = capsys.readouterr()
  assert code == 0, err
  ends = [r for r in map(json.loads, jsonl.read_text().splitlines()) if r["kind"] == "end"]
  # Dog's events under its rules, from batch's window scores: the later ones start
  # within 60 s of the first one's end, so only the first is announced.
  resolved = label_sets.for_classifier("esc10", yamnet)
  scores = scoring.score_file(yamnet, str(scape), per_window=True)
  windows = label_sets.relabel(scores, resolved).windows
  labels = list(resolved.labels)
  per_label = list(label_sets.event_rules(resolved, E.EventRules()))
  dog = labels.index("dog")
  per_label[dog] = dataclasses.replace(per_label[dog], enter=0.5, exit=0.3,
                                       min_duration_seconds=0.0, merge_gap_seconds=0.5)
  found = level_bounds.refine(
      events_lib.detect_each(windows.starts, windows.ends, windows.scores, labels, per_label,
                             0.975),
      labels, per_label, level_bounds.LevelTrack.of_levels(scores.frame_levels))
  dogs = [e.as_dict() for e in found if e.label == "dog"]
  assert len(dogs) >= 2 and dogs[-1]["start_seconds"] - dogs[0]["end_seconds"] < 60
  same_events([e for e in ends if e["label"] == "dog"], dogs[:1])
  same_events([e for e in ends if e["label"] not in ("dog", "rain")],
              [e for e in batch_events if e["label"] not in ("dog", "rain")])
  assert not [e for e in ends if e["label"] == "rain"]
  assert "dog started" not in out and "dog ended" not in out
  assert "rooster started" in out
  code = cli_main.main(["capture", "--input", str(scape), "--labels", "esc10", "--rules",
                        str(tmp_path / "missing.yaml"), "--model-dir", str(models)])
  err = capsys.readouterr().err
  assert code == 2 and err.count("\n") == 1 and "missing.yaml" in err


@pytest.fixture(scope="module")
def yamnet(models):
  from soundscope.models.store import registry
  return registry.load_classifier("yamnet", models)


def live_ends(model, resolved, rules, wave):
  """The "end" notices of LiveEvents fed 16 kHz `wave` (in [-1, 1], 16-bit values) in 5 s
  capture windows through the loop's Listener, as dicts."""
  from soundscope.runtime import listening, live_events, windows
  events = live_events.LiveEvents(model, resolved, rules, "scape")
  listener = listening.Listener(model)
  notices = []
  frames = np.rint(np.asarray(wave) * 32768).astype(np.int16).reshape(-1, 1)
  for start in range(0, len(frames), 5 * 16000):
    window = windows.Window(frames[start:start + 5 * 16000], 16000, start, None, None, 0.0)
    notices += events.add(listener.score(listener.resample(window)))
  notices += events.finish(listener.finish())
  return sorted((n.to_dict() for n, _ in notices if n.kind == "end"),
                key=lambda e: (e["start_seconds"], e["end_seconds"], e["label"]))


def test_the_volume_gate_equals_batch_min_level(scape, yamnet, batch_events):
  from soundscope.configs import events as E
  from soundscope.models import file_events, label_sets, scoring
  resolved = label_sets.for_classifier("esc10", yamnet)
  gate = -20.0
  wave, _ = soundfile.read(str(scape), dtype="float64")
  per_label = label_sets.event_rules(resolved, E.EventRules())    # The set's own, as classify.
  ends = live_ends(yamnet, resolved, rules_lib.uniform(resolved.labels, per_label, gate_dbfs=gate),
                   wave)
  # Batch with --min-level at the gate (windows quieter than it unclassified): the same
  # events; the quieter dogs and the rain (about -21 dBFS RMS) are gone.
  batch = scoring.score_file(yamnet, str(scape), per_window=True, min_level_dbfs=gate)
  kept = [e.as_dict() for e in file_events.file_events(yamnet, batch, resolved, E.EventRules())]
  assert 0 < len(kept) < len(batch_events)
  same_events(ends, kept)


def test_a_label_sets_own_event_rules_apply_live_as_in_batch(tmp_path, scape, yamnet,
                                                             batch_events):
  from soundscope.configs import events as E
  from soundscope.models import file_events, label_sets, scoring
  own = tmp_path / "mine.yaml"
  own.write_text("name: mine\nlabels:\n"
                 "  - {name: dog, classes: [Dog, Bark], events: {enter: 0.7, exit: 0.6}}\n"
                 "  - {name: rain, classes: [Rain], events: {min_duration: 9}}\n"
                 "  - {name: rooster, classes: [\"Chicken, rooster\"]}\n")
  resolved = label_sets.for_classifier(str(own), yamnet)
  per_label = label_sets.event_rules(resolved, E.EventRules())
  wave, _ = soundfile.read(str(scape), dtype="float64")
  ends = live_ends(yamnet, resolved, rules_lib.uniform(resolved.labels, per_label), wave)
  batch = scoring.score_file(yamnet, str(scape), per_window=True)
  expected = [e.as_dict() for e in file_events.file_events(yamnet, batch, resolved,
                                                           E.EventRules())]
  assert {e["label"] for e in expected} == {"dog", "rooster"}    # Rain is shorter than 9 s.
  same_events(ends, expected)


@pytest.mark.slow
def test_serve_replaying_the_file_on_stdin_gives_batch_events_in_history_and_on_mqtt(
    tmp_path, scape, models, batch_events, mqtt):
  """The WAV on serve's stdin, the pipe left open (a live stream): its events in the
  history (/api/history/events, each linking its saved windows) and on MQTT are
  batch's; then SIGKILL, and MQTT's last will says offline."""
  import re
  import threading
  import urllib.request
  broker, subscriber = mqtt
  records = tmp_path / "records"
  serve = subprocess.Popen(
      sr.soundscope_command("serve", "--port", 0, "--input", "-", "--labels", "esc10",
                            "--mqtt", broker.url + "/s", "--mqtt-node", "n", "--save-path",
                            records, "--state-dir", tmp_path / "state", "--model-dir", models),
      env=sr.child_env(tmp_path / "home"), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=False)
  said = []
  threading.Thread(target=lambda: said.extend(line.decode() for line in serve.stderr),
                   daemon=True).start()
  try:
    serve.stdin.write(scape.read_bytes())
    serve.stdin.flush()
    url = sr.wait_for(lambda: next((m.group(1) for m in map(
        re.compile(r"serve: (http://\S+/)").search, list(said)) if m), None), timeout=60,
        what="serve's address")

    def history():
      with urllib.request.urlopen(url + "api/history/events?limit=100", timeout=10) as answer:
        return json.load(answer)["events"]
    sr.wait_for(lambda: len([e for e in history() if e["state"] == "closed"])
                == len(batch_events), timeout=60, what="the events in the history")
    stored = sorted(history(), key=lambda e: (e["start_seconds"], e["end_seconds"], e["label"]))
    same_events(stored, batch_events)
    for event in stored:      # Each event links the saved windows it overlaps.
      assert event["audio"] and all((records / a["name"]).exists() for a in event["audio"])

    def published_ends():
      return sorted((r for label in {e["label"] for e in batch_events}
                     for r in subscriber.json_on(f"s/n/{label}/event") if r["kind"] == "end"),
                    key=lambda e: (e["start_seconds"], e["end_seconds"], e["label"]))
    sr.wait_for(lambda: len(published_ends()) >= len(batch_events), what="the events on MQTT")
    published = published_ends()
    same_events(published, batch_events)
    assert subscriber.on("s/n/status")[-1] == "online"
    serve.send_signal(signal.SIGKILL)
    serve.wait(10)
    sr.wait_for(lambda: subscriber.on("s/n/status")[-1:] == ["offline"], what="the last will")
  finally:
    if serve.poll() is None:
      serve.kill()
    serve.wait(10)


@pytest.mark.slow
def test_a_44k_file_through_capture_gives_classify_events_windows_and_samples(
    tmp_path, scape44, models, yamnet, capsys, monkeypatch):
  """At 44.1 kHz the live stream is resampled continuously across capture windows:
  the model windows (times, scores), the events and the saved samples are batch's."""
  from soundscope.cli import main as cli_main
  from soundscope.models import scoring
  from soundscope.runtime import listening, windows
  from soundscope.transforms import audio as audio_lib
  batch = classify_events(scape44, models)
  jsonl, records = tmp_path / "events.jsonl", tmp_path / "records"
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  code = cli_main.main(["capture", "--input", str(scape44), "--labels", "esc10", "--events",
                        "--jsonl", str(jsonl), "--save-path", str(records),
                        "--model-dir", str(models)])
  assert code == 0, capsys.readouterr().err
  ends = [r for r in map(json.loads, jsonl.read_text().splitlines()) if r["kind"] == "end"]
  same_events(sorted(ends, key=lambda e: (e["start_seconds"], e["end_seconds"], e["label"])),
              batch)
  # The saved windows, end to end, are batch's 16 kHz samples (as 16-bit), but for the
  # ~20 ms the resampler holds back at the very end.
  whole = np.concatenate(list(audio_lib.stream_mono(str(scape44)))).astype(np.float32)
  saved = np.concatenate([soundfile.read(str(f), dtype="int16")[0]
                          for f in sorted(records.glob("record_*.wav"))])
  assert len(whole) - 0.05 * 16000 < len(saved) <= len(whole)
  np.testing.assert_array_equal(saved, windows.quantize_int16(whole[:len(saved)]))
  # Every model window of the stream (5 s capture windows, as capture cut them) has
  # batch's scores, and its times to 1e-9 s.
  frames, rate = soundfile.read(str(scape44), dtype="int16", always_2d=True)
  listener, parts = listening.Listener(yamnet), []
  for start in range(0, len(frames), 5 * rate):
    window = windows.Window(frames[start:start + 5 * rate], rate, start, None, None, 0.0)
    parts.append(listener.score(listener.resample(window)))
  got = listening.joined((None, None), (None, None))
  for heard in parts:
    got = listening.joined(got, (heard.windows, heard.levels))
  got = listening.joined(got, listener.finish())[0]
  expected = scoring.score_file(yamnet, str(scape44), per_window=True).windows
  np.testing.assert_array_equal(got.scores, expected.scores)
  np.testing.assert_allclose(got.starts, expected.starts, rtol=0, atol=1e-9)
  np.testing.assert_allclose(got.ends, expected.ends, rtol=0, atol=1e-9)


def live_notices(model, scores, rules):
  """The EventNotices of LiveEvents (the model's labels, `rules` for each) fed the model
  windows `scores` (WindowScores) in capture windows of three."""
  from soundscope.runtime import listening, live_events
  live = live_events.LiveEvents(model, None, rules_lib.uniform(model.labels, rules), "tones")
  notices = []
  for first in range(0, len(scores.starts), 3):
    part = slice(first, first + 3)
    frames = type(scores)(scores.starts[part], scores.ends[part], scores.scores[part])
    heard = listening.Heard(np.zeros(0, np.float32), frames.starts[0], frames.ends[-1], None,
                            None, frames, np.zeros(len(frames.starts)), first == 0, None)
    notices += [notice for notice, _ in live.add(heard)]
  return notices + [notice for notice, _ in live.finish()]


def tones(*frames):
  """16 kHz samples: one 0.96 s frame per {frequency Hz: amplitude}."""
  time_ = np.arange(int(16000 * 0.96)) / 16000.0
  return np.concatenate([sum((amplitude * np.sin(2 * np.pi * hz * time_)
                              for hz, amplitude in frame.items()), np.zeros_like(time_))
                         for frame in frames])


def test_an_announced_event_that_does_not_hold_its_own_is_cancelled_not_left_open(tmp_path):
  """compete_mean drops an event only when it closes: live has said "start" by then.  A
  300 Hz tone, a 6 kHz tone over the gap, the 300 Hz tone again within the merge gap: the
  low band's merged event is outscored over its span (as batch finds: no such event), so
  live cancels it; the history keeps no row of it, and the next low event is whole."""
  from soundscope.configs import events as E
  from soundscope.runtime import history as history_lib
  from soundscope.transforms import events as events_lib
  model = sr.BandEnergyClassifier()
  low, high, quiet = {300: 0.5}, {6000: 0.5}, {}
  # Frames: low, high x3, low, then quiet (the merged event closes), low x2, quiet x4.
  scores = model.window_scores(tones(low, high, high, high, low, *[quiet] * 4, low, low,
                                     *[quiet] * 4))
  rules = E.EventRules(enter=0.6, exit=0.5, merge_gap_seconds=3.0, min_duration_seconds=0.0,
                       compete_mean=0.9)
  batch = events_lib.detect(*scores, model.labels, rules)
  assert [(e.label, e.start_seconds) for e in batch] == [("High band", 0.96),
                                                         ("Low band", 8.64)]
  notices = live_notices(model, scores, rules)
  said = [(n.kind, n.label, n.start_seconds) for n in notices]
  assert ("start", "Low band", 0.0) in said and ("cancel", "Low band", 0.0) in said
  assert said.index(("start", "Low band", 0.0)) < said.index(("cancel", "Low band", 0.0))
  ends = [n for n in notices if n.kind == "end"]
  assert [(n.label, n.start_seconds, n.end_seconds) for n in ends] == [
      (e.label, e.start_seconds, e.end_seconds) for e in batch]
  assert ("start", "Low band", 8.64) in said                 # The next one is announced.
  assert notices[said.index(("cancel", "Low band", 0.0))].line().endswith(
      "Low band cancelled: other labels scored higher over it")
  history = history_lib.History(str(tmp_path / "history.sqlite3"))
  began = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)   # The capture's clock.
  for n in notices:
    history.add_event(dataclasses.replace(
        n, start_utc=began + datetime.timedelta(seconds=n.start_seconds),
        end_utc=None if n.end_seconds is None else
        began + datetime.timedelta(seconds=n.end_seconds)).to_dict())
  stored = sorted((e["label"], e["start_seconds"], e["state"]) for e in history.events()["events"])
  assert stored == [("High band", 0.96, "closed"), ("Low band", 8.64, "closed")]
  history.close()


def test_an_exclusive_label_gives_way_live_as_in_batch():
  """Low band (300 Hz, with some 2 kHz: peak 0.92) runs into a 6 kHz sound (peak 1.0) that
  overlaps it by a frame: with exclusive rules the low event is no event, in batch and live
  (its start is cancelled once the high event has closed); without, both stand."""
  from soundscope.configs import events as E
  from soundscope.transforms import events as events_lib
  model = sr.BandEnergyClassifier()
  scores = model.window_scores(tones({300: 0.5, 2000: 0.15}, {300: 0.5, 2000: 0.15},
                                     {300: 0.25, 6000: 0.5}, {6000: 0.5}, {6000: 0.5},
                                     *[{}] * 6))
  rules = E.EventRules(enter=0.6, exit=0.15, merge_gap_seconds=0.5, exclusive=True)
  both = events_lib.detect(*scores, model.labels, dataclasses.replace(rules, exclusive=False))
  assert [e.label for e in both] == ["Low band", "High band"]
  assert both[0].end_seconds > both[1].start_seconds and both[0].peak_score < both[1].peak_score
  batch = events_lib.detect(*scores, model.labels, rules)
  assert [(e.label, e.start_seconds, e.end_seconds) for e in batch] == [
      ("High band", both[1].start_seconds, both[1].end_seconds)]
  notices = live_notices(model, scores, rules)
  assert [(n.kind, n.label) for n in notices] == [
      ("start", "Low band"), ("start", "High band"), ("cancel", "Low band"),
      ("end", "High band")]
  assert [(n.start_seconds, n.end_seconds) for n in notices if n.kind == "end"] == [
      (batch[0].start_seconds, batch[0].end_seconds)]
