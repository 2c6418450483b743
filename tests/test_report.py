"""soundscope report: events tables -> one self-contained HTML page, checked in headless Chromium.

The figures on the page are compared with figures computed here independently
(plain Python over the rows), the charts' drawn data with the same, the audio
links with the events' offsets (and the browser opens the audio there).
"""

import collections
import datetime
import json
import os
import random
import urllib.parse
import zoneinfo

import pytest

import support_browser
from conftest import asset
from support_store import yamnet_store
from soundscope.cli import main as cli
from soundscope.configs import report as R
from soundscope.report import aggregate
from soundscope.transforms import event_tables as T
from soundscope.transforms import events as events_lib

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 6, 0, 0, tzinfo=UTC)   # Five days over the US DST change (Mar 8).
LABELS = ("dog", "rain", "rooster", "crying baby")
# Names with a space and a '#' check the links' percent-encoding.
SOURCES = ("audio/site a/north.wav", "audio/south.wav", "audio/east#1.wav")
AUDIO_SECONDS = 30
AUDIO_RATE_HZ = 8000
TOP = 5
ESC10_CLIPS = ("audio/esc10/1-100032-A-0.flac", "audio/esc10/1-17367-A-10.flac",
               "audio/esc10/1-187207-A-20.flac")
COLOURED_PIXELS = 150     # A drawn series colours more pixels than this (grid and axes are grey).

# Pixels whose channels differ by more than 40: the series' colours, not the grey grid or text.
COLOURED = """canvases => canvases.map(c => {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (d[i + 3] > 0 &&
        Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) n++;
  return n; })"""
CHART_DATA = """() => soundscopeReport.charts.map(c => {
  const section = c.el.closest("section.label");
  return {id: c.el.id, kind: c.kind, data: c.chart.data,
          label: section ? Number(section.dataset.index) : null}; })"""
AUDIO_TIME = """async href => { const a = new Audio(href); a.preload = "auto";
  await new Promise((ok, bad) => {
    a.onloadedmetadata = ok; a.onerror = () => bad(new Error("no audio")); });
  return a.currentTime; }"""


def make_rows(seed=20):
  """300 events over LABELS and SOURCES; every tenth of east#1.wav's has no absolute time."""
  rng = random.Random(seed)
  rows = []
  for i in range(300):
    source = SOURCES[i % 3]
    start = rng.uniform(0.0, AUDIO_SECONDS - 5.0)
    end = start + rng.uniform(0.5, 4.5)
    when = T0 + datetime.timedelta(seconds=rng.uniform(0, 5 * 86400))
    timed = not (source == SOURCES[2] and i % 10 == 2)
    rows.append(T.event_row(
        source, events_lib.Event(rng.choices(LABELS, weights=(5, 3, 2, 1))[0], start, end,
                                 rng.uniform(0.5, 1.0), rng.uniform(0.3, 0.5),
                                 rng.randint(1, 9)),
        start_utc=when if timed else None,
        end_utc=when + datetime.timedelta(seconds=end - start) if timed else None,
        model="yamnet", model_version="tfhub-1", label_set="esc10", label_set_hash="ab" * 32))
  return rows


def expected_figures(rows, zone, top=TOP):
  """Per label in the page's order: {label, events, seconds, files, peak, hours, dates, top}."""
  by_label = collections.defaultdict(list)
  for index, row in enumerate(rows):
    by_label[row["label"]].append((index, row))
  order = sorted(by_label, key=lambda label: (-len(by_label[label]), label))
  figures = []
  for label in order:
    items = by_label[label]
    local = [row["start_utc"].astimezone(zone) for _, row in items if row["start_utc"]]
    figures.append({
        "label": label, "events": len(items),
        "seconds": sum(row["end_seconds"] - row["start_seconds"] for _, row in items),
        "files": len({row["source"] for _, row in items}),
        "peak": max(row["peak_score"] for _, row in items),
        "hours": collections.Counter(moment.hour for moment in local),
        "dates": collections.Counter(moment.date() for moment in local),
        "top": [row for _, row in sorted(items, key=lambda item: (-item[1]["peak_score"],
                                                                 item[0]))[:top]]})
  return figures


