"""An events table -> what the report shows: per-label figures, activity counts, top events.

Everything is computed over whole columns (pyarrow.compute and numpy: label
codes, np.bincount, np.unique, one stable sort); Python loops run over labels
or over the few events listed, never over all events, so a table of a million
events is summarised in about a second.

Activity counts events by where their start falls: with absolute times
(start_utc) by hour of day and by date in the report's time zone; when no
event has an absolute time, by offset in its file (start_seconds, bins of
OFFSET_BIN_SECONDS).  Events without start_utc among timed ones are counted
in the figures but not in the hour and date charts (`untimed`).
"""

import dataclasses
import datetime
import typing
import zoneinfo

from soundscope.configs import report as R

SECONDS_PER_DAY = 86400
HOURS_PER_DAY = 24
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass
class Activity:
  """Event counts of every label over one axis (hours 0-23, dates, or offset bins).

  Attributes:
    axis: the positions' values, list of D numbers (hour 0-23; a date's 00:00 as
      seconds since 1970 in UTC, i.e. the local date's calendar label; an offset
      bin's start in seconds).
    counts: per label (the summary's label order), a pair of lists
      [positions' indices into axis, counts > 0 there], ascending.
    step: the axis' spacing in its own unit (1 hour, 86400 s, the bin width in s).
  """
  axis: list
  counts: list
  step: float

  def dense(self, label_index):
    """Counts of one label at every axis position, list of D ints."""
    values = [0] * len(self.axis)
    for position, count in zip(*self.counts[label_index]):
      values[position] = count
    return values


@dataclasses.dataclass
class LabelFigures:
  """One label's figures.

  Attributes:
    label: its name.
    events: how many events.
    seconds: their total duration (sum of end - start), seconds.
    files: how many sources have one.
    peak_score: the highest peak score.
    mean_score: the mean of the events' mean scores.
    first, last: the earliest and latest start as aware datetimes in the
      report's zone, or None without absolute times.
    top: the highest-peak events, list of dicts (source, start_seconds,
      end_seconds, start (aware datetime or None), peak_score, mean_score,
      windows), highest first; ties keep table order.
  """
  label: str
  events: int
  seconds: float
  files: int
  peak_score: float
  mean_score: float
  first: typing.Optional[datetime.datetime]
  last: typing.Optional[datetime.datetime]
  top: list


@dataclasses.dataclass
class Summary:
  """What the report shows of an events table.

  Attributes:
    events: rows of the table.
    files: distinct sources.
    seconds: total event duration, seconds.
    timezone: the zone name of hours, dates and datetimes.
    timed: events with an absolute start time (start_utc).
    first, last: earliest and latest timed start (aware, in the zone), or None.
    labels: LabelFigures, most events first (ties: by name).
    runs: [{model, model_version, label_set, label_set_hash, events}], most events first.
    hours, dates: Activity by hour of day and by date (None when no event is timed).
    offsets: Activity by offset in the file (None when some event is timed).
  """
  events: int
  files: int
  seconds: float
  timezone: str
  timed: int
  first: typing.Optional[datetime.datetime]
  last: typing.Optional[datetime.datetime]
  labels: list
  runs: list
  hours: typing.Optional[Activity]
  dates: typing.Optional[Activity]
  offsets: typing.Optional[Activity]


def _codes(column):
  """(int64 codes [N], list of distinct values) of a string ChunkedArray without nulls."""
  import pyarrow.compute as pc
  encoded = pc.dictionary_encode(column.combine_chunks())
  codes = encoded.indices.to_numpy(zero_copy_only=False).astype("int64")
  return codes, encoded.dictionary.to_pylist()


def _label_order(codes, names):
  """(codes renumbered most events first, names in that order, counts [L])."""
  import numpy as np
  counts = np.bincount(codes, minlength=len(names))
  by_name = np.argsort(np.array(names, dtype=object), kind="stable")
  name_rank = np.empty(len(names), "int64")
  name_rank[by_name] = np.arange(len(names))
  order = np.lexsort((name_rank, -counts))
  rank = np.empty(len(names), "int64")
  rank[order] = np.arange(len(names))
  return rank[codes], [names[i] for i in order], counts[order]


def activity(codes, positions, n_labels, axis, step):
  """Activity from each event's label code and axis position (both int arrays [N]).

  Returns:
    Activity with per-label sparse counts (np.unique over code * D + position).
  """
  import numpy as np
  size = len(axis)
  keys, counts = np.unique(codes * size + positions, return_counts=True)
  labels, where = np.divmod(keys, size)
  bounds = np.searchsorted(labels, np.arange(n_labels + 1))
  per_label = [[where[a:b].tolist(), counts[a:b].tolist()] for a, b in zip(bounds[:-1], bounds[1:])]
  return Activity(list(axis), per_label, step)


def _local_times(table, zone):
  """(mask of timed rows [N], local hour [T], local day number since 1970 [T]) in `zone`."""
  import numpy as np
  import pyarrow as pa
  import pyarrow.compute as pc
  column = table.column("start_utc").combine_chunks()
  mask = column.is_valid().to_numpy(zero_copy_only=False)
  timed = column.filter(column.is_valid())
  local = pc.local_timestamp(timed.cast(pa.timestamp("us", tz=zone)))
  hours = pc.hour(local).to_numpy().astype("int64")
  days = local.cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
  return mask, hours, days.astype("int64")


