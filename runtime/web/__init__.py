"""The web page of `soundscope serve` (Flask).

  /                 the live page: latest windows (server-sent events), the
                    timeline and events list from the history, status, settings
  /events           the last ten predictions with their times (as the seed did)
  /api/events       JSON: recent predictions, newest first (?limit=N)
  /api/status       JSON: DeviceHive connection and counters, capture counters, model
  /api/config       JSON: GET the settings without secrets; POST/PUT to change them
  /api/settings     JSON: the run's settings (flags), secrets left out
  /api/stream       text/event-stream: "prediction" and "status" events
  /api/timeline, /api/history/events, /audio/<name>: history_api.py

Secrets (refresh token, password) go in, never out: no template, JSON answer
or event contains them, and they are kept only while the server URL keeps its
host (runtime/config.py); every answer also passes through
runtime.credentials.redact.  The form carries a per-process token and the JSON
API requires a JSON body; guards.py refuses cross-site changes, answers a
loopback-bound page only under loopback names (DNS rebinding) and asks for the
page password when there is one.
"""

import hashlib
import json
import os
import queue
import secrets
import time

import flask

from soundscope.configs import history as H
from soundscope.configs import runtime as S
from soundscope.runtime import config as config_lib
from soundscope.runtime import credentials
from soundscope.runtime.web import guards
from soundscope.runtime.web import history_api
from soundscope.runtime.web import hub as hub_lib
from soundscope.util import vendored


