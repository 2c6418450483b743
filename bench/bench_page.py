"""Benchmark the page with 30 days of history: its API answers and its load in Chromium.

  python bench/bench_page.py [--days 30] [--events-per-minute 1] [--window-seconds 5]
                             [--rounds 5] [--db PATH]

Prints figures only (no pass/fail).  Builds a history file (runtime/history.py's
schema, bulk-inserted) holding --days of windows every --window-seconds (top 5
labels each, a level) and an event a minute over the same days, ending now;
then serves the page (runtime/web) on loopback with that history and times:
  api      wall time of each JSON answer the page asks for (median of --rounds):
           the timeline over 1 h and 24 h, the first events page, a label's
           events, a day's events, the last page (deepest offset);
  page     Chromium (Debian's /usr/bin/chromium through Playwright): from
           navigation start to the timeline drawn and the events list filled
           (the page's performance mark "soundscope-drawn"), median of
           --rounds loads, cold (a new browser context: nothing cached) and
           warm (reloads: the static files cached, as for a returning user).
Target (issue 21): the page renders in under 200 ms with 30 days of history
for a source producing an event a minute.  Give the load average with figures.
"""

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request

LABELS = ("Speech", "Dog", "Bark", "Music", "Vehicle", "Car", "Rain", "Wind", "Bird", "Silence",
          "Door", "Knock", "Footsteps", "Television", "Alarm", "Siren", "Cat", "Water", "Typing",
          "Laughter")
CHROMIUM = "/usr/bin/chromium"


def build(path, days, events_per_minute, window_seconds, seed=0):
  """Writes the history file; returns (windows, events) written."""
  from soundscope.runtime import history as history_lib
  history_lib.History(path).close()        # The schema, WAL and auto_vacuum as serve makes them.
  rng = random.Random(seed)
  now = time.time()
  start = now - days * 86400.0
  db = sqlite3.connect(path)
  db.execute("PRAGMA synchronous = OFF")
  windows = int(days * 86400 / window_seconds)
  with db:
    for first in range(0, windows, 50000):
      rows, labels = [], []
      for n in range(first, min(first + 50000, windows)):
        end = start + (n + 1) * window_seconds
        rows.append((n + 1, end - window_seconds, end, "microphone", rng.uniform(-70, -20),
                     rng.uniform(-30, -1), None))
        for label in rng.sample(LABELS, 5):
          labels.append((n + 1, end, label, rng.random()))
      db.executemany("INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
      db.executemany("INSERT INTO window_labels VALUES (?, ?, ?, ?)", labels)
  events = int(days * 1440 * events_per_minute)
  with db:
    db.executemany(
        "INSERT INTO events (label, source, model, model_version, label_set, start_seconds, "
        "end_seconds, start_time, end_time, peak_score, mean_score, windows, saved_audio, state) "
        "VALUES (?, 'microphone', 'yamnet', '1', 'home', 0, 3, ?, ?, ?, ?, 6, '[]', 'closed')",
        [(rng.choice(LABELS[:10]), start + n * 60.0 / events_per_minute,
          start + n * 60.0 / events_per_minute + 3, rng.uniform(0.5, 1), rng.uniform(0.3, 0.5))
         for n in range(events)])
  db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
  db.close()
  return windows, events


def timed_get(url, rounds):
  times = []
  for _ in range(rounds):
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
      answer.read()
    times.append(time.perf_counter() - began)
  return statistics.median(times)


# When the page says it has drawn the timeline and listed the events (app.js's mark).
READY = """() => {
  const chart = document.getElementById('timeline-chart');
  const rows = document.querySelectorAll('#event-list tbody tr').length;
  const drawn = performance.getEntriesByName('soundscope-drawn');
  return Number(chart.dataset.points) > 0 && rows > 0 && drawn.length ? drawn[0].startTime : 0;
}"""


def _load(page, url):
  """(HTML received, DOMContentLoaded, timeline and events shown), ms after navigation start."""
  page.goto(url)
  ready = page.wait_for_function(READY, polling="raf", timeout=60000).json_value()
  nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                      " return [n.responseEnd, n.domContentLoadedEventEnd]; })()")
  return nav[0], nav[1], ready


def page_loads(url, rounds):
  """{"cold": [...], "warm": [...]} of _load's triples: a new browser context each time
  (nothing cached), and reloads in one context (the static files cached, as a returning user)."""
  os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
  from playwright.sync_api import sync_playwright
  loads = {"cold": [], "warm": []}
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
    for n in range(rounds + 1):              # The first load warms the server.
      page = browser.new_page()
      timing = _load(page, url)
      if n:
        loads["cold"].append(timing)
      page.close()
    page = browser.new_page()
    for n in range(rounds + 1):
      timing = _load(page, url)
      if n:
        loads["warm"].append(timing)
    browser.close()
  return loads


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--days", type=float, default=30.0)
  parser.add_argument("--events-per-minute", type=float, default=1.0)
  parser.add_argument("--window-seconds", type=float, default=5.0)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--db", help="reuse (or keep) the history file here")
  args = parser.parse_args(argv)
  from soundscope.cli import serve as serve_cli
  from soundscope.runtime import config as config_lib
  from soundscope.runtime import history as history_lib
  from soundscope.runtime import web
  from soundscope.runtime.web import hub as hub_lib

  folder = tempfile.mkdtemp(prefix="bench_page_")
  path = args.db or os.path.join(folder, "history.sqlite3")
  if not os.path.exists(path):
    began = time.perf_counter()
    windows, events = build(path, args.days, args.events_per_minute, args.window_seconds)
    print(f"built {path}: {windows} windows, {events} events, "
          f"{os.path.getsize(path) / 1e6:.0f} MB in {time.perf_counter() - began:.0f} s")
  history = history_lib.History(path)
  print(f"history: {history.counts()}, {os.path.getsize(path) / 1e6:.0f} MB")
  app = web.create_app(hub_lib.EventHub(), config_lib.ConfigStore(
      os.path.join(folder, "devicehive.json")), None, lambda: {"model": "yamnet"},
      history=history)
  server = serve_cli.start_web(app, "127.0.0.1", 0)
  base = f"http://127.0.0.1:{server.port}"
  day = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() - 10 * 86400))
  until = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() - 9 * 86400))
  total = history.events(limit=1)["total"]
  queries = {
      "timeline 1 h": "/api/timeline?minutes=60",
      "timeline 24 h": "/api/timeline?minutes=1440",
      "events, first page": "/api/history/events",
      "events of one label": "/api/history/events?label=Dog",
      "events of one day": f"/api/history/events?since={day}&until={until}",
      "events, last page": f"/api/history/events?offset={max(total - 50, 0)}",
      "page HTML": "/",
  }
  try:
    for name, query in queries.items():
      print(f"api  {name:22s} {1000 * timed_get(base + query, args.rounds):7.1f} ms (median)")
    if os.path.exists(CHROMIUM):
      for kind, timings in page_loads(base + "/", args.rounds).items():
        html, dom, ready = (statistics.median(column) for column in zip(*timings))
        print(f"page {kind}: timeline drawn and events listed {ready:.0f} ms (median of "
              f"{len(timings)}; max {max(t[2] for t in timings):.0f}); HTML received {html:.0f} ms,"
              f" DOMContentLoaded {dom:.0f} ms")
    else:
      print(f"page: {CHROMIUM} is absent, not measured")
  finally:
    server.shutdown()
    history.close()
  print(f"load average: {os.getloadavg()[0]:.2f}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
