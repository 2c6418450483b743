"""Thin clients of DeviceHive's API: the calls a device that reports needs, over REST or WebSocket.

Follows devicehive/docs ("DeviceHive RESTful API", "DeviceHive WebSocket API").
Each call is named by its WebSocket action; over REST it is:
  token               POST /token          {login, password}  -> {accessToken, refreshToken}
  token/refresh       POST /token/refresh  {refreshToken}     -> {accessToken}
  device/save         PUT  /device/{id}    {name, data, ...}  -> empty body
  notification/insert POST /device/{id}/notification {notification, parameters, timestamp}
                                                              -> {id, timestamp}
REST calls carry `Authorization: Bearer <accessToken>` and fail with
{"error": <code>, "message": "..."}.  Over WebSocket (one connection to e.g.
ws://host/api/websocket) every request is {"action", "requestId", ...fields},
the answer echoes both with "status": "success" (or "error", with "code" and
"error"), and the connection is authorised once by the "authenticate" action
with the access token.  The access token is renewed shortly before it expires
(from the JWT's own expiry) and whenever a call is refused with 401.

The `devicehive` PyPI client (2.1.6) was not used: its handler/transport
framework runs its own threads and has no persisted outbox or backoff, which
this runtime needs around every call; these calls are simpler on requests and
websockets' synchronous client.
"""

import base64
import json
import logging
import time
import urllib.parse

import requests
from websockets import exceptions as ws_exceptions
from websockets.sync import client as ws_client

from soundscope.configs import runtime as S

log = logging.getLogger(__name__)


class DeviceHiveError(Exception):
  """The server answered with an error status.

  Attributes:
    status: HTTP status code.
    message: the server's message (from its {"error", "message"} body when present).
  """

  def __init__(self, status, message, call):
    super().__init__(f"{call}: HTTP {status}: {message}")
    self.status = status
    self.message = message

  @property
  def retryable(self):
    """True for failures that may succeed later (server errors, throttling, timeouts)."""
    return self.status >= 500 or self.status in (408, 429)


class DeviceHiveUnreachable(Exception):
  """No answer: connection refused or reset, DNS failure, timeout."""


def token_expiry(token):
  """Expiry of a JWT as a UNIX time in seconds, or None when it does not say.

  DeviceHive's tokens carry {"payload": {"e": <ms since epoch>, ...}}; standard
  JWTs carry "exp" in seconds.  The signature is not checked: the server does that.
  """
  try:
    body = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
  except (IndexError, ValueError, AttributeError):
    return None
  payload = claims.get("payload", claims) if isinstance(claims, dict) else {}
  if isinstance(payload, dict) and isinstance(payload.get("e"), (int, float)):
    return payload["e"] / 1000.0
  if isinstance(claims.get("exp"), (int, float)):
    return float(claims["exp"])
  return None


class _DeviceHiveApi:
  """Authentication, the device calls and the 401 retry, common to both transports.

  Args:
    server_url: the REST base ("http://host/api/rest") or the WebSocket
      endpoint ("ws://host/api/websocket").
    refresh_token: a refresh JWT (preferred), or
    login, password: user credentials for the `token` call.
    timeout: seconds per call.
  """

  def __init__(self, server_url, refresh_token=None, login=None, password=None,
               timeout=S.HTTP_TIMEOUT_SECONDS):
    if not refresh_token and not (login and password):
      raise ValueError("DeviceHive needs a refresh token, or a login and a password")
    self.base = server_url.rstrip("/")
    self.refresh_token = refresh_token
    self.login = login
    self.password = password
    self.timeout = timeout
    self.access_token = None
    self._access_expires = None

  # -- authentication -------------------------------------------------------

  def authenticate(self):
    """Gets an access token: refresh token first, else login and password."""
    if self.refresh_token:
      try:
        body = self._request("token/refresh", {"refreshToken": self.refresh_token}, auth=False)
        self._use_access(body["accessToken"])
        return
      except DeviceHiveError as exc:
        if exc.status not in (400, 401, 403, 404) or not (self.login and self.password):
          raise
        log.info("refresh token refused (%s); logging in again", exc)
    body = self._request("token", {"login": self.login, "password": self.password}, auth=False)
    self.refresh_token = body.get("refreshToken") or self.refresh_token
    self._use_access(body["accessToken"])

  def _use_access(self, token):
    self.access_token = token
    self._access_expires = token_expiry(token)

  def _access_is_fresh(self):
    if not self.access_token:
      return False
    if self._access_expires is None:
      return True
    return time.time() < self._access_expires - S.TOKEN_REFRESH_MARGIN_SECONDS

  # -- calls ----------------------------------------------------------------

  def register_device(self, device_id, name, data=None, network_id=None):
    """device/save: registers the device, or updates it if it exists."""
    device = {"name": name, "data": data or {}}
    if network_id is not None:
      device["networkId"] = network_id
    self._authorised("device/save", {"deviceId": device_id, "device": device})

  def insert_notification(self, device_id, name, parameters, timestamp=None):
    """notification/insert.

    Returns:
      dict {"id": int, "timestamp": str} as the server answered.
    """
    notification = {"notification": name, "parameters": parameters}
    if timestamp:
      notification["timestamp"] = timestamp
    return self._authorised("notification/insert",
                            {"deviceId": device_id, "notification": notification})

  def _authorised(self, action, fields):
    if not self._access_is_fresh():
      self.authenticate()
    try:
      return self._request(action, fields, auth=True)
    except DeviceHiveError as exc:
      if exc.status != 401:
        raise
      log.info("%s: access token refused, refreshing", action)
      self.authenticate()
      return self._request(action, fields, auth=True)

  def _request(self, action, fields, auth):
    """The answer (dict) of one call; DeviceHiveError / DeviceHiveUnreachable when none."""
    raise NotImplementedError

  def close(self):
    raise NotImplementedError