def report(capsys, *args):
  status = cli.main(["report", "--no-progress", *args])
  captured = capsys.readouterr()
  return status, captured.out.splitlines(), captured.err.splitlines()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
  """A folder with real audio files, two events tables (one archive) and a window table."""
  import numpy as np
  import pyarrow as pa
  import pyarrow.parquet as pq
  import soundfile
  root = tmp_path_factory.mktemp("archive")
  for source in SOURCES:
    (root / source).parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(root / source, np.zeros(AUDIO_SECONDS * AUDIO_RATE_HZ, "int16"),
                    AUDIO_RATE_HZ)
  rows = make_rows()
  tables = root / "tables"
  tables.mkdir()
  T.write_parquet(tables / "part1-events.parquet", T.events_table(rows[:180]))
  T.write_parquet(tables / "part2-events.parquet", T.events_table(rows[180:]))
  # predict's window rows beside them: not an events table, and not read from the folder.
  pq.write_table(pa.table({"source": ["x.wav"], "start_seconds": [0.0], "end_seconds": [1.0]}),
                 tables / "pred.parquet")
  return root, rows


@pytest.fixture(scope="module")
def browser():
  with support_browser.chromium() as launched:
    yield launched


def check_page_quality(watch):
  assert not watch.errors, watch.errors
  assert not watch.network, watch.network
  assert watch.requests and all(url.startswith("file://") for url in watch.requests)


@pytest.mark.slow
def test_report_page_figures_charts_and_audio_links(archive, browser, capsys, tmp_path):
  root, rows = archive
  page_path = root / "report" / "index.html"
  page_path.parent.mkdir()
  status, out, err = report(capsys, str(root / "tables"), "-o", str(page_path), "--audio-root",
                            str(root), "--top-events", str(TOP))
  assert status == 0 and not err
  assert out == [f"{page_path}: 300 events of 4 labels in 3 files"]
  text = page_path.read_text()
  assert "<script src" not in text and "<link" not in text       # Everything is inlined.
  expected = expected_figures(rows, UTC)

  watch = support_browser.PageWatch(browser, 1280, 900)
  page = watch.page
  page.goto(page_path.as_uri())
  page.wait_for_selector("#chart-dates canvas")
  shown = page.eval_on_selector_all("table.labels tbody tr", """rows => rows.map(r => {
      const cells = Array.from(r.querySelectorAll("td"));
      const values = cells.slice(1, 6).map(c => c.querySelector("[data-value]").dataset.value);
      return [cells[0].textContent].concat(values); })""")
  assert [row[0] for row in shown] == [f["label"] for f in expected]
  for row, figures in zip(shown, expected):
    assert int(row[1]) == figures["events"] and int(row[4]) == figures["files"]
    assert float(row[2]) == pytest.approx(figures["seconds"], rel=1e-12)
    assert float(row[3]) == pytest.approx(figures["seconds"] / figures["events"], rel=1e-12)
    assert float(row[5]) == figures["peak"]
  untimed = sum(1 for row in rows if row["start_utc"] is None)
  assert f"{untimed} events without an absolute time" in page.text_content("header")
  assert page.title() == "Sound events: tables"     # The folder given.
  assert "ab" * 32 in page.inner_html("#runs") and "esc10" in page.text_content("#runs")

  # The archive-wide charts: drawn (coloured pixels) with the counts computed here.
  assert all(n > COLOURED_PIXELS for n in page.eval_on_selector_all(".chart.wide canvas",
                                                                    COLOURED))
  charts = {c["id"]: c["data"] for c in page.evaluate(CHART_DATA) if c["label"] is None}
  assert charts["chart-hours"][0] == list(range(24))
  days = [datetime.datetime.fromtimestamp(x, UTC).date() for x in charts["chart-dates"][0]]
  assert days == [T0.date() + datetime.timedelta(days=n) for n in range(5)]
  for index, figures in enumerate(expected):
    assert charts["chart-hours"][index + 1] == [figures["hours"][h] for h in range(24)]
    assert charts["chart-dates"][index + 1] == [figures["dates"][day] for day in days]

  # Each label's section: its charts are drawn on view; its top events link to the audio.
  for index, figures in enumerate(expected):
    section = f"#label-{index}"
    page.locator(section).scroll_into_view_if_needed()
    page.wait_for_selector(f"{section} .chart.mini[data-drawn] canvas")
    assert all(n > COLOURED_PIXELS / 3 for n in page.eval_on_selector_all(
        f"{section} .chart.mini canvas", COLOURED))
    own = {c["kind"]: c["data"] for c in page.evaluate(CHART_DATA) if c["label"] == index}
    assert own["hours"][1] == [figures["hours"][h] for h in range(24)]
    hrefs = page.eval_on_selector_all(f"{section} table.top a.audio",
                                      "links => links.map(a => a.getAttribute('href'))")
    assert len(hrefs) == len(figures["top"]) == min(TOP, figures["events"])
    for href, event in zip(hrefs, figures["top"]):
      path, fragment = href.split("#")
      assert path == "../" + urllib.parse.quote(event["source"])
      start, end = map(float, fragment.removeprefix("t=").split(","))
      assert start == pytest.approx(event["start_seconds"], abs=5e-4)
      assert end == pytest.approx(event["end_seconds"], abs=5e-4)
  first = page.get_attribute("#label-0 table.top a.audio", "href")
  assert page.evaluate(AUDIO_TIME, first) == pytest.approx(expected[0]["top"][0]["start_seconds"],
                                                           abs=5e-4)
  page.screenshot(path=str(tmp_path / "report-desktop.png"), full_page=False)
  check_page_quality(watch)
  watch.close()

  phone = support_browser.PageWatch(browser, 390, 844)
  phone.page.goto(page_path.as_uri())
  phone.page.wait_for_selector("#chart-hours canvas")
  width = phone.page.evaluate("document.documentElement.scrollWidth")
  assert width <= 390          # Wide tables scroll in their own box; the page does not.
  assert phone.page.evaluate("document.querySelector('#chart-hours canvas').clientWidth") <= 390
  phone.page.screenshot(path=str(tmp_path / "report-phone.png"), full_page=False)
  check_page_quality(phone)
  phone.close()


