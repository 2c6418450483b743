"""A Summary -> one self-contained HTML page (template.html, report.css, report.js, uPlot).

The page needs no server and nothing from the network: the vendored charting
library (uPlot, MIT, soundscope/util/vendor/), its style sheet, the page's own script and the
chart data (JSON) are inlined.  Tables are plain HTML, readable without
JavaScript; the script draws the charts (uPlot, on canvas), the per-label ones
when they scroll into view.

Audio links are URLs relative to the page's folder (plain file paths, percent-
encoded) with a media fragment `#t=START,END` (seconds in the file), so the
browser opens the audio at the event; a source that is an http(s) or file
URL is linked as is, other URLs (gs://, ...) are not linked.
"""

import datetime
import html
import json
import os
import pathlib
import re
import urllib.parse

from soundscope.configs import report as R
from soundscope.util import vendored

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE = HERE / "template.html"
STYLE_FILES = (vendored.path(vendored.UPLOT_STYLE), HERE / "report.css")
SCRIPT_FILES = (vendored.path(vendored.UPLOT_SCRIPT), HERE / "report.js")
SLOT = re.compile(r"\{\{(\w+)\}\}")
URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
LINKED_SCHEMES = ("http", "https", "file")
TALL_TABLE_ROWS = 25     # A longer table scrolls in its own box.
HASH_SHOWN = 12          # Hex digits of a label set's sha256 shown (all of it on hover).


def _e(value):
  return html.escape(str(value), quote=True)


def seconds_text(seconds):
  """A duration for people: '12.3 s', '4 min 05 s', '12 h 03 min'."""
  if seconds < 60:
    return f"{seconds:.1f} s"
  minutes, rest = divmod(int(round(seconds)), 60)
  if minutes < 60:
    return f"{minutes} min {rest:02d} s"
  hours, minutes = divmod(minutes, 60)
  return f"{hours} h {minutes:02d} min"


def width_text(seconds):
  """A bin width of OFFSET_BIN_SECONDS for people: '10 s', '5 min', '6 h', '1 day'."""
  for unit, name in ((86400, "day"), (3600, "h"), (60, "min")):
    if seconds >= unit and seconds % unit == 0:
      return f"{seconds // unit:g} {name}"
  return f"{seconds:g} s"


def offset_text(seconds):
  """A media-fragment time: seconds with at most 3 decimals, no trailing zeros ('12.4', '3')."""
  return f"{seconds:.3f}".rstrip("0").rstrip(".")


def counted(number, noun, strong=False):
  """'1 event', '12,408 events' (the number in <strong> when strong)."""
  text = f"<strong>{number:,}</strong>" if strong else f"{number:,}"
  return f"{text} {noun}{'' if number == 1 else 's'}"


def _when(moment, seconds=False):
  if moment is None:
    return ""
  return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def audio_href(source, page_folder, audio_root):
  """The link to a source from a page in `page_folder`, without fragment; None if not linkable.

  Args:
    source: the events table's source (a path as given to predict, or a URL).
    page_folder: absolute folder of the report.
    audio_root: folder that relative sources are relative to.
  """
  scheme = URL_SCHEME.match(source)
  if scheme:
    return source if scheme.group(1).lower() in LINKED_SCHEMES else None
  path = os.path.abspath(os.path.join(audio_root, source))
  try:
    relative = os.path.relpath(path, page_folder)
  except ValueError:                       # Another drive (Windows): an absolute URL.
    return pathlib.Path(path).as_uri()
  return urllib.parse.quote(relative.replace(os.sep, "/"))


def media_fragment(start_seconds, end_seconds):
  """`#t=START,END` (W3C media fragments, seconds)."""
  return f"#t={offset_text(start_seconds)},{offset_text(end_seconds)}"


def _table(head, rows, classes=()):
  """An HTML table: head is a list of (text, class) pairs, rows lists of cell HTML.

  More than TALL_TABLE_ROWS rows scroll in a box of their own (the head stays).
  """
  head_html = "".join(f'<th class="{c}">{_e(t)}</th>' for t, c in head)
  body = "".join("<tr>" + "".join(f'<td class="{c}">{cell}</td>'
                                  for cell, (_, c) in zip(row, head)) + "</tr>" for row in rows)
  box = "scroll tall" if len(rows) > TALL_TABLE_ROWS else "scroll"
  return (f'<div class="{box}"><table class="{" ".join(classes)}"><thead><tr>{head_html}'
          f"</tr></thead><tbody>{body}</tbody></table></div>")


