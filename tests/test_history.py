"""The live history (SQLite) and the retention of the history and of the saved windows."""

import datetime
import os
import sqlite3

import pytest

import support_runtime as sr
from soundscope.configs import history as H
from soundscope.runtime import history as history_lib
from soundscope.runtime import loop as loop_lib
from soundscope.runtime import prediction
from soundscope.runtime import retention
from soundscope.runtime import sinks as sinks_lib
from soundscope.runtime import windows

T0 = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = 86400.0


def window_dict(end, labels, rms=-30.0, peak=-10.0, seconds=5.0):
  return {"start_utc": history_lib.iso_utc(end - seconds), "end_utc": history_lib.iso_utc(end),
          "source": "microphone", "rms_dbfs": rms, "peak_dbfs": peak,
          "predictions": [{"label": label, "index": n, "score": score}
                          for n, (label, score) in enumerate(labels)]}


def notice(kind, label, start, end=None, saved=(), peak=0.8):
  return prediction.EventNotice(
      kind=kind, label=label, source="microphone", model="yamnet", model_version="1",
      label_set="home", start_seconds=start - T0.timestamp(),
      end_seconds=None if end is None else end - T0.timestamp(),
      start_utc=datetime.datetime.fromtimestamp(start, datetime.timezone.utc),
      end_utc=None if end is None else datetime.datetime.fromtimestamp(end, datetime.timezone.utc),
      peak_score=peak, mean_score=peak / 2, windows=3, saved_audio=tuple(saved))


def test_a_real_loop_fills_the_history_and_it_survives_a_reopen(tmp_path):
  path = str(tmp_path / "history.sqlite3")
  history = history_lib.History(path)
  sink = history_lib.HistorySink(history)
  sinks = sinks_lib.SinkSet([sink])
  runner = loop_lib.Loop(None, sr.BandEnergyClassifier(), sinks, top_k=3,
                         save_path=str(tmp_path / "saved"))
  samples, rate = sr.read_clip(sr.DOG_CLIP)
  sent = []
  for n in range(3):
    start = T0 + datetime.timedelta(seconds=5 * n)
    window = windows.Window(samples[:rate * 2].reshape(-1, 1), rate, n * rate * 2, start,
                            start + datetime.timedelta(seconds=2), 0.0)
    event = runner.process(window)
    sinks.emit(event)
    sent.append(event.to_dict())
  t = T0.timestamp()
  sinks.event(notice("start", "Dog", t + 1, saved=[sent[0]["saved_audio"]]))
  sinks.event(notice("end", "Dog", t + 1, t + 9, saved=[s["saved_audio"] for s in sent[:2]],
                     peak=0.9))
  sinks.event(notice("start", "Rain", t + 8))   # Still open when the process stops.
  assert not sinks.failures and sink.status()["windows_written"] == 3
  history.close()

  reopened = history_lib.History(path)
  assert reopened.interrupted == 1
  page = reopened.events()
  assert page["total"] == 2 and [e["label"] for e in page["events"]] == ["Rain", "Dog"]
  rain, dog = page["events"]
  assert rain["state"] == "interrupted" and rain["end_utc"] is None
  assert (dog["state"], dog["start_utc"], dog["end_utc"]) == (
      "closed", "2026-11-26T12:00:01.000Z", "2026-11-26T12:00:09.000Z")
  assert dog["peak_score"] == 0.9 and dog["saved_audio"] == [s["saved_audio"] for s in sent[:2]]
  assert os.path.isfile(dog["saved_audio"][0])

  timeline = reopened.timeline(t - 60, t + 60, points=120)   # 1 s buckets: one window each.
  assert len(timeline["end"]) == 3
  assert [history_lib.iso_utc(s) for s in timeline["start"]] == [s["start_utc"] for s in sent]
  assert [history_lib.iso_utc(e) for e in timeline["end"]] == [s["end_utc"] for s in sent]
  assert timeline["rms_dbfs"] == [s["rms_dbfs"] for s in sent]
  best = sent[0]["predictions"][0]
  lane = timeline["labels"].index(best["label"])
  assert timeline["scores"][lane][0] == round(best["score"], 4)
  assert set(timeline["labels"]) == {p["label"] for s in sent for p in s["predictions"]}
  reopened.close()
  with sqlite3.connect(path) as db:
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_end_that_moves_the_start_closes_the_open_event(tmp_path):
  """'level' event bounds are refined when the event closes: the end notice may start
  elsewhere than the start notice; it still closes that event, not a new one."""
  history = history_lib.History(str(tmp_path / "history.sqlite3"))
  t = T0.timestamp()
  history.add_event(notice("start", "Dog", t + 10.48).to_dict())
  history.add_event(notice("start", "Rain", t + 11.0).to_dict())
  history.add_event(notice("end", "Dog", t + 10.3, t + 12.1).to_dict())
  history.add_event(notice("end", "Dog", t + 20.0, t + 21.0).to_dict())   # No start came.
  events = {(e["label"], e["start_utc"]): e for e in history.events()["events"]}
  assert sorted((label, start, e["state"], e["end_utc"]) for (label, start), e in events.items()) \
      == [("Dog", "2026-11-26T12:00:10.300Z", "closed", "2026-11-26T12:00:12.100Z"),
          ("Dog", "2026-11-26T12:00:20.000Z", "closed", "2026-11-26T12:00:21.000Z"),
          ("Rain", "2026-11-26T12:00:11.000Z", "open", None)]
  assert events["Dog", "2026-11-26T12:00:10.300Z"]["start_seconds"] == pytest.approx(10.3)
  history.close()


