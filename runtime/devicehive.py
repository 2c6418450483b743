"""A thin client of DeviceHive's REST API: the calls a device that reports needs.

Follows devicehive/docs, "DeviceHive RESTful API":
  POST /token          {login, password}  -> {accessToken, refreshToken}   (authentication/login)
  POST /token/refresh  {refreshToken}     -> {accessToken}                 (authentication/refresh)
  PUT  /device/{id}    {name, data, ...}  -> empty body                    (device/register)
  POST /device/{id}/notification {notification, parameters, timestamp}
                                          -> {id, timestamp}               (devicenotification/insert)
Authorised calls carry `Authorization: Bearer <accessToken>`; error bodies are
{"error": <code>, "message": "..."}.  The access token is refreshed shortly
before it expires (from the JWT's own expiry) and whenever a call gets a 401.

The `devicehive` PyPI client (2.1.6) was not used: its handler/transport
framework runs its own threads and has no persisted outbox or backoff, which
this runtime needs around every call; these four calls are simpler on requests.
"""

import base64
import json
import logging
import time

import requests

from runtime import settings as S

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


class DeviceHiveClient:
  """REST client for one server and one set of credentials.

  Args:
    server_url: the REST base, e.g. "http://host/api/rest".
    refresh_token: a refresh JWT (preferred), or
    login, password: user credentials for POST /token.
    timeout: seconds per HTTP call.
    session: a requests.Session (one is made if None).
  """

  def __init__(self, server_url, refresh_token=None, login=None, password=None,
               timeout=S.HTTP_TIMEOUT_SECONDS, session=None):
    if not refresh_token and not (login and password):
      raise ValueError("DeviceHive needs a refresh token, or a login and a password")
    self.base = server_url.rstrip("/")
    self.refresh_token = refresh_token
    self.login = login
    self.password = password
    self.timeout = timeout
    self.session = session or requests.Session()
    self.access_token = None
    self._access_expires = None

  # -- authentication -------------------------------------------------------

  def authenticate(self):
    """Gets an access token: refresh token first, else login and password."""
    if self.refresh_token:
      try:
        body = self._send("POST", "/token/refresh", {"refreshToken": self.refresh_token},
                          auth=False, call="token/refresh")
        self._set_access(body["accessToken"])
        return
      except DeviceHiveError as exc:
        if exc.status not in (400, 401, 403, 404) or not (self.login and self.password):
          raise
        log.info("refresh token refused (%s); logging in again", exc)
    body = self._send("POST", "/token", {"login": self.login, "password": self.password},
                      auth=False, call="token")
    self.refresh_token = body.get("refreshToken") or self.refresh_token
    self._set_access(body["accessToken"])

  def _set_access(self, token):
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
    """PUT /device/{id}: registers the device, or updates it if it exists."""
    device = {"name": name, "data": data or {}}
    if network_id is not None:
      device["networkId"] = network_id
    self._authorised("PUT", f"/device/{device_id}", device, call="device/register")

  def insert_notification(self, device_id, name, parameters, timestamp=None):
    """POST /device/{id}/notification.

    Returns:
      dict {"id": int, "timestamp": str} as the server answered.
    """
    body = {"notification": name, "parameters": parameters}
    if timestamp:
      body["timestamp"] = timestamp
    return self._authorised("POST", f"/device/{device_id}/notification", body,
                            call="notification/insert")

  def _authorised(self, method, path, body, call):
    if not self._access_is_fresh():
      self.authenticate()
    try:
      return self._send(method, path, body, auth=True, call=call)
    except DeviceHiveError as exc:
      if exc.status != 401:
        raise
      log.info("%s: access token refused, refreshing", call)
      self.authenticate()
      return self._send(method, path, body, auth=True, call=call)

  def _send(self, method, path, body, auth, call):
    headers = {"Content-Type": "application/json"}
    if auth:
      headers["Authorization"] = "Bearer " + self.access_token
    try:
      response = self.session.request(method, self.base + path, data=json.dumps(body),
                                      headers=headers, timeout=self.timeout)
    except requests.RequestException as exc:
      raise DeviceHiveUnreachable(f"{call}: {self.base} unreachable: "
                                  f"{type(exc).__name__}") from exc
    if response.status_code >= 400:
      raise DeviceHiveError(response.status_code, _error_message(response), call)
    if not response.content:
      return {}
    try:
      return response.json()
    except ValueError:
      raise DeviceHiveError(response.status_code, "the answer is not JSON", call) from None

  def close(self):
    self.session.close()


def _error_message(response):
  try:
    body = response.json()
  except ValueError:
    return (response.text or response.reason or "").strip()[:200]
  if isinstance(body, dict):
    return str(body.get("message") or body.get("error") or body)[:200]
  return str(body)[:200]