def _number(value, text):
  return f'<span data-value="{_e(value)}">{_e(text)}</span>'


def labels_table(summary):
  """The per-label table: events, total and mean duration, files, peak, first and last start."""
  timed = summary.timed > 0
  head = [("Label", "text"), ("Events", "num"), ("Total duration", "num"),
          ("Mean duration", "num"), ("Files", "num"), ("Peak score", "num"),
          ("Mean score", "num")]
  if timed:
    head += [("First", "time"), ("Last", "time")]
  rows = []
  for index, figures in enumerate(summary.labels):
    row = [f'<a href="#label-{index}">{_e(figures.label)}</a>',
           _number(figures.events, f"{figures.events:,}"),
           _number(repr(figures.seconds), seconds_text(figures.seconds)),
           _number(repr(figures.seconds / figures.events),
                   seconds_text(figures.seconds / figures.events)),
           _number(figures.files, f"{figures.files:,}"),
           _number(repr(figures.peak_score), f"{figures.peak_score:.2f}"),
           _number(repr(figures.mean_score), f"{figures.mean_score:.2f}")]
    if timed:
      row += [_e(_when(figures.first)), _e(_when(figures.last))]
    rows.append(row)
  return _table(head, rows, ("labels",))


def runs_table(summary):
  """Model, version, label set and its hash, with their events, most events first."""
  head = [("Model", "text"), ("Version", "text"), ("Label set", "text"),
          ("Label set sha256", "hash"), ("Events", "num")]
  rows = []
  for run in summary.runs:
    digest = run["label_set_hash"]
    rows.append([_e(run["model"] or "unknown"), _e(run["model_version"] or "unknown"),
                 _e(run["label_set"] or "none (the model's classes)"),
                 f'<code title="{_e(digest)}">{_e(digest[:HASH_SHOWN])}</code>' if digest else "",
                 _number(run["events"], f"{run['events']:,}")])
  note = (f'<p class="warn">These events come from {len(summary.runs)} different runs '
          f"(models or label sets).</p>" if len(summary.runs) > 1 else "")
  return note + _table(head, rows, ("runs",))


def top_table(figures, page_folder, audio_root, zone_name):
  """A label's highest-peak events, each linked to its audio at its offsets."""
  head = [("#", "num"), ("Audio", "text"), ("Offset in file", "num")]
  timed = any(row["start"] is not None for row in figures.top)
  if timed:
    head.append((f"Start ({zone_name})", "time"))
  head += [("Duration", "num"), ("Peak", "num"), ("Mean", "num"), ("Windows", "num")]
  rows = []
  for rank, event in enumerate(figures.top, 1):
    source = event["source"]
    href = audio_href(source, page_folder, audio_root)
    name = _e(os.path.basename(source.rstrip("/")) or source)
    span = f"{event['start_seconds']:.2f}–{event['end_seconds']:.2f} s"
    if href is not None:
      link = href + media_fragment(event["start_seconds"], event["end_seconds"])
      audio = f'<a class="audio" href="{_e(link)}" title="{_e(source)}">{name}</a>'
    else:
      audio = f'<span title="{_e(source)}">{name}</span>'
    row = [str(rank), audio, _e(span)]
    if timed:
      row.append(_e(_when(event["start"], seconds=True)))
    row += [_e(seconds_text(event["end_seconds"] - event["start_seconds"])),
            _number(repr(event["peak_score"]), f"{event['peak_score']:.2f}"),
            _e(f"{event['mean_score']:.2f}"), _e(event["windows"])]
    rows.append(row)
  return _table(head, rows, ("top",))


def label_sections(summary, page_folder, audio_root, top_events):
  """One section per label: its figures, two small charts (drawn on view), its top events."""
  parts = []
  charts = ('<div class="chart mini" data-kind="hours"></div>'
            '<div class="chart mini" data-kind="dates"></div>' if summary.timed else
            '<div class="chart mini" data-kind="offsets"></div>')
  for index, figures in enumerate(summary.labels):
    shown = min(top_events, figures.events)
    parts.append(
        f'<section class="label" id="label-{index}" data-index="{index}">'
        f"<h3>{_e(figures.label)}</h3>"
        f'<p class="facts">{counted(figures.events, "event")}, '
        f"{_e(seconds_text(figures.seconds))} in all, in {counted(figures.files, 'file')}; "
        f"peak score {figures.peak_score:.2f}.</p>"
        f'<div class="minis">{charts}</div>'
        f"<h4>Top {shown} by peak score</h4>"
        f"{top_table(figures, page_folder, audio_root, summary.timezone)}</section>")
  return "".join(parts)


