"""Absolute start times of audio files, from their names or from a CSV (pure: no I/O but the CSV).

  pattern_times(pattern, timezone)   a callable: path -> aware UTC datetime of a file
                                     named by `pattern` (configs/timestamps.py)
  csv_times(path, timezone)          the same from a CSV `path,start_utc`
  start_times(spec, timezone)        either, from --start-time's value
  iso_utc(moment)                    '2024-05-01T05:30:00.480Z'

A pattern is strftime-like and matches the whole file name without its
extension: %Y (4 digits), %y (2, 2000-2099), %m, %d, %H, %M, %S (2 each), %j
(day of the year, 3), %% a '%', `*` any text (as little as possible), every
other character itself.  It needs a date (%Y or %y, with %m and %d, or %j);
a missing time of day is 00:00:00.  The name's time is in `timezone` (IANA),
then converted to UTC; a local time that a clock change makes happen twice is
taken the first time (fold 0).

A CSV row's path names the input whose path ends with it at a folder boundary
(`x.wav`, `site/x.wav` or the full path); the longest match wins.  Its
start_utc is ISO 8601: with an offset or Z as given, without one in `timezone`.

A file whose start time cannot be found raises StartTimeError (its .kind says
why): a missing time is an error, never a guess.
"""

import csv
import datetime
import hashlib
import io
import os
import re
import zoneinfo

from soundscope.configs import timestamps as C

UTC = datetime.timezone.utc
_FIELDS = {"Y": r"(?P<Y>\d{4})", "y": r"(?P<y>\d{2})", "m": r"(?P<m>\d{2})",
           "d": r"(?P<d>\d{2})", "H": r"(?P<H>\d{2})", "M": r"(?P<M>\d{2})",
           "S": r"(?P<S>\d{2})", "j": r"(?P<j>\d{3})"}


class StartTimeError(ValueError):
  """A file without a start time, or a --start-time that cannot be used; one line.

  Attributes:
    kind: 'no_start_time' (a file that does not match), 'bad_start_time' (a
      matched name or CSV time that is no real time), 'bad_pattern' or 'bad_csv'.
  """

  def __init__(self, kind, message):
    super().__init__(message)
    self.kind = kind


def iso_utc(moment):
  """An aware datetime as ISO 8601 UTC with milliseconds and 'Z' (the live API's form)."""
  moment = moment.astimezone(UTC)
  return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _zone(timezone):
  try:
    return zoneinfo.ZoneInfo(timezone)
  except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise StartTimeError("bad_pattern", f"--timezone {timezone!r}: not an IANA time-zone "
                                        f"name (e.g. UTC, Europe/Paris)") from None


def _stem(path):
  return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def compile_pattern(pattern):
  """The compiled regular expression of a file-name pattern (named groups Y y m d H M S j).

  Raises:
    StartTimeError('bad_pattern'): an unknown %-directive, a repeated one, no date.
  """
  parts, position = [], 0
  for match in re.finditer(r"%(.)|\*", pattern):
    parts.append(re.escape(pattern[position:match.start()]))
    position = match.end()
    code = match.group(1)
    if code is None:
      parts.append(".*?")
    elif code == "%":
      parts.append("%")
    elif code in _FIELDS:
      parts.append(_FIELDS[code])
    else:
      raise StartTimeError("bad_pattern", f"--start-time {pattern!r}: unknown directive "
                                          f"%{code} (use %Y %y %m %d %H %M %S %j, * or %%)")
  if pattern.endswith("%") and not pattern.endswith("%%"):
    raise StartTimeError("bad_pattern", f"--start-time {pattern!r}: ends with a lone %")
  parts.append(re.escape(pattern[position:]))
  try:
    regex = re.compile("".join(parts))
  except re.error:
    raise StartTimeError("bad_pattern", f"--start-time {pattern!r}: a directive is repeated "
                                        f"(each of %Y %m %d ... once)") from None
  names = set(regex.groupindex)
  missing = [] if names & {"Y", "y"} else ["a year (%Y or %y)"]
  if not ({"m", "d"} <= names or "j" in names):
    missing.append("a day (%m and %d, or %j)")
  if missing:
    raise StartTimeError("bad_pattern", f"--start-time {pattern!r}: names no date (it lacks "
                                        f"{' and '.join(missing)})")
  return regex


