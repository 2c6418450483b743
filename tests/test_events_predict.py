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