class DeviceHiveClient(_DeviceHiveApi):
  """DeviceHive over REST (requests); server_url is the REST base, e.g. "http://host/api/rest".

  Args (besides _DeviceHiveApi's):
    session: a requests.Session (one is made if None).
  """

  # action -> (HTTP method, path template, the field that is the body or None for all).
  _ROUTES = {
      "token": ("POST", "/token", None),
      "token/refresh": ("POST", "/token/refresh", None),
      "device/save": ("PUT", "/device/{deviceId}", "device"),
      "notification/insert": ("POST", "/device/{deviceId}/notification", "notification"),
  }

  def __init__(self, server_url, refresh_token=None, login=None, password=None,
               timeout=S.HTTP_TIMEOUT_SECONDS, session=None):
    super().__init__(server_url, refresh_token, login, password, timeout)
    self.session = session or requests.Session()

  def _request(self, action, fields, auth):
    method, path, body_field = self._ROUTES[action]
    body = fields[body_field] if body_field else fields
    headers = {"Content-Type": "application/json"}
    if auth:
      headers["Authorization"] = "Bearer " + self.access_token
    try:
      response = self.session.request(method, self.base + path.format(**fields),
                                      data=json.dumps(body), headers=headers,
                                      timeout=self.timeout)
    except requests.RequestException as exc:
      raise DeviceHiveUnreachable(f"{action}: {self.base} unreachable: "
                                  f"{type(exc).__name__}") from exc
    if response.status_code >= 400:
      raise DeviceHiveError(response.status_code, _error_message(response), action)
    if not response.content:
      return {}
    try:
      return response.json()
    except ValueError:
      raise DeviceHiveError(response.status_code, "the answer is not JSON", action) from None

  def close(self):
    self.session.close()


class DeviceHiveWebSocketClient(_DeviceHiveApi):
  """DeviceHive over one WebSocket connection, e.g. "ws://host/api/websocket".

  The connection opens on the first call and is authorised with the access
  token; a dropped connection fails its call with DeviceHiveUnreachable, and
  the next call opens (and authorises) a new one.
  """

  # Answers that carry their result under a key rather than at the top level.
  _RESULT_KEYS = {"notification/insert": "notification"}
  _ENVELOPE = ("action", "requestId", "status", "code", "error")

  def __init__(self, server_url, refresh_token=None, login=None, password=None,
               timeout=S.HTTP_TIMEOUT_SECONDS):
    super().__init__(server_url, refresh_token, login, password, timeout)
    self._connection = None
    self._authorised_connection = None
    self._next_request_id = 1

  def _use_access(self, token):
    super()._use_access(token)
    self._request("authenticate", {"token": token}, auth=False)
    self._authorised_connection = self._connection

  def _access_is_fresh(self):
    return (super()._access_is_fresh() and self._connection is not None
            and self._connection is self._authorised_connection)

  def _request(self, action, fields, auth):
    request_id = str(self._next_request_id)
    self._next_request_id += 1
    try:
      if self._connection is None:
        self._connection = ws_client.connect(self.base, open_timeout=self.timeout,
                                             close_timeout=self.timeout)
      self._connection.send(json.dumps({"action": action, "requestId": request_id, **fields}))
      answer = self._answer_to(request_id)
    except (OSError, TimeoutError, ws_exceptions.WebSocketException) as exc:
      self._drop_connection()
      raise DeviceHiveUnreachable(f"{action}: {self.base} unreachable: "
                                  f"{type(exc).__name__}") from exc
    if answer.get("status") != "success":
      code = answer.get("code")
      raise DeviceHiveError(code if isinstance(code, int) else 500,
                            str(answer.get("error") or "no reason given")[:200], action)
    result_key = self._RESULT_KEYS.get(action)
    if result_key:
      return answer.get(result_key) or {}
    return {key: value for key, value in answer.items() if key not in self._ENVELOPE}

  def _answer_to(self, request_id):
    """The server's answer to one request; events and other answers are skipped."""
    deadline = time.monotonic() + self.timeout
    while True:
      message = self._connection.recv(timeout=max(0.0, deadline - time.monotonic()))
      try:
        answer = json.loads(message)
      except ValueError:
        continue
      if isinstance(answer, dict) and answer.get("requestId") == request_id:
        return answer

  def _drop_connection(self):
    connection, self._connection = self._connection, None
    if connection is not None:
      connection.close()

  def close(self):
    self._drop_connection()


def client_for(server_url, **credentials):
  """The client of server_url's transport: WebSocket for ws:// and wss://, else REST."""
  scheme = urllib.parse.urlsplit(server_url).scheme.lower()
  if scheme in S.WEBSOCKET_SCHEMES:
    return DeviceHiveWebSocketClient(server_url, **credentials)
  return DeviceHiveClient(server_url, **credentials)


def _error_message(response):
  try:
    body = response.json()
  except ValueError:
    return (response.text or response.reason or "").strip()[:200]
  if isinstance(body, dict):
    return str(body.get("message") or body.get("error") or body)[:200]
  return str(body)[:200]