def _local_time(fields):
  """A naive datetime of the named groups of a match (ValueError: no such time)."""
  year = int(fields["Y"]) if fields.get("Y") else 2000 + int(fields["y"])
  clock = dict(hour=int(fields.get("H") or 0), minute=int(fields.get("M") or 0),
               second=int(fields.get("S") or 0))
  if fields.get("j"):
    day = int(fields["j"])
    if not 1 <= day <= 366:
      raise ValueError(f"day of the year {day} is not in 1-366")
    moment = datetime.datetime(year, 1, 1, **clock) + datetime.timedelta(days=day - 1)
    if moment.year != year:
      raise ValueError(f"day of the year {day} is past the end of {year}")
    return moment
  return datetime.datetime(year, int(fields["m"]), int(fields["d"]), **clock)


class PatternTimes:
  """path -> aware UTC start datetime, read from the file's name by a pattern (picklable).

  Args:
    pattern: a file-name pattern or a configs.timestamps.NAMED_PATTERNS name.
    timezone: IANA name of the names' times.
  """

  def __init__(self, pattern, timezone=C.DEFAULT_TIMEZONE):
    self.name = pattern
    self.pattern = C.NAMED_PATTERNS.get(pattern, pattern)
    self.timezone = timezone
    self._regex = compile_pattern(self.pattern)
    _zone(timezone)

  def __getstate__(self):
    return {"name": self.name, "pattern": self.pattern, "timezone": self.timezone}

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._regex = compile_pattern(self.pattern)

  def describe(self):
    named = f" ({self.name})" if self.name != self.pattern else ""
    return f"pattern {self.pattern!r}{named}"

  def settings(self):
    """What decides the start times (for --resume's comparison): pattern and time zone."""
    return f"pattern {self.pattern!r} in {self.timezone}"

  def __call__(self, path):
    """The file's start, an aware UTC datetime.

    Raises:
      StartTimeError: 'no_start_time' (its name does not match), 'bad_start_time'.
    """
    match = self._regex.fullmatch(_stem(path))
    if match is None:
      raise StartTimeError("no_start_time", f"{path}: the file name does not match the "
                                            f"--start-time {self.describe()}")
    try:
      local = _local_time(match.groupdict())
    except ValueError as exc:
      raise StartTimeError("bad_start_time", f"{path}: the file name's time is not a real "
                                             f"time ({exc})") from None
    return local.replace(tzinfo=_zone(self.timezone)).astimezone(UTC)


def _csv_time(text, zone, where):
  try:
    moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
  except ValueError:
    raise StartTimeError("bad_csv", f"{where}: start_utc {text!r} is not an ISO 8601 time "
                                    f"(e.g. 2024-05-01T05:30:00Z)") from None
  if moment.tzinfo is None:
    moment = moment.replace(tzinfo=zone)
  return moment.astimezone(UTC)


def _parts(path):
  return tuple(part for part in os.path.normpath(os.fspath(path)).replace("\\", "/").split("/")
               if part not in ("", "."))