@pytest.fixture(scope="module")
def esc10_events(tmp_path_factory):
  """Real events: classify --labels esc10 --events --json on three ESC-10 clips, as a table."""
  clips = [str(asset(name)) for name in ESC10_CLIPS]
  models = tmp_path_factory.mktemp("models")
  yamnet_store(models)
  import contextlib
  import io
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    assert cli.main(["classify", *clips, "--model-dir", str(models), "--labels", "esc10",
                     "--events", "--json"]) == 0
  rows = []
  for line in out.getvalue().splitlines():
    record = json.loads(line)
    for event in record["events"]:
      rows.append(T.event_row(record["source"], events_lib.Event(**event), model=record["model"],
                              model_version=record.get("model_version"),
                              label_set=record["label_set"]))
  return rows


@pytest.mark.slow
def test_real_esc10_events_without_absolute_time(esc10_events, browser, capsys, tmp_path):
  rows = esc10_events
  assert {"dog", "rain"} <= {row["label"] for row in rows}
  T.write_parquet(tmp_path / "esc10-events.parquet", T.events_table(rows))
  page_path = tmp_path / "report.html"
  status, _, err = report(capsys, str(tmp_path / "esc10-events.parquet"), "-o", str(page_path))
  assert status == 0 and not err
  watch = support_browser.PageWatch(browser, 1280, 900)
  page = watch.page
  page.goto(page_path.as_uri())
  page.wait_for_selector("#chart-offsets canvas")
  assert "No absolute time" in page.text_content("header")
  assert not page.query_selector("#chart-hours")
  assert page.eval_on_selector_all(".chart.wide canvas", COLOURED)[0] > COLOURED_PIXELS
  counts = collections.Counter(row["label"] for row in rows)
  shown = page.eval_on_selector_all("table.labels tbody tr", """rows => rows.map(r => [
      r.cells[0].textContent, Number(r.cells[1].querySelector("[data-value]").dataset.value)])""")
  assert dict(shown) == counts
  dog = next(i for i, (label, _) in enumerate(shown) if label == "dog")
  best = max((row for row in rows if row["label"] == "dog"), key=lambda row: row["peak_score"])
  href = page.get_attribute(f"#label-{dog} table.top a.audio", "href")
  relative = os.path.relpath(best["source"], tmp_path)
  assert urllib.parse.unquote(href.split("#")[0]) == relative
  assert page.evaluate(AUDIO_TIME, href) == pytest.approx(best["start_seconds"], abs=5e-4)
  check_page_quality(watch)
  watch.close()


def test_an_empty_table_gives_a_page_saying_no_events(capsys, tmp_path):
  T.write_parquet(tmp_path / "none-events.parquet", T.events_table([]))
  status, out, err = report(capsys, str(tmp_path), "-o", str(tmp_path / "r.html"))
  assert status == 0 and not err and out[0].endswith(": 0 events of 0 labels in 0 files")
  page = (tmp_path / "r.html").read_text()
  assert "No events" in page and 'class="chart' not in page


