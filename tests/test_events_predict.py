"""`soundscope predict --events`: the events Parquet table (transforms/event_tables.py) and
its exports, absolute start times, and the per-file event step shared with classify."""

import datetime

import pytest

from soundscope.transforms import event_tables as T
from soundscope.transforms import events as V

UTC = datetime.timezone.utc


def test_events_parquet_round_trips_with_nulls_and_utc_times(tmp_path):
  start = datetime.datetime(2024, 5, 1, 5, 30, 0, 480000, tzinfo=UTC)
  dog = V.Event("dog", 0.48, 2.895, 0.9375, 0.6123456789012345, 5)
  rain = V.Event("rain", 0.1, 0.2, 0.5, 0.5, 1)
  rows = [T.event_row("a/1.wav", dog, start_utc=start,
                      end_utc=start + datetime.timedelta(seconds=2.415), model="yamnet",
                      model_version="1", label_set="esc10", label_set_hash="ab" * 32),
          T.event_row("b.flac", rain)]
  path = tmp_path / "run-events.parquet"
  T.write_parquet(str(path), T.events_table(rows))
  table = T.read_parquet(str(path))
  assert table.schema.equals(T.EVENTS_SCHEMA)
  assert tuple(table.column_names) == T.EVENTS_NAMES
  back = table.to_pylist()
  assert back[0] == rows[0]
  assert back[1] == {name: rows[1].get(name) for name in T.EVENTS_NAMES}
  assert T.events_of_table(table) == [("a/1.wav", dog), ("b.flac", rain)]
  with pytest.raises(T.EventTableError, match="missing \\['label'\\]"):
    T.events_table([{"source": "x", "start_seconds": 0.0, "end_seconds": 1.0,
                     "peak_score": 1.0, "mean_score": 1.0, "windows": 1}])
  (tmp_path / "not.parquet").write_text("x")
  with pytest.raises(T.EventTableError, match="not.parquet: not a Parquet file"):
    T.read_parquet(str(tmp_path / "not.parquet"))


# ------------------------------------------------------------- predict --events, end to end

import hashlib
import json
import os
import shutil

import pyarrow.parquet as pq

from soundscope.cli import main as cli
from soundscope.models import label_sets
from conftest import asset
from support_store import yamnet_store

# ESC-10 clips renamed as an AudioMoth names its files (UTC start in the name).
CLIPS = {"1-100032-A-0.flac": "20240501_053000.flac",     # dog
         "1-17367-A-10.flac": "20240501_053100.flac",     # rain
         "1-187207-A-20.flac": "20240501_053200.flac"}    # crying baby
UNNAMED = "notes.flac"                                     # no start time in its name


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
  root = tmp_path_factory.mktemp("events-archive")
  yamnet_store(root / "models")
  (root / "site").mkdir()
  for clip, name in CLIPS.items():
    shutil.copy(asset(f"audio/esc10/{clip}"), root / "site" / name)
  shutil.copy(asset("audio/esc10/1-100032-A-0.flac"), root / "site" / UNNAMED)
  return root


def run_cli(capsys, *args):
  status = cli.main(list(args))
  captured = capsys.readouterr()
  return status, captured.out, captured.err


@pytest.fixture(scope="module")
def predicted(archive):
  """One predict --events run over the archive (module-wide: the run is the expensive part)."""
  output = archive / "out" / "site.parquet"
  tables = archive / "raven"
  status = cli.main(["predict", "--input", str(archive / "site"), "--output", str(output),
                     "--model-dir", str(archive / "models"), "--labels", "esc10",
                     "--per-window", "--events", "--start-time", "audiomoth",
                     "--min-level", "-60", "--event-dir", str(tables), "--format",
                     "raven", "--no-progress"])
  return status, output, tables