class CsvTimes:
  """path -> aware UTC start datetime, from a CSV file `path,start_utc` (picklable).

  Raises (when made):
    StartTimeError('bad_csv'): unreadable, no such columns, a bad time, a path twice.
  """

  def __init__(self, csv_path, timezone=C.DEFAULT_TIMEZONE):
    self.csv_path = os.fspath(csv_path)
    self.timezone = timezone
    zone = _zone(timezone)
    self.sha256 = None                                 # Of the file's bytes, once read.
    self._by_name = {}
    for where, path, text in self._rows():
      parts = _parts(path)
      if not parts:
        raise StartTimeError("bad_csv", f"{where}: an empty path")
      entries = self._by_name.setdefault(parts[-1], {})
      if parts in entries:
        raise StartTimeError("bad_csv", f"{where}: {path} is listed twice")
      entries[parts] = _csv_time(text, zone, where)
    if not self._by_name:
      raise StartTimeError("bad_csv", f"{self.csv_path}: no rows (a header line "
                                      f"'{C.CSV_PATH_COLUMN},{C.CSV_START_COLUMN}', then one "
                                      f"row per file)")

  def _rows(self):
    """(where, path, start_utc text) of each row; keeps the file's sha256."""
    try:
      with open(self.csv_path, "rb") as stream:
        data = stream.read()
      text = data.decode("utf-8-sig")
    except OSError as exc:
      raise StartTimeError("bad_csv", f"--start-time {self.csv_path}: cannot read it: "
                                      f"{exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
      raise StartTimeError("bad_csv", f"{self.csv_path}: not a UTF-8 CSV file: {exc}") from None
    self.sha256 = hashlib.sha256(data).hexdigest()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
      columns = reader.fieldnames or []
      missing = [c for c in (C.CSV_PATH_COLUMN, C.CSV_START_COLUMN) if c not in columns]
      if missing:
        raise StartTimeError("bad_csv", f"{self.csv_path}: no column {' or '.join(missing)} "
                                        f"in the header line (it needs "
                                        f"{C.CSV_PATH_COLUMN},{C.CSV_START_COLUMN})")
      for row in reader:
        where = f"{self.csv_path}:{reader.line_num}"
        if row[C.CSV_PATH_COLUMN] is None or row[C.CSV_START_COLUMN] is None:
          raise StartTimeError("bad_csv", f"{where}: a row without path and start_utc")
        yield where, row[C.CSV_PATH_COLUMN].strip(), row[C.CSV_START_COLUMN]
    except csv.Error as exc:
      raise StartTimeError("bad_csv", f"{self.csv_path}: not a CSV file: {exc}") from None

  def describe(self):
    return f"CSV {self.csv_path}"

  def settings(self):
    """What decides the start times (for --resume's comparison): the CSV's bytes (sha256)
    and the time zone of its times without an offset."""
    return f"CSV {self.csv_path} (sha256 {self.sha256}) in {self.timezone}"

  def __call__(self, path):
    """The start of the input `path`: the CSV row whose path ends its path, longest first.

    Raises:
      StartTimeError('no_start_time'): no row names it.
    """
    parts = _parts(path)
    matches = [(len(listed), moment)
               for listed, moment in self._by_name.get(parts[-1] if parts else "", {}).items()
               if parts[-len(listed):] == listed]
    if not matches:
      raise StartTimeError("no_start_time", f"{path}: no row of the --start-time CSV "
                                            f"{self.csv_path} names this file")
    return max(matches, key=lambda match: match[0])[1]


def start_times(spec, timezone=C.DEFAULT_TIMEZONE):
  """PatternTimes or CsvTimes from --start-time's value (a CSV when it ends in .csv)."""
  if spec.lower().endswith(C.CSV_SUFFIX):
    return CsvTimes(spec, timezone)
  return PatternTimes(spec, timezone)


def check_matches(times, paths):
  """The paths' starts {path: datetime}, and [(path, StartTimeError)] of those without one.

  Raises:
    StartTimeError('no_start_time'): paths were given and none has a start time (the
      pattern or CSV is surely wrong): one line naming it and a file.
  """
  found, missing = {}, []
  for path in paths:
    try:
      found[path] = times(path)
    except StartTimeError as exc:
      missing.append((path, exc))
  if paths and not found:
    raise StartTimeError("no_start_time", f"--start-time {times.describe()} gives no start "
                                          f"time for any of the {len(paths)} files (e.g. "
                                          f"{missing[0][1]})")
  return found, missing
