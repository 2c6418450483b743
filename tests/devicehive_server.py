"""A local DeviceHive server for tests: the REST subset soundscope uses, on loopback.

Implements, after devicehive/docs ("DeviceHive RESTful API") and the Java
server's behaviour:
  POST /api/rest/token            {login, password} -> 201 {accessToken, refreshToken}
  POST /api/rest/token/refresh    {refreshToken}    -> 201 {accessToken}
  PUT  /api/rest/device/{id}      Device            -> 204, empty body
  POST /api/rest/device/{id}/notification           -> 201 {id, timestamp}
Tokens are real HS256 JWTs whose payload is DeviceHive's
{"payload": {"u": user, "a": [actions], "e": expiry ms, "t": 1 access | 0 refresh}};
they expire (access_ttl, refresh_ttl) and can be revoked (revoke_access_tokens).
Errors answer {"error": <status>, "message": "..."} with the right status:
400 bad body or id, 401 missing/invalid/expired token or bad credentials,
404 unknown device.  stop() and start() on the same port make an outage.
"""

import base64
import datetime
import hashlib
import hmac
import json
import re
import secrets
import threading
import time

import flask
from werkzeug import serving

ACCESS, REFRESH = 1, 0
_DEVICE_ID = re.compile(r"^[A-Za-z0-9-]+$")


def _b64(data):
  return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
  return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DeviceHiveServer:
  """Start with start(); base_url is the REST root (http://127.0.0.1:PORT/api/rest)."""

  def __init__(self, login="soundscope", password="s3cret-pass", access_ttl=1800.0,
               refresh_ttl=86400.0 * 180):
    self.login, self.password = login, password
    self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
    self._key = secrets.token_bytes(32)
    self._lock = threading.Lock()
    self._revoked_before = 0.0          # Access tokens issued before this are refused.
    self.devices = {}                   # id -> Device body.
    self.notifications = []             # Accepted notification bodies, with "id" and "deviceId".
    self.log = []                       # (method, path, status) of every request.
    self.arrivals = {}                  # notification id -> time.monotonic() when it arrived.
    self._next_id = 1
    self._server = None
    self._thread = None
    self.port = 0
    self.app = self._make_app()

  # -- control --------------------------------------------------------------

  def start(self):
    """Listens (again) on the same port as before, if any."""
    self._server = serving.make_server("127.0.0.1", self.port, self.app, threaded=True)
    self.port = self._server.port
    self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
    self._thread.start()
    return self

  def stop(self):
    """Stops listening: connections are refused until start()."""
    if self._server is not None:
      self._server.shutdown()
      self._server.server_close()
      self._thread.join(5)
      self._server = None

  @property
  def base_url(self):
    return f"http://127.0.0.1:{self.port}/api/rest"

  def revoke_access_tokens(self):
    """Every access token issued so far is refused from now on (as if it expired)."""
    with self._lock:
      time.sleep(0.002)
      self._revoked_before = time.time()

  def issue_refresh_token(self):
    return self._token(REFRESH, self.refresh_ttl)

  def received(self, device_id=None):
    with self._lock:
      return [n for n in self.notifications if device_id in (None, n["deviceId"])]

  def count(self, method, path_part, status=None):
    with self._lock:
      return sum(1 for m, p, s in self.log
                 if m == method and path_part in p and status in (None, s))

  # -- tokens -----------------------------------------------------------------

  def _token(self, kind, ttl):
    now = time.time()
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = {"payload": {"u": 1, "a": [0], "n": ["*"], "dt": ["*"],
                           "e": int((now + ttl) * 1000), "t": kind, "iat": now}}
    body = _b64(json.dumps(payload).encode())
    signature = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"

  def _check(self, token, kind):
    """Returns None if valid, else the reason."""
    try:
      header, body, signature = token.split(".")
      expected = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
      if not hmac.compare_digest(signature, expected):
        return "Invalid token signature"
      claims = json.loads(_unb64(body))["payload"]
    except (ValueError, KeyError, AttributeError):
      return "Malformed token"
    if claims.get("t") != kind:
      return "Invalid token type"
    if claims["e"] / 1000.0 <= time.time():
      return "Token has expired"
    if kind == ACCESS and claims.get("iat", 0) < self._revoked_before:
      return "Token has expired"
    return None

  # -- the API ----------------------------------------------------------------

  def _make_app(self):
    app = flask.Flask("devicehive-test-server")

    def fail(status, message):
      return flask.jsonify({"error": status, "message": message}), status

    def body_object():
      body = flask.request.get_json(silent=True)
      return body if isinstance(body, dict) else None

    def authorised():
      header = flask.request.headers.get("Authorization", "")
      if not header.startswith("Bearer "):
        return "Unauthorized"
      return self._check(header[len("Bearer "):], ACCESS)

    @app.after_request
    def record(response):
      with self._lock:
        self.log.append((flask.request.method, flask.request.path, response.status_code))
      return response

    @app.post("/api/rest/token")
    def login():
      body = body_object()
      if body is None or not body.get("login") or not body.get("password"):
        return fail(400, "login and password are required")
      if body["login"] != self.login or body["password"] != self.password:
        return fail(401, "Invalid credentials")
      return flask.jsonify({"accessToken": self._token(ACCESS, self.access_ttl),
                            "refreshToken": self._token(REFRESH, self.refresh_ttl)}), 201

    @app.post("/api/rest/token/refresh")
    def refresh():
      body = body_object()
      if body is None or not body.get("refreshToken"):
        return fail(400, "refreshToken is required")
      problem = self._check(body["refreshToken"], REFRESH)
      if problem:
        return fail(401, problem)
      return flask.jsonify({"accessToken": self._token(ACCESS, self.access_ttl)}), 201

    @app.put("/api/rest/device/<device_id>")
    def register(device_id):
      problem = authorised()
      if problem:
        return fail(401, problem)
      if not _DEVICE_ID.match(device_id):
        return fail(400, "Device id can only contain letters, digits and dashes")
      body = body_object()
      if body is None or not isinstance(body.get("name"), str) or not body["name"]:
        return fail(400, "Device name is required")
      if "data" in body and not isinstance(body["data"], (dict, type(None))):
        return fail(400, "Device data must be an object")
      with self._lock:
        self.devices[device_id] = body
      return "", 204

    @app.post("/api/rest/device/<device_id>/notification")
    def insert(device_id):
      arrived = time.monotonic()
      problem = authorised()
      if problem:
        return fail(401, problem)
      with self._lock:
        known = device_id in self.devices
      if not known:
        return fail(404, f"Device with such deviceId = {device_id} not found")
      body = body_object()
      if body is None or not isinstance(body.get("notification"), str) or not body["notification"]:
        return fail(400, "Notification name is required")
      if "parameters" in body and not isinstance(body["parameters"], (dict, type(None))):
        return fail(400, "Notification parameters must be an object")
      stamp = body.get("timestamp")
      if stamp is not None:
        try:
          datetime.datetime.strptime(stamp.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
        except (TypeError, ValueError):
          return fail(400, "timestamp must be yyyy-MM-dd'T'HH:mm:ss.SSS")
      else:
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
      with self._lock:
        record = dict(body, id=self._next_id, deviceId=device_id, timestamp=stamp)
        self._next_id += 1
        self.notifications.append(record)
        self.arrivals[record["id"]] = arrived
      return flask.jsonify({"id": record["id"], "timestamp": stamp}), 201

    return app