@pytest.mark.slow
def test_predict_events_give_classifys_events_with_utc_times_and_exports(archive, predicted,
                                                                          capsys, tmp_path):
  capsys.readouterr()
  status, output, tables = predicted
  assert status == 0
  events_path = output.parent / "site-events.parquet"
  table = T.read_parquet(str(events_path))
  assert table.schema.equals(T.EVENTS_SCHEMA)
  rows = table.to_pylist()
  # Under the esc10 set's own event rules (configs/label_sets/esc10.yaml) each clip's
  # category is an event, the baby's cries (peak 0.4, its enter 0.05) too.
  assert [(os.path.basename(r["source"]), r["label"]) for r in rows] == [
      ("20240501_053000.flac", "dog"), ("20240501_053100.flac", "rain"),
      ("20240501_053200.flac", "crying_baby")]
  esc10 = label_sets.path_of("esc10").read_bytes()
  assert {r["label_set"] for r in rows} == {"esc10"}
  assert {r["label_set_hash"] for r in rows} == {hashlib.sha256(esc10).hexdigest()}
  assert {r["model"] for r in rows} == {"yamnet"}
  # Each file's events are classify's for the same file and flags (one per-file function).
  for clip, name in CLIPS.items():
    path = str(archive / "site" / name)
    status, out, _ = run_cli(capsys, "classify", path, "--model-dir", str(archive / "models"),
                             "--labels", "esc10", "--events", "--json", "--start-time",
                             "audiomoth", "--min-level", "-60")
    expected = json.loads(out)["events"]
    mine = [r for r in rows if r["source"] == path]
    assert [V.Event(r["label"], r["start_seconds"], r["end_seconds"], r["peak_score"],
                    r["mean_score"], r["windows"]).as_dict() for r in mine] == [
        {k: v for k, v in e.items() if not k.endswith("_utc")} for e in expected]
    start = datetime.datetime.strptime(name[:15], "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    for r, e in zip(mine, expected):
      assert r["start_utc"] == start + datetime.timedelta(microseconds=round(
          r["start_seconds"] * 1e6))
      assert e["start_utc"] == T_iso(r["start_utc"])
  # The file without a start time is an error row naming the stage, not a guess.
  errors = pq.read_table(output.parent / "site-errors.parquet").to_pylist()
  assert [(os.path.basename(e["input"]), e["stage"], e["error_type"]) for e in errors] == [
      (UNNAMED, "start_time", "no_start_time")]
  # Window rows: the old columns as before, plus levels and UTC times; quiet windows unclassified.
  windows = pq.read_table(output)
  assert windows.column_names[:9] == ["id", "source", "record", "start_seconds", "end_seconds",
                                      "predictions", "model", "model_version", "run_time"]
  dog = [w for w in windows.to_pylist() if w["source"].endswith("20240501_053000.flac")]
  assert dog[0]["start_utc"] == datetime.datetime(2024, 5, 1, 5, 30, tzinfo=UTC)
  quiet = [w for w in dog if w["rms_dbfs"] < -60]
  assert quiet and all(w["predictions"] is None for w in quiet)
  assert all(w["predictions"] is not None for w in dog if w["rms_dbfs"] >= -60)
  # Raven tables, one per file scored (the baby's empty), and the other exporters,
  # round-trip with the Parquet.
  assert sorted(os.listdir(tables)) == sorted(n.replace(".flac", T.RAVEN_SUFFIX)
                                             for n in CLIPS.values())
  for name in CLIPS.values():
    raven = T.read_raven(tables / name.replace(".flac", T.RAVEN_SUFFIX))
    assert raven == [e for s, e in T.events_of_table(table) if s.endswith(name)]
  from soundscope.pipelines import events as pipeline_events
  for kind, reader in (("csv", T.read_csv), ("jsonl", T.read_jsonl)):
    pipeline_events.export(table, tmp_path / kind, kind)
    assert reader(tmp_path / kind / f"events.{kind}") == T.events_of_table(table)
  # The csv and jsonl tables carry the events' UTC times, classify's the same as predict's.
  import csv
  with open(tmp_path / "csv" / "events.csv", newline="") as stream:
    exported = [(r["start_utc"], r["end_utc"]) for r in csv.DictReader(stream)]
  utc = [(r["start_utc"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
          r["end_utc"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")) for r in rows]
  assert exported == utc and exported[0][0] == "2024-05-01T05:30:%09.6fZ" % rows[0]["start_seconds"]
  with open(tmp_path / "jsonl" / "events.jsonl") as stream:
    assert [(j["start_utc"], j["end_utc"]) for j in map(json.loads, stream)] == utc
  dog = str(archive / "site" / CLIPS["1-100032-A-0.flac"])
  assert run_cli(capsys, "classify", dog, "--model-dir", str(archive / "models"), "--labels",
                 "esc10", "--events", "--start-time", "audiomoth", "--min-level", "-60",
                 "--event-dir", str(tmp_path / "classify"), "--format", "jsonl")[0] == 0
  with open(tmp_path / "classify" / "events.jsonl") as stream:
    assert [(j["start_utc"], j["end_utc"]) for j in map(json.loads, stream)] == utc[:1]


def T_iso(moment):
  from soundscope.transforms import timestamps
  return timestamps.iso_utc(moment)


@pytest.mark.parametrize("flags,says", [
    (["--start-time", "songmeter"], "gives no start time for any of the 4 files"),
    (["--start-time", "bad.csv"], "bad.csv: cannot read it"),
    (["--events", "--input-format", "tfrecord"], "need audio inputs"),
])
def test_bad_event_inputs_stop_predict_with_one_line(archive, capsys, tmp_path, flags, says):
  status, out, err = run_cli(capsys, "predict", "--input", str(archive / "site"), "--output",
                             str(tmp_path / "x.parquet"), "--model-dir", str(archive / "models"),
                             "--no-progress", *flags)
  lines = err.strip().splitlines()
  assert status == 2 and len(lines) == 1 and says in lines[0], err
  assert not os.path.exists(tmp_path / "x.parquet")


def test_predict_events_over_an_empty_archive_is_a_usage_error(archive, capsys, tmp_path):
  (tmp_path / "empty").mkdir()
  status, _, err = run_cli(capsys, "predict", "--input", str(tmp_path / "empty"), "--output",
                           str(tmp_path / "x.parquet"), "--model-dir", str(archive / "models"),
                           "--events", "--no-progress")
  lines = err.strip().splitlines()
  assert status == 2 and len(lines) == 1 and "holds no file" in lines[0] and "empty" in lines[0], err


def test_predict_takes_start_times_from_a_csv_and_resume_sees_it_change(archive, capsys,
                                                                         tmp_path):
  """--start-time FILE.csv: listed files get their times, an unlisted one is an error row,
  and a missing listed path is named as missing; --resume refuses a CSV whose rows
  changed."""
  names = sorted(CLIPS.values())
  table = tmp_path / "starts.csv"
  table.write_text("path,start_utc\n"
                   f"site/{names[0]},2024-06-01T10:00:00Z\n"
                   f"{names[1]},2024-06-01T12:00:00+02:00\n"
                   f"{names[2]},2024-06-01T11:00:00\n")
  listing = tmp_path / "inputs.txt"
  listing.write_text("\n".join([str(archive / "site" / name) for name in names]
                               + [str(archive / "site" / UNNAMED), str(tmp_path / "gone.flac")])
                     + "\n")
  output = tmp_path / "out" / "site.parquet"
  argv = ["predict", "--input", str(listing), "--output", str(output), "--model-dir",
          str(archive / "models"), "--labels", "esc10", "--events", "--start-time", str(table),
          "--no-progress"]
  status, out, err = run_cli(capsys, *argv)
  assert status == 0, err
  assert "files: 5 in = 3 written + 2 errors (all accounted for)" in out
  starts = {os.path.basename(row["source"]): row["start_utc"]
            for row in pq.read_table(output).to_pylist()}
  assert [T_iso(starts[name]) for name in names] == [
      "2024-06-01T10:00:00.000Z", "2024-06-01T10:00:00.000Z", "2024-06-01T11:00:00.000Z"]
  errors = {os.path.basename(row["input"]): row["error_type"]
            for row in pq.read_table(tmp_path / "out" / "site-errors.parquet").to_pylist()}
  assert errors == {UNNAMED: "no_start_time", "gone.flac": "file_not_found"}
  table.write_text(table.read_text().replace("T11:00:00", "T11:30:00"))
  status, _, err = run_cli(capsys, *argv, "--resume")
  assert status == 2 and len(err.strip().splitlines()) == 1 and "sha256" in err, err