def time_note(summary):
  """What the times and the charts mean for this table."""
  if not summary.events:
    return ""
  if not summary.timed:
    return ('<p class="note">No absolute time: no event has a start time (start_utc), so '
            "activity is shown by offset in the file, and events by their offsets only.</p>")
  text = (f"Hours and dates are in {_e(summary.timezone)}, from each event's start; "
          f"events from {_e(_when(summary.first))} to {_e(_when(summary.last))}.")
  missing = summary.events - summary.timed
  if missing:
    text += (f" {counted(missing, 'event')} without an absolute time: in the tables, not in "
             f"the hour and date charts.")
  return f'<p class="note">{text}</p>'


def overview(summary, files):
  if not summary.events:
    return '<p class="empty">No events: the table holds no events.</p>'
  return (f'<p class="overview">{counted(summary.events, "event", True)} of '
          f"{counted(len(summary.labels), 'label', True)} in "
          f"{counted(summary.files, 'audio file', True)}; "
          f"{_e(seconds_text(summary.seconds))} of events in all.</p>")


def charts_section(summary):
  if not summary.events:
    return ""
  count = min(R.CHART_LABELS, len(summary.labels))
  which = (f"the {count} labels with the most events" if count < len(summary.labels)
           else "every label")
  if summary.timed:
    body = (f"<h3>Events by hour of day ({_e(summary.timezone)})</h3>"
            '<div class="chart wide" id="chart-hours" data-kind="hours"></div>'
            f"<h3>Events by date ({_e(summary.timezone)})</h3>"
            '<div class="chart wide" id="chart-dates" data-kind="dates"></div>')
  else:
    body = (f"<h3>Events by offset in the file (bins of {_e(width_text(summary.offsets.step))})"
            "</h3>"
            '<div class="chart wide" id="chart-offsets" data-kind="offsets"></div>')
  return (f'<section id="activity"><h2>Activity</h2><p class="note">Charts show {which}.</p>'
          f"{body}</section>")


def chart_data(summary):
  """The JSON the script draws from: label names and the sparse Activity counts."""
  def part(activity):
    return None if activity is None else {"axis": activity.axis, "step": activity.step,
                                          "counts": activity.counts}
  return {"labels": [figures.label for figures in summary.labels],
          "chartLabels": min(R.CHART_LABELS, len(summary.labels)),
          "hours": part(summary.hours), "dates": part(summary.dates),
          "offsets": part(summary.offsets)}


def _script_json(value):
  """JSON safe inside a <script> element."""
  return json.dumps(value, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def default_title(paths):
  """'Sound events: <first path's name>' (and how many more), for a page without --title."""
  names = [os.path.basename(os.path.normpath(os.fspath(path))) for path in paths]
  more = f" and {len(names) - 1} more" if len(names) > 1 else ""
  return f"Sound events: {names[0]}{more}" if names else "Sound events"


def render(summary, files, output_path, options, audio_root=None):
  """The report page of a Summary, as one HTML string.

  Args:
    summary: aggregate.Summary.
    files: the events tables read (shown on the page).
    output_path: where the page will be written (links are relative to its folder).
    options: configs.report.ArchiveReport.
    audio_root: the folder relative sources are relative to (default: the
      current folder, where predict ran if the report is made from there).

  Returns:
    str, the whole page.
  """
  page_folder = os.path.dirname(os.path.abspath(output_path))
  audio_root = os.path.abspath(audio_root or os.getcwd())
  title = options.title or default_title(files)
  made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  sources = "".join(f"<li><code>{_e(path)}</code></li>" for path in files)
  slots = {
      "title": _e(title),
      "style": "\n".join(path.read_text(encoding="utf-8") for path in STYLE_FILES),
      "made": _e(made),
      "inputs": sources,
      "overview": overview(summary, files),
      "time_note": time_note(summary),
      "runs": runs_table(summary) if summary.runs else "",
      "labels": labels_table(summary) if summary.events else "",
      "charts": charts_section(summary),
      "sections": label_sections(summary, page_folder, audio_root, options.top_events),
      "data": _script_json(chart_data(summary)),
      "script": "\n".join(path.read_text(encoding="utf-8") for path in SCRIPT_FILES),
  }
  return SLOT.sub(lambda match: slots[match.group(1)], TEMPLATE.read_text(encoding="utf-8"))