def _date_axis(days):
  """(axis days, each event's index into it): every calendar day, or only days with events."""
  import numpy as np
  first, last = int(days.min()), int(days.max())
  if last - first + 1 <= R.MAX_CALENDAR_DAYS:
    return np.arange(first, last + 1), days - first
  axis, where = np.unique(days, return_inverse=True)
  return axis, where


def _offset_bins(starts):
  """(bin width s, bin starts, each event's bin) of start offsets, <= OFFSET_BINS bins if it can."""
  import numpy as np
  top = float(starts.max()) if len(starts) else 0.0
  width = next((w for w in R.OFFSET_BIN_SECONDS if top / w < R.OFFSET_BINS),
               R.OFFSET_BIN_SECONDS[-1])
  where = np.floor(np.maximum(starts, 0.0) / width).astype("int64")
  return width, [float(i * width) for i in range(int(where.max()) + 1)], where


def _in_zone(micros, zone):
  """An aware datetime in `zone` of microseconds since 1970 UTC."""
  return (EPOCH + datetime.timedelta(microseconds=int(micros))).astimezone(zone)


def _top_rows(table, codes, counts, peaks, top, zone):
  """Per label (in code order), its `top` highest-peak rows as dicts."""
  import numpy as np
  import pyarrow as pa
  import pyarrow.compute as pc
  order = pc.sort_indices(pa.table({"l": codes, "p": peaks}),
                          sort_keys=[("l", "ascending"), ("p", "descending")]).to_numpy()
  starts = np.cumsum(counts) - counts
  ranks = np.arange(top)
  take = (starts[:, None] + ranks)[ranks < counts[:, None]]
  names = ["source", "start_seconds", "end_seconds", "start_utc", "peak_score", "mean_score",
           "windows"]
  rows = table.select(names).take(order[take]).to_pylist()
  for row in rows:
    when = row.pop("start_utc")
    row["start"] = when.astimezone(zone) if when is not None else None
  bounds = np.concatenate([[0], np.cumsum(np.minimum(counts, top))])
  return [rows[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _runs(table):
  """[{model, model_version, label_set, label_set_hash, events}] of the table, most events first."""
  keys = ["model", "model_version", "label_set", "label_set_hash"]
  groups = table.group_by(keys, use_threads=False).aggregate([([], "count_all")]).to_pylist()
  runs = [{**{k: g[k] for k in keys}, "events": g["count_all"]} for g in groups]
  return sorted(runs, key=lambda run: (-run["events"], [str(run[k]) for k in keys]))


def summarize(table, options):
  """The report's Summary of an events table (EVENTS_SCHEMA).

  Args:
    table: pyarrow.Table of EVENTS_SCHEMA (required columns without nulls).
    options: configs.report.ArchiveReport (top_events, timezone).

  Returns:
    Summary.
  """
  import numpy as np
  zone = zoneinfo.ZoneInfo(options.timezone)
  raw_codes, raw_names = _codes(table.column("label"))
  codes, names, counts = _label_order(raw_codes, raw_names)
  n_labels = len(names)
  source_codes, sources = _codes(table.column("source"))
  start = table.column("start_seconds").to_numpy()
  end = table.column("end_seconds").to_numpy()
  peaks = table.column("peak_score").to_numpy()
  seconds = np.bincount(codes, weights=end - start, minlength=n_labels)
  mean_scores = np.bincount(codes, weights=table.column("mean_score").to_numpy(),
                            minlength=n_labels)
  peak = np.full(n_labels, -np.inf)
  np.maximum.at(peak, codes, peaks)
  pairs = np.unique(codes * max(len(sources), 1) + source_codes)
  files = np.bincount(pairs // max(len(sources), 1), minlength=n_labels)

  mask, hours, days = _local_times(table, options.timezone)
  timed = int(mask.sum())
  first = np.full(n_labels, np.iinfo("int64").max)
  last = np.full(n_labels, np.iinfo("int64").min)
  hour_activity = date_activity = offset_activity = None
  overall = (None, None)
  if timed:
    micros = table.column("start_utc").combine_chunks().filter(mask).cast("int64").to_numpy()
    np.minimum.at(first, codes[mask], micros)
    np.maximum.at(last, codes[mask], micros)
    overall = (_in_zone(micros.min(), zone), _in_zone(micros.max(), zone))
    hour_activity = activity(codes[mask], hours, n_labels, range(HOURS_PER_DAY), 1)
    axis, where = _date_axis(days)
    date_activity = activity(codes[mask], where, n_labels, (axis * SECONDS_PER_DAY).tolist(),
                             SECONDS_PER_DAY)
  elif len(start):
    width, axis, where = _offset_bins(start)
    offset_activity = activity(codes, where, n_labels, axis, width)

  tops = _top_rows(table, codes, counts, peaks, options.top_events, zone)
  labels = [LabelFigures(
      label=names[i], events=int(counts[i]), seconds=float(seconds[i]), files=int(files[i]),
      peak_score=float(peak[i]), mean_score=float(mean_scores[i] / counts[i]),
      first=_in_zone(first[i], zone) if counts[i] and first[i] <= last[i] else None,
      last=_in_zone(last[i], zone) if counts[i] and first[i] <= last[i] else None,
      top=tops[i]) for i in range(n_labels)]
  return Summary(events=table.num_rows, files=len(sources), seconds=float(seconds.sum()),
                 timezone=options.timezone, timed=timed, first=overall[0], last=overall[1],
                 labels=labels, runs=_runs(table), hours=hour_activity, dates=date_activity,
                 offsets=offset_activity)
