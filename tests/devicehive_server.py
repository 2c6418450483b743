"""A local DeviceHive server for tests: the REST and WebSocket subset soundscope uses, on loopback.

Implements, after devicehive/docs ("DeviceHive RESTful API", "DeviceHive
WebSocket API") and the Java server's behaviour, each call under its
WebSocket action name:
  token               POST /api/rest/token          {login, password}
                                                    -> 201 {accessToken, refreshToken}
  token/refresh       POST /api/rest/token/refresh  {refreshToken}    -> 201 {accessToken}
  device/save         PUT  /api/rest/device/{id}    Device            -> 204, empty body
  notification/insert POST /api/rest/device/{id}/notification         -> 201 {id, timestamp}
  authenticate        (WebSocket only) {token}: authorises the connection
Over WebSocket (ws_url, its own port) a request is {"action", "requestId",
...fields} (device/save: deviceId, device; notification/insert: deviceId,
notification) and the answer echoes action and requestId with "status":
"success" and the result (notification/insert: {"notification": {id,
timestamp}}), or "status": "error" with "code" and "error".
Tokens are real HS256 JWTs whose payload is DeviceHive's
{"payload": {"u": user, "a": [actions], "e": expiry ms, "t": 1 access | 0 refresh}};
they expire (access_ttl, refresh_ttl) and can be revoked (revoke_access_tokens);
a WebSocket connection's token is checked again on every call.
Errors carry the status and message: 400 bad body or id, 401
missing/invalid/expired token or bad credentials, 404 unknown device.
stop() and start() on the same ports make an outage (open connections are closed).
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
from websockets import exceptions as ws_exceptions
from websockets.sync import server as ws_server
from werkzeug import serving

ACCESS, REFRESH = 1, 0
_DEVICE_ID = re.compile(r"^[A-Za-z0-9-]+$")


def _b64(data):
  return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
  return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DeviceHiveServer:
  """Start with start(); base_url is the REST root, ws_url the WebSocket endpoint."""

  def __init__(self, login="soundscope", password="s3cret-pass", access_ttl=1800.0,
               refresh_ttl=86400.0 * 180):
    self.login, self.password = login, password
    self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
    self._key = secrets.token_bytes(32)
    self._lock = threading.Lock()
    self._revoked_before = 0.0          # Access tokens issued before this are refused.
    self.devices = {}                   # id -> Device body.
    self.notifications = []             # Accepted notification bodies, with "id" and "deviceId".
    self.log = []                       # (transport, action, status) of every call.
    self.arrivals = {}                  # notification id -> time.monotonic() when it arrived.
    self.insert_answer_delay = 0.0      # Seconds between storing a notification and answering.
    self._next_id = 1
    self._server = self._thread = None
    self._ws_server = self._ws_thread = None
    self._ws_connections = set()
    self.port = self.ws_port = 0
    self.app = self._make_app()

  # -- control --------------------------------------------------------------

  def start(self):
    """Listens (again) on the same ports as before, if any."""
    self._server = serving.make_server("127.0.0.1", self.port, self.app, threaded=True)
    self.port = self._server.port
    self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
    self._thread.start()
    self._ws_server = ws_server.serve(self._serve_connection, "127.0.0.1", self.ws_port)
    self.ws_port = self._ws_server.socket.getsockname()[1]
    self._ws_thread = threading.Thread(target=self._ws_server.serve_forever, daemon=True)
    self._ws_thread.start()
    return self

  def stop(self):
    """Stops listening and drops open connections: nothing connects until start()."""
    if self._server is not None:
      self._server.shutdown()
      self._server.server_close()
      self._thread.join(5)
      self._server = None
    if self._ws_server is not None:
      self._ws_server.shutdown()
      self._ws_thread.join(5)
      self._ws_server = None
      with self._lock:
        connections, self._ws_connections = self._ws_connections, set()
      for connection in connections:
        connection.close()

  @property
  def base_url(self):
    return f"http://127.0.0.1:{self.port}/api/rest"

  @property
  def ws_url(self):
    return f"ws://127.0.0.1:{self.ws_port}/api/websocket"

  def url(self, transport):
    """base_url for "rest", ws_url for "websocket"."""
    return {"rest": self.base_url, "websocket": self.ws_url}[transport]

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

  def open_websockets(self):
    """WebSocket connections open now."""
    with self._lock:
      return len(self._ws_connections)

  def count(self, action, status=None):
    """Calls of `action` (a WebSocket action name) over either transport, with that status."""
    with self._lock:
      return sum(1 for _, a, s in self.log if a == action and status in (None, s))

  def _record(self, transport, action, status):
    with self._lock:
      self.log.append((transport, action, status))

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

  # -- the calls, whatever the transport: (status, answer) ----------------------

  def _login(self, body):
    if not body.get("login") or not body.get("password"):
      return 400, "login and password are required"
    if body["login"] != self.login or body["password"] != self.password:
      return 401, "Invalid credentials"
    return 201, {"accessToken": self._token(ACCESS, self.access_ttl),
                 "refreshToken": self._token(REFRESH, self.refresh_ttl)}

  def _refresh(self, body):
    if not body.get("refreshToken"):
      return 400, "refreshToken is required"
    problem = self._check(body["refreshToken"], REFRESH)
    if problem:
      return 401, problem
    return 201, {"accessToken": self._token(ACCESS, self.access_ttl)}

  def _save_device(self, device_id, device):
    if not isinstance(device_id, str) or not _DEVICE_ID.match(device_id):
      return 400, "Device id can only contain letters, digits and dashes"
    if not isinstance(device, dict) or not isinstance(device.get("name"), str) \
        or not device["name"]:
      return 400, "Device name is required"
    if "data" in device and not isinstance(device["data"], (dict, type(None))):
      return 400, "Device data must be an object"
    with self._lock:
      self.devices[device_id] = device
    return 204, {}

  def _insert_notification(self, device_id, body, arrived):
    with self._lock:
      known = device_id in self.devices
    if not known:
      return 404, f"Device with such deviceId = {device_id} not found"
    if not isinstance(body, dict) or not isinstance(body.get("notification"), str) \
        or not body["notification"]:
      return 400, "Notification name is required"
    if "parameters" in body and not isinstance(body["parameters"], (dict, type(None))):
      return 400, "Notification parameters must be an object"
    stamp = body.get("timestamp")
    if stamp is not None:
      try:
        datetime.datetime.strptime(stamp.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
      except (TypeError, ValueError, AttributeError):
        return 400, "timestamp must be yyyy-MM-dd'T'HH:mm:ss.SSS"
    else:
      now = datetime.datetime.now(datetime.timezone.utc)
      stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
    with self._lock:
      record = dict(body, id=self._next_id, deviceId=device_id, timestamp=stamp)
      self._next_id += 1
      self.notifications.append(record)
      self.arrivals[record["id"]] = arrived
    time.sleep(self.insert_answer_delay)
    return 201, {"id": record["id"], "timestamp": stamp}

  # -- REST -------------------------------------------------------------------

  def _make_app(self):
    app = flask.Flask("devicehive-test-server")

    def answer(action, status, result):
      self._record("rest", action, status)
      if status >= 400:
        return flask.jsonify({"error": status, "message": result}), status
      return (flask.jsonify(result), status) if result else ("", status)

    def body_object():
      body = flask.request.get_json(silent=True)
      return body if isinstance(body, dict) else None

    def unauthorised():
      header = flask.request.headers.get("Authorization", "")
      if not header.startswith("Bearer "):
        return "Unauthorized"
      return self._check(header[len("Bearer "):], ACCESS)

    @app.post("/api/rest/token")
    def login():
      return answer("token", *self._login(body_object() or {}))

    @app.post("/api/rest/token/refresh")
    def refresh():
      return answer("token/refresh", *self._refresh(body_object() or {}))

    @app.put("/api/rest/device/<device_id>")
    def save_device(device_id):
      problem = unauthorised()
      if problem:
        return answer("device/save", 401, problem)
      return answer("device/save", *self._save_device(device_id, body_object()))

    @app.post("/api/rest/device/<device_id>/notification")
    def insert_notification(device_id):
      arrived = time.monotonic()
      problem = unauthorised()
      if problem:
        return answer("notification/insert", 401, problem)
      return answer("notification/insert",
                    *self._insert_notification(device_id, body_object(), arrived))

    return app

  # -- WebSocket --------------------------------------------------------------

  def _serve_connection(self, connection):
    """One client connection: answers its requests in order until it closes."""
    with self._lock:
      self._ws_connections.add(connection)
    session = {"token": None}
    try:
      for message in connection:
        arrived = time.monotonic()
        try:
          request = json.loads(message)
        except ValueError:
          request = None
        if not isinstance(request, dict):
          connection.send(json.dumps({"status": "error", "code": 400,
                                      "error": "Malformed request"}))
          continue
        action = request.get("action")
        status, result = self._ws_call(action, request, session, arrived)
        self._record("websocket", action, status)
        envelope = {"action": action, "requestId": request.get("requestId")}
        if status >= 400:
          envelope.update(status="error", code=status, error=result)
        else:
          envelope.update(status="success", **result)
        connection.send(json.dumps(envelope))
    except ws_exceptions.ConnectionClosed:
      pass
    finally:
      with self._lock:
        self._ws_connections.discard(connection)

  def _ws_call(self, action, request, session, arrived):
    if action == "token":
      return self._login(request)
    if action == "token/refresh":
      return self._refresh(request)
    if action == "authenticate":
      problem = self._check(str(request.get("token")), ACCESS)
      if problem:
        return 401, problem
      session["token"] = request["token"]
      return 200, {}
    if action not in ("device/save", "notification/insert"):
      return 400, f"Unknown action requested: {action}"
    problem = self._check(session["token"], ACCESS) if session["token"] else "Unauthorized"
    if problem:
      return 401, problem
    if action == "device/save":
      return self._save_device(request.get("deviceId"), request.get("device"))
    status, result = self._insert_notification(request.get("deviceId"),
                                               request.get("notification"), arrived)
    return status, ({"notification": result} if status < 400 else result)