@pytest.mark.parametrize("case, words", [
    ("missing", ["nowhere-events.parquet", "no such file"]),
    ("windows", ["pred.parquet", "without the columns", "label", "peak_score"]),
    ("text", ["notes-events.parquet", "not a Parquet file"]),
    ("empty folder", ["a folder without events tables"]),
    ("null labels", ["nolabel-events.parquet", "label"]),
    ("nan", ["nan-events.parquet", "NaN", "peak_score"]),
    ("timezone", ["--timezone", "Mars/Olympus"]),
    ("top", ["--top-events"]),
    ("no folder", ["r.html", "its folder does not exist"]),
    ("a folder", ["r.html", "is a folder; give a file name inside it"]),
])
def test_unusable_input_is_one_line_exit_2(case, words, capsys, tmp_path):
  import pyarrow as pa
  import pyarrow.parquet as pq
  args = {"missing": [str(tmp_path / "nowhere-events.parquet")],
          "windows": [str(tmp_path / "pred.parquet")],
          "text": [str(tmp_path / "notes-events.parquet")],
          "empty folder": [str(tmp_path)],
          "null labels": [str(tmp_path / "nolabel-events.parquet")],
          "nan": [str(tmp_path / "nan-events.parquet")],
          "timezone": [str(tmp_path / "ok-events.parquet"), "--timezone", "Mars/Olympus"],
          "top": [str(tmp_path / "ok-events.parquet"), "--top-events", "0"],
          "no folder": [str(tmp_path / "ok-events.parquet")],
          "a folder": [str(tmp_path / "ok-events.parquet")]}[case]
  if case == "windows":
    pq.write_table(pa.table({"source": ["a.wav"], "model": ["yamnet"], "start_seconds": [0.0],
                             "end_seconds": [0.975]}), tmp_path / "pred.parquet")
  elif case == "text":
    (tmp_path / "notes-events.parquet").write_text("source,label\n")
  elif case == "null labels":
    table = T.events_table(make_rows()[:3])
    table = table.set_column(1, "label", pa.array(["dog", None, "rain"]))
    pq.write_table(table, tmp_path / "nolabel-events.parquet")
  elif case == "nan":
    table = T.events_table(make_rows()[:3])
    table = table.set_column(6, "peak_score", pa.array([0.9, float("nan"), 0.7]))
    T.write_parquet(tmp_path / "nan-events.parquet", table)
  elif case in ("timezone", "top", "no folder", "a folder"):
    T.write_parquet(tmp_path / "ok-events.parquet", T.events_table(make_rows()[:3]))
  output = tmp_path / ("absent" if case == "no folder" else ".") / "r.html"
  if case == "a folder":
    output.mkdir()
  status, out, err = report(capsys, *args, "-o", str(output))
  assert status == 2 and not out and len(err) == 1, (out, err)
  assert all(word in err[0] for word in words), err
  assert output.is_dir() if case == "a folder" else not output.exists()


def test_hours_and_dates_follow_the_time_zone_across_daylight_saving():
  rows = make_rows()
  table = T.events_table(rows)
  for name in ("America/New_York", "Asia/Kolkata"):
    zone = zoneinfo.ZoneInfo(name)
    summary = aggregate.summarize(table, R.ArchiveReport(top_events=TOP, timezone=name))
    expected = expected_figures(rows, zone)
    assert [f.label for f in summary.labels] == [f["label"] for f in expected]
    for index, figures in enumerate(expected):
      assert summary.hours.dense(index) == [figures["hours"][h] for h in range(24)]
      days = [datetime.datetime.fromtimestamp(x, UTC).date() for x in summary.dates.axis]
      assert dict(zip(days, summary.dates.dense(index))) == {
          day: figures["dates"][day] for day in days}
      assert sum(figures["dates"].values()) == sum(summary.dates.dense(index))
      assert [row["start"] for row in summary.labels[index].top] == [
          row["start_utc"] and row["start_utc"].astimezone(zone) for row in figures["top"]]


def test_offsets_are_binned_when_no_event_has_an_absolute_time():
  rows = [dict(row, start_utc=None, end_utc=None) for row in make_rows()]
  summary = aggregate.summarize(T.events_table(rows), R.ArchiveReport())
  assert summary.hours is None and summary.dates is None and summary.timed == 0
  width = summary.offsets.step
  assert width in R.OFFSET_BIN_SECONDS and len(summary.offsets.axis) <= R.OFFSET_BINS
  for index, figures in enumerate(expected_figures(rows, UTC)):
    bins = collections.Counter(int(row["start_seconds"] // width) for row in rows
                               if row["label"] == figures["label"])
    assert summary.offsets.dense(index) == [bins[b] for b in range(len(summary.offsets.axis))]
