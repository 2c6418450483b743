"""The page's history routes: the timeline, the events list, and the saved windows' audio.

  /api/timeline             ?minutes=M (default 60) or ?since=&until= (ISO UTC):
                            runtime.history.History.timeline in <= TIMELINE_POINTS buckets
  /api/history/events       ?label=&since=&until=&offset=&limit=: events newest first,
                            with "total", the labels that have events, and each event's
                            saved windows as {"name", "url" (None once deleted)}
  /audio/<name>             a saved window (audio/wav), only a record_<UTC>.wav file
                            directly in --save-path
"""

import os
import time

import flask

from soundscope.configs import history as H
from soundscope.runtime import history as history_lib
from soundscope.runtime import retention


class BadQuery(ValueError):
  """A query parameter the API refuses (answered 400 with the reason)."""


def saved_file(save_path, path_or_name):
  """The real path of a saved window inside save_path, or None (not one, outside, or gone).

  Args:
    save_path: the --save-path folder, or None.
    path_or_name: a file name, or a full path that must lie directly in save_path.
  """
  if not save_path or not path_or_name:
    return None
  folder = os.path.realpath(save_path)
  name = os.path.basename(path_or_name)
  given_folder = os.path.dirname(path_or_name)
  if given_folder and os.path.realpath(given_folder) != folder:
    return None
  if not retention.is_record_name(name):
    return None
  path = os.path.realpath(os.path.join(folder, name))
  if os.path.dirname(path) != folder or not os.path.isfile(path):
    return None
  return path


def _time_arg(name, default=None):
  text = flask.request.args.get(name)
  if not text:
    return default
  try:
    return history_lib.epoch_seconds(text)
  except ValueError:
    raise BadQuery(f"{name}: not an ISO-8601 time ({text!r})") from None


def _int_arg(name, default, low, high):
  text = flask.request.args.get(name)
  if text is None or text == "":
    return default
  try:
    value = int(text)
  except ValueError:
    raise BadQuery(f"{name}: not a whole number ({text!r})") from None
  if not low <= value <= high:
    raise BadQuery(f"{name}: must be between {low} and {high}")
  return value


def register(app, history, save_path):
  """Adds the routes to app; `history` may be None (--no-history: the API answers 404).

  Returns:
    callable() -> what the page would ask for first ({"timeline": the last
    TIMELINE_MINUTES, "events": the first page}), put in the page itself so
    that it draws without more round trips; None without a history.
  """

  @app.errorhandler(BadQuery)
  def bad_query(exc):
    return flask.jsonify({"error": str(exc)}), 400

  def no_history():
    return flask.jsonify({"error": "no history is kept (--no-history)"}), 404

  @app.get("/api/timeline")
  def api_timeline():
    if history is None:
      return no_history()
    until = _time_arg("until") or latest()
    minutes = flask.request.args.get("minutes", type=float) or H.TIMELINE_MINUTES
    minutes = min(max(minutes, 1.0), H.TIMELINE_MAX_MINUTES)
    since = _time_arg("since", until - minutes * 60.0)
    if not since < until:
      raise BadQuery("since must be before until")
    return flask.jsonify(history.timeline(since, until))

  @app.get("/api/history/events")
  def api_history_events():
    if history is None:
      return no_history()
    return flask.jsonify(events_page(
        label=flask.request.args.get("label") or None, since=_time_arg("since"),
        until=_time_arg("until"), offset=_int_arg("offset", 0, 0, 2 ** 31),
        limit=_int_arg("limit", H.EVENTS_PAGE_SIZE, 1, H.EVENTS_PAGE_MAX)))

  def events_page(label=None, since=None, until=None, offset=0, limit=H.EVENTS_PAGE_SIZE):
    page = history.events(label=label, since=since, until=until, offset=offset, limit=limit)
    for event in page["events"]:
      event["audio"] = [audio_link(path) for path in event["saved_audio"]]
      del event["saved_audio"]   # Local paths stay on the machine; the page gets names.
    page.update(offset=offset, limit=limit, labels=history.labels())
    return page

  def latest():
    """Now, or the latest window's end when later (a file read faster than real time)."""
    return max(time.time(), history.last_window_end() or 0.0) + H.TIMELINE_MARGIN_SECONDS

  def initial_data():
    until = latest()
    return {"timeline": history.timeline(until - H.TIMELINE_MINUTES * 60.0, until),
            "events": events_page()}

  def audio_link(path):
    name = os.path.basename(path)
    available = saved_file(save_path, path) is not None
    return {"name": name, "url": flask.url_for("saved_audio", name=name) if available else None}

  @app.get("/audio/<name>")
  def saved_audio(name):
    path = saved_file(save_path, name)
    if path is None:
      flask.abort(404)
    return flask.send_file(path, mimetype="audio/wav", conditional=True, max_age=0)

  return initial_data if history is not None else None
