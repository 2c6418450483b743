"""Time `soundscope report` on a large events table (issue 20's target: 1,000,000 events < 30 s).

  python bench/bench_report.py [--events 1000000] [--labels 50] [--files 20000] [--days 365] \\
      [--browser]

Writes one events Parquet table of `--events` random events (EVENTS_SCHEMA,
made with numpy and pyarrow): `--labels` labels with skewed frequencies,
`--files` sources (recorder-like paths), starts over `--days` days with
absolute times, model and label-set columns; then runs `soundscope report`
on it in a fresh process and prints the wall seconds of the whole command
(interpreter start, reading, summarising, rendering, writing), the page's
size and the load average; then the same steps in this process, each timed
(read, summarise, render).  With --browser, also the seconds headless
Chromium (Debian's, through Playwright) takes to open the page from its file
until the archive-wide charts are drawn.  No assets.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def events_table(events, labels, files, days, seed=0):
  """A pyarrow.Table of EVENTS_SCHEMA with `events` random rows."""
  import numpy as np
  import pyarrow as pa
  from soundscope.transforms import event_tables
  rng = np.random.default_rng(seed)
  label_names = pa.array([f"label {i:03d}" for i in range(labels)])
  weights = 1.0 / np.arange(1, labels + 1)                 # Zipf-like: a few common labels.
  label_codes = rng.choice(labels, size=events, p=weights / weights.sum()).astype("int32")
  source_names = pa.array([f"/archive/site{i % 17:02d}/2026/SITE{i % 17:02d}_{i:06d}.wav"
                           for i in range(files)])
  source_codes = rng.integers(0, files, events, dtype="int32")
  start = rng.uniform(0.0, 3600.0, events)
  t0 = np.datetime64("2026-01-01T00:00:00", "us").astype("int64")
  utc = t0 + rng.integers(0, days * 86400 * 10**6, events)
  utc_type = pa.timestamp("us", tz="UTC")

  def repeated(text):
    return pa.DictionaryArray.from_arrays(np.zeros(events, "int32"), pa.array([text])).cast(
        pa.string())

  columns = {
      "source": pa.DictionaryArray.from_arrays(source_codes, source_names).cast(pa.string()),
      "label": pa.DictionaryArray.from_arrays(label_codes, label_names).cast(pa.string()),
      "start_seconds": start, "end_seconds": start + rng.uniform(0.975, 30.0, events),
      "start_utc": pa.array(utc, utc_type), "end_utc": pa.array(utc + 10**6, utc_type),
      "peak_score": rng.uniform(0.5, 1.0, events), "mean_score": rng.uniform(0.3, 0.5, events),
      "windows": pa.array(rng.integers(1, 60, events), pa.int32()),
      "model": repeated("yamnet"), "model_version": repeated("tfhub-1"),
      "label_set": repeated("bench"), "label_set_hash": repeated("0" * 64)}
  return pa.table(columns, schema=event_tables.EVENTS_SCHEMA)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--events", type=int, default=1_000_000)
  parser.add_argument("--labels", type=int, default=50)
  parser.add_argument("--files", type=int, default=20_000)
  parser.add_argument("--days", type=int, default=365)
  parser.add_argument("--browser", action="store_true",
                      help="also time opening the page in headless Chromium")
  args = parser.parse_args()
  from soundscope.transforms import event_tables
  with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
    table_path = os.path.join(folder, "bench-events.parquet")
    event_tables.write_parquet(table_path, events_table(args.events, args.labels, args.files,
                                                        args.days))
    page = os.path.join(folder, "report.html")
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "soundscope", "report", table_path, "-o", page,
                    "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - began
    print(f"soundscope report: {args.events:,} events, {args.labels} labels, {args.files:,} "
          f"files, {args.days} days: {seconds:.2f} s wall "
          f"(table {os.path.getsize(table_path) / 1e6:.1f} MB, page "
          f"{os.path.getsize(page) / 1e6:.2f} MB); load average {os.getloadavg()[0]:.2f}")
    print("in this process: " + ", ".join(f"{step} {seconds:.2f} s"
                                          for step, seconds in steps(table_path, page)))
    if args.browser:
      print(f"headless Chromium: page opened and charts drawn in {open_page(page):.2f} s")


def steps(table_path, page):
  """[(step, wall seconds)] of reading, summarising and rendering in this process."""
  from soundscope.configs import report as R
  from soundscope.report import aggregate, inputs, render
  options = R.ArchiveReport()
  times = []
  began = time.perf_counter()
  table, files = inputs.read_events([table_path])
  times.append(("read", time.perf_counter() - began))
  began = time.perf_counter()
  summary = aggregate.summarize(table, options)
  times.append(("summarise", time.perf_counter() - began))
  began = time.perf_counter()
  render.render(summary, files, page, options)
  times.append(("render", time.perf_counter() - began))
  return times


def open_page(page):
  """Seconds from navigating to the page's file:// URL to its date chart's canvas."""
  from playwright.sync_api import sync_playwright
  os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    began = time.perf_counter()
    tab.goto(pathlib.Path(page).as_uri())
    tab.wait_for_selector("#chart-dates canvas")
    seconds = time.perf_counter() - began
    browser.close()
  return seconds


if __name__ == "__main__":
  main()