def create_app(hub, config_store, courier=None, runtime_status=None,
               trusted_hosts=S.LOOPBACK_HOST_NAMES, history=None, save_path=None,
               settings=None, page_password=None):
  """Builds the Flask app.

  Args:
    hub: runtime.web.hub.EventHub fed by the WebSink.
    config_store: runtime.config.ConfigStore (the 0600 settings file).
    courier: runtime.courier.Courier, told about new settings (None: DeviceHive off).
    runtime_status: callable() -> dict about capture and model, or None.
    trusted_hosts: the Host header names answered (others get 400), or None
      for any (a page served on a non-loopback address, by the user's choice).
    history: runtime.history.History for the timeline and events list, or None.
    save_path: the saved windows' folder (--save-path) the page may play, or None.
    settings: dict of the run's settings shown on the page (no secrets), or None.
    page_password: password every request must carry (HTTP Basic), or None.

  Returns:
    flask.Flask.
  """
  app = flask.Flask(__name__)
  app.json.sort_keys = False
  guards.install(app, trusted_hosts, page_password)
  initial_data = history_api.register(app, history, save_path)
  static_version = _static_version(app.static_folder, vendored.VENDOR_DIR)

  @app.url_defaults
  def versioned_static(endpoint, values):
    """?v=<digest of the static files>: browsers may keep them (SEND_FILE_MAX_AGE_DEFAULT)."""
    if endpoint in ("static", "vendor"):
      values.setdefault("v", static_version)

  @app.get("/vendor/<name>")
  def vendor(name):
    """The vendored front-end files (soundscope/util/vendor: uPlot), shared with the report."""
    return flask.send_from_directory(vendored.VENDOR_DIR, name)

  app.config["SEND_FILE_MAX_AGE_DEFAULT"] = H.STATIC_MAX_AGE_SECONDS
  form_token = secrets.token_urlsafe(24)
  state = {"config": config_store.load()}
  settings = dict(settings or {})

  @app.after_request
  def redact(response):
    """Blanks any secret in an answer built here (files and streams pass as they are)."""
    if not response.direct_passthrough and not response.is_streamed and response.mimetype in (
        "application/json", "text/html"):
      text = response.get_data(as_text=True)
      clean = credentials.redact(text)
      if clean != text:
        response.set_data(clean)
    return response

  def status():
    devicehive = courier.status() if courier is not None else {"enabled": False,
                                                                "connected": False}
    return {"devicehive": devicehive, "runtime": runtime_status() if runtime_status else {}}

  def apply(form):
    """Validates and saves new settings; returns the new config or raises ConfigError."""
    new = state["config"].updated(form).validate()
    config_store.save(new)
    state["config"] = new
    if courier is not None:
      courier.reconfigure(new)
    return new

  def render_index(errors=None, form=None, code=200):
    view = state["config"].public_view()
    if form:   # Show what the user typed back to them, except secrets.
      view.update({k: v for k, v in form.items()
                   if k in view and k not in config_lib.SECRET_FIELDS})
    events, newest = hub.snapshot(S.EVENTS_PAGE_COUNT)
    return flask.render_template(
        "index.html", events=events, stream_after=newest, status=status(), config=view,
        errors=errors or {}, saved=flask.request.args.get("saved") == "1",
        form_token=form_token, settings=settings, history=history is not None,
        initial=initial_data() if initial_data else None), code

  @app.get("/")
  def index():
    return render_index()

  @app.post("/config")
  def save_form():
    form = flask.request.form.to_dict()
    if not secrets.compare_digest(form.pop("form_token", ""), form_token):
      return render_index({"form": "the form expired: reload the page and try again"}, form, 400)
    form.setdefault("clear_secrets", "")
    try:
      apply(form)
    except config_lib.ConfigError as exc:
      return render_index(exc.errors, form, 400)
    return flask.redirect(flask.url_for("index", saved=1), code=303)

  @app.get("/favicon.ico")
  def favicon():
    return "", 204

  @app.get("/events")
  def events_page():
    return flask.render_template("events.html", events=hub.recent(S.EVENTS_PAGE_COUNT))

  @app.get("/api/events")
  def api_events():
    text = flask.request.args.get("limit", "")
    limit = int(text) if text.isdigit() and text.isascii() else None
    if text and not limit:     # As the history API: a bad query is 400, not everything.
      return flask.jsonify({"error": f"limit: not a whole number of at least 1 ({text!r})"}), 400
    return flask.jsonify({"events": hub.recent(limit)})

  @app.get("/api/status")
  def api_status():
    return flask.jsonify(status())

  @app.get("/api/config")
  def api_config():
    return flask.jsonify(state["config"].public_view())

  @app.route("/api/config", methods=["POST", "PUT"])
  def api_config_update():
    body = flask.request.get_json(silent=True)
    if not flask.request.is_json or not isinstance(body, dict):
      return flask.jsonify({"errors": {"body": "send a JSON object "
                                               "(Content-Type: application/json)"}}), 400
    try:
      new = apply(body)
    except config_lib.ConfigError as exc:
      return flask.jsonify({"errors": exc.errors}), 400
    return flask.jsonify(new.public_view())

  @app.get("/api/settings")
  def api_settings():
    return flask.jsonify(settings)

  @app.get("/api/stream")
  def api_stream():
    # The browser's Last-Event-ID on a reconnection, else the id the page was rendered with.
    after = flask.request.headers.get("Last-Event-ID") or flask.request.args.get("after")
    return flask.Response(_event_stream(hub, status, after), mimetype="text/event-stream",
                          headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

  return app


def _static_version(*folders):
  """A short digest of the files' names and contents in `folders` (changes with any of them)."""
  digest = hashlib.sha256()
  for folder in folders:
    for root, _, names in sorted(os.walk(folder)):
      for name in sorted(names):
        path = os.path.join(root, name)
        digest.update(os.path.relpath(path, folder).encode())
        with open(path, "rb") as f:
          digest.update(f.read())
  return digest.hexdigest()[:12]


def _sse(kind, data, event_id=None):
  text = credentials.redact(json.dumps(data, separators=(",", ":")))
  field = f"id: {event_id}\n" if event_id else ""
  return f"{field}event: {kind}\ndata: {text}\n\n"


def _event_stream(hub, status, after=None):
  """Yields server-sent events until the hub closes or the page goes away.

  after: the id of the last prediction the page has; the kept ones after it
    come first (EventHub.subscribe).
  """
  inbox = hub.subscribe(after)
  last_status = None
  last_sent = time.monotonic()
  try:
    yield "retry: 2000\n\n"
    while True:
      current = status()
      if current != last_status:
        last_status = current
        last_sent = time.monotonic()
        yield _sse("status", current)
      try:
        item = inbox.get(timeout=S.SSE_STATUS_SECONDS)
      except queue.Empty:
        if time.monotonic() - last_sent >= S.SSE_KEEPALIVE_SECONDS:
          last_sent = time.monotonic()
          yield ": keep-alive\n\n"
        continue
      if item is hub_lib.CLOSED:
        return
      last_sent = time.monotonic()
      event_id, event = item
      yield _sse("prediction", event, event_id)
  finally:
    hub.unsubscribe(inbox)