def test_timeline_buckets_keep_maxima_and_the_level_floor(tmp_path):
  history = history_lib.History(str(tmp_path / "h.sqlite3"))
  t = T0.timestamp()
  history.add_window(window_dict(t + 5, [("Dog", 0.2), ("Speech", 0.7)], rms=float("-inf")))
  history.add_window(window_dict(t + 10, [("Dog", 0.9)], rms=-40.0, peak=-3.0))
  history.add_window(window_dict(t + 100, [("Rain", 0.5)], rms=-20.0))
  answer = history.timeline(t, t + 120, points=2)       # Buckets of 60 s.
  assert answer["bucket_seconds"] == 60.0
  assert answer["labels"] == ["Dog", "Speech", "Rain"]    # By best score.
  assert answer["scores"] == [[0.9, None], [0.7, None], [None, 0.5]]
  assert answer["rms_dbfs"] == [-40.0, -20.0] and answer["peak_dbfs"] == [-3.0, -10.0]
  assert answer["start"] == [t, t + 95] and answer["end"] == [t + 10, t + 100]
  silent = history.timeline(t, t + 7, points=1)
  assert silent["rms_dbfs"] == [-120.0]                   # -inf is stored as the floor.
  assert history.timeline(t, t + 120, points=2, lanes=1)["labels"] == ["Dog"]


def test_events_filter_by_label_and_time_and_page(tmp_path):
  history = history_lib.History(str(tmp_path / "h.sqlite3"))
  t = T0.timestamp()
  for n in range(30):
    label = "Dog" if n % 3 == 0 else "Speech"
    history.add_event(notice("end", label, t + n * 3600, t + n * 3600 + 5).to_dict())
  assert history.labels() == ["Dog", "Speech"]
  dogs = history.events(label="Dog", limit=4)
  assert dogs["total"] == 10 and len(dogs["events"]) == 4
  assert [e["start_utc"][11:13] for e in dogs["events"]] == ["15", "12", "09", "06"]
  second = history.events(label="Dog", offset=4, limit=4)["events"]
  assert second[0]["start_utc"] < dogs["events"][-1]["start_utc"]
  day = history.events(since=t, until=t + DAY / 2)   # 12:00 to 24:00 on the first day.
  assert day["total"] == 12 and {e["start_utc"][:10] for e in day["events"]} == {"2026-11-26"}
  assert history.event(day["events"][0]["id"]) == day["events"][0]


