"""Absolute start times from file names and CSV files (transforms/timestamps.py), and
`--start-time` / `--timezone` on the command line."""

import datetime

import pytest

from soundscope.cli import main as cli
from soundscope.transforms import timestamps as T

UTC = datetime.timezone.utc


def utc(*fields):
  return datetime.datetime(*fields, tzinfo=UTC)


@pytest.mark.parametrize("pattern,timezone,name,expected", [
    ("audiomoth", "UTC", "/data/site1/20240501_053000.WAV", utc(2024, 5, 1, 5, 30)),
    ("wildlife-acoustics", "UTC", "SITE_20240501_053000.wav", utc(2024, 5, 1, 5, 30)),
    ("songmeter", "UTC", "S4A01234_PLOT_2_20231231_235959.flac", utc(2023, 12, 31, 23, 59, 59)),
    # Local recorder time: Paris is UTC+2 in summer, UTC+1 in winter, New York UTC-5 in winter.
    ("audiomoth", "Europe/Paris", "20240501_053000.wav", utc(2024, 5, 1, 3, 30)),
    ("audiomoth", "Europe/Paris", "20240115_000000.wav", utc(2024, 1, 14, 23, 0)),
    ("songmeter", "America/New_York", "X_20240101_120000.wav", utc(2024, 1, 1, 17, 0)),
    ("rec-%y%j-%H%M*", "UTC", "rec-24366-0730_gain3.wav", utc(2024, 12, 31, 7, 30)),
    ("%Y-%m-%d", "UTC", "2024-02-29.wav", utc(2024, 2, 29)),
    ("100%%_%Y%m%d", "UTC", "100%_20240102.wav", utc(2024, 1, 2)),
])
def test_patterns_read_the_start_from_the_file_name(pattern, timezone, name, expected):
  assert T.PatternTimes(pattern, timezone)(name) == expected


@pytest.mark.parametrize("name,kind,says", [
    ("20240501_0530.wav", "no_start_time", "does not match the --start-time pattern"),
    ("x_20240501_053000.wav", "no_start_time", "does not match"),
    ("20240230_053000.wav", "bad_start_time", "not a real time"),
    ("20240501_256000.wav", "bad_start_time", "not a real time"),
])
def test_a_name_without_a_real_time_is_an_error_not_a_guess(name, kind, says):
  with pytest.raises(T.StartTimeError, match=says) as caught:
    T.PatternTimes("audiomoth")(name)
  assert caught.value.kind == kind and name in str(caught.value)


@pytest.mark.parametrize("pattern,says", [
    ("%Y%m%d_%H%M%Q", "unknown directive %Q"),
    ("%H%M%S", r"names no date \(it lacks a year \(%Y or %y\) and a day \(%m and %d, or %j\)\)"),
    ("%Y%m%d_%Y", "repeated"), ("%Y%m", r"names no date \(it lacks a day \(%m and %d, or %j\)\)"),
    ("%j_%H%M", r"names no date \(it lacks a year \(%Y or %y\)\)")])
def test_bad_patterns_are_refused_naming_the_problem(pattern, says):
  with pytest.raises(T.StartTimeError, match=says):
    T.PatternTimes(pattern)


def test_csv_start_times_match_paths_at_folder_boundaries(tmp_path):
  table = tmp_path / "starts.csv"
  table.write_text("\ufeffpath,start_utc,note\n"
                   "a.wav,2024-05-01T05:30:00Z,any a.wav\n"
                   "site2/a.wav,2024-05-02T05:30:00+02:00,more specific\n"
                   "b.flac,2024-05-03 06:00:00.250,naive: in --timezone\n", encoding="utf-8")
  times = T.start_times(str(table), "Europe/Paris")
  assert times("/x/site1/a.wav") == utc(2024, 5, 1, 5, 30)
  assert times("/x/site2/a.wav") == utc(2024, 5, 2, 3, 30)           # the longest match wins
  assert times("b.flac") == utc(2024, 5, 3, 4, 0, 0, 250000)
  for other in ("/x/ba.wav", "c.wav"):
    with pytest.raises(T.StartTimeError, match="no row of the --start-time CSV") as caught:
      times(other)
    assert caught.value.kind == "no_start_time"


@pytest.mark.parametrize("text,says", [
    ("file,start\na.wav,2024-05-01T05:30:00Z\n", "no column path or start_utc"),
    ("path,start_utc\na.wav,yesterday\n", "starts.csv:2: start_utc 'yesterday' is not an ISO"),
    ("path,start_utc\na.wav,2024-05-01T05:30:00Z\n./a.wav,2024-05-01T05:30:00Z\n",
     "starts.csv:3: ./a.wav is listed twice"),
    ("path,start_utc\n", "no rows"),
    ("path,start_utc\na.wav\n", "starts.csv:2: a row without path and start_utc"),
])
def test_a_bad_csv_is_one_line_naming_the_file_and_line(tmp_path, text, says):
  table = tmp_path / "starts.csv"
  table.write_text(text)
  with pytest.raises(T.StartTimeError, match=says) as caught:
    T.start_times(str(table))
  assert caught.value.kind == "bad_csv" and "\n" not in str(caught.value)


def test_check_matches_splits_the_files_and_refuses_a_pattern_matching_none():
  times = T.PatternTimes("audiomoth")
  found, missing = T.check_matches(times, ["20240501_053000.wav", "notes.wav"])
  assert found == {"20240501_053000.wav": utc(2024, 5, 1, 5, 30)}
  assert [(path, exc.kind) for path, exc in missing] == [("notes.wav", "no_start_time")]
  with pytest.raises(T.StartTimeError, match="gives no start time for any of the 2 files"):
    T.check_matches(times, ["a.wav", "b.wav"])
  assert T.iso_utc(utc(2024, 5, 1, 5, 30, 1, 999999)) == "2024-05-01T05:30:01.999Z"


@pytest.mark.parametrize("flags,says", [
    (["--start-time", "audiomoth"], "gives no start time for any of the 1 files"),
    (["--start-time", "%Y%m%d_%Q"], "unknown directive %Q"),
    (["--start-time", "missing.csv"], "missing.csv: cannot read it"),
    (["--start-time", "audiomoth", "--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus'"),
])
def test_bad_start_times_stop_classify_before_any_work_with_one_line(capsys, tmp_path, flags,
                                                                     says):
  # No model store is needed: the options are checked first.
  status = cli.main(["classify", str(tmp_path / "clip.wav"), "--model-dir", str(tmp_path),
                     *flags])
  captured = capsys.readouterr()
  assert status == 2 and not captured.out
  lines = captured.err.strip().splitlines()
  assert len(lines) == 1 and says in lines[0], lines