def test_retention_by_age_and_by_size(tmp_path):
  options = H.HistoryOptions(history_window_days=2, history_event_days=10, history_max_mb=0.15)
  history = history_lib.History(str(tmp_path / "h.sqlite3"), options)
  now = T0.timestamp()
  for n in range(2000):          # 5 s windows over ~1.4 hours, 3 days ago and now.
    end = now - 3 * DAY + n * 5 if n < 1000 else now - (2000 - n) * 5
    history.add_window(window_dict(end, [("Dog", 0.5), ("Speech", 0.25), ("Rain", 0.125)]))
  history.add_event(notice("end", "Dog", now - 11 * DAY, now - 11 * DAY + 5).to_dict())
  history.add_event(notice("end", "Dog", now - 5 * DAY, now - 5 * DAY + 5).to_dict())
  assert history.used_bytes() > options.history_max_mb * H.BYTES_PER_MB
  with sqlite3.connect(history.path) as db:       # Every page in the file, none in the WAL.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
  size_before = os.path.getsize(history.path)

  deleted = history.prune(now)
  assert deleted["events"] == 1 and history.counts()["events"] == 1    # 11 days old went.
  assert history.used_bytes() <= options.history_max_mb * H.BYTES_PER_MB
  left = history.counts()["windows"]
  assert 0 < left < 1000 and deleted["windows"] == 2000 - left
  newest = history.timeline(now - DAY, now + 1, points=100000)["end"]
  assert len(newest) == left and newest[-1] == now - 5          # The newest windows stay.
  assert os.path.getsize(history.path) < size_before            # Pages went back to the disk.
  history.close()


def _record(folder, start, seconds_old, size, now):
  path = folder / prediction.record_name(start)
  path.write_bytes(b"\0" * size)
  os.utime(path, (now - seconds_old, now - seconds_old))
  return path


def test_saved_windows_retention_by_age_then_total_size(tmp_path):
  now = T0.timestamp()
  folder = tmp_path / "saved"
  folder.mkdir()
  records = [_record(folder, T0 + datetime.timedelta(seconds=7 * n), (10 - n) * 3600, 1000, now)
             for n in range(10)]
  other = folder / "notes.txt"
  other.write_text("kept")
  os.utime(other, (0, 0))
  result = retention.prune_saved(str(folder), max_age_seconds=7.5 * 3600, max_bytes=5000,
                                 now=now)
  left = sorted(p.name for p in folder.iterdir())
  assert left == sorted([p.name for p in records[5:]] + ["notes.txt"])   # 3 by age, 2 by size.
  assert (result.deleted_files, result.deleted_bytes, result.files, result.bytes) == (
      5, 5000, 5, 5000)
  assert result.free_bytes > 0

  keeper = retention.Retention(H.HistoryOptions(save_max_days=1, save_max_mb=0.002),
                               save_path=str(folder))
  keeper.run_once(now)
  assert keeper.status()["deleted"]["saved_files"] == 3 and keeper.last_error is None
  keeper.save_path = str(tmp_path / "missing")
  keeper.run_once(now)
  assert "missing" in keeper.status()["last_error"]


def test_a_file_that_is_not_a_history_is_one_clear_error(tmp_path):
  path = tmp_path / "history.sqlite3"
  path.write_bytes(b"not SQLite at all\n" * 100)
  with pytest.raises(history_lib.HistoryError, match="not a database") as caught:
    history_lib.History(str(path))
  assert str(caught.value).startswith(f"history {path}: ")


def test_the_file_records_its_layout_and_a_newer_one_is_refused(tmp_path):
  import sqlite3
  path = tmp_path / "history.sqlite3"
  history_lib.History(str(path))
  with sqlite3.connect(path) as db:
    assert db.execute("PRAGMA user_version").fetchone()[0] == history_lib.LAYOUT_VERSION
    db.execute("PRAGMA user_version = 0")          # A file from before layouts were numbered.
  history_lib.History(str(path))                   # Opened and brought up to date.
  with sqlite3.connect(path) as db:
    assert db.execute("PRAGMA user_version").fetchone()[0] == history_lib.LAYOUT_VERSION
    db.execute(f"PRAGMA user_version = {history_lib.LAYOUT_VERSION + 1}")
  with pytest.raises(history_lib.HistoryError, match="newer soundscope") as caught:
    history_lib.History(str(path))
  assert str(caught.value).startswith(f"history {path}: ") and "--state-dir" in str(caught.value)
  with sqlite3.connect(path) as db:                # Refused, not changed.
    assert db.execute("PRAGMA user_version").fetchone()[0] == history_lib.LAYOUT_VERSION + 1
