"""The DeviceHive settings: validated, stored with user-only permissions.

The file holds a refresh token or a password, so it is written with mode 0600
(atomically: a temporary file in the same folder, then rename), and
`public_view()` is the only form that leaves the process: it says whether a
secret is set, never what it is.  A server URL given with user:pass@ is split
into the URL, the login and the password (runtime/credentials.py).
"""

import dataclasses
import json
import os
import re
import urllib.parse

from soundscope.configs import runtime as S
from soundscope.runtime import credentials
from soundscope.util import atomic

SECRET_FIELDS = ("refresh_token", "password")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9-]{1,128}$")   # DeviceHive: letters, digits and dashes.
_NAME_MAX = 128


class ConfigError(ValueError):
  """Invalid settings; `errors` maps each field to what is wrong with it."""

  def __init__(self, errors):
    super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
    self.errors = errors


@dataclasses.dataclass(frozen=True)
class DeviceHiveConfig:
  """Where and as whom to send notifications.

  Attributes:
    server_url: REST base URL, e.g. "http://host/api/rest", or WebSocket endpoint,
      e.g. "ws://host/api/websocket" ('' = DeviceHive off).
    refresh_token: refresh JWT (secret).
    login, password: user credentials, used when no refresh token works (password secret).
    device_id: letters, digits and dashes.
    device_name: display name registered with device/save (PUT /device/{id}).
    notification_name: name of each notification.
  """
  server_url: str = ""
  refresh_token: str = ""
  login: str = ""
  password: str = ""
  device_id: str = ""
  device_name: str = S.DEFAULT_DEVICE_NAME
  notification_name: str = S.DEFAULT_NOTIFICATION_NAME

  @property
  def enabled(self):
    return bool(self.server_url)

  def validate(self):
    """Raises ConfigError listing every invalid field; returns self when valid."""
    errors = {}
    if self.server_url:
      parts, problem = _parsed(self.server_url)
      if problem:
        errors["server_url"] = problem
      elif "@" in parts.netloc:
        errors["server_url"] = ("give the login and password in their own fields, "
                                "not in the URL")
      elif parts.scheme not in S.REST_SCHEMES + S.WEBSOCKET_SCHEMES or not parts.netloc:
        errors["server_url"] = ("must be an http(s):// (REST) or ws(s):// (WebSocket) URL "
                                "with a host")
      if not self.refresh_token and not (self.login and self.password):
        errors["refresh_token"] = "give a refresh token, or a login and a password"
      if not _DEVICE_ID.match(self.device_id or ""):
        errors["device_id"] = "1-128 letters, digits and dashes"
      if not self.device_name.strip() or len(self.device_name) > _NAME_MAX:
        errors["device_name"] = f"1-{_NAME_MAX} characters"
      if not self.notification_name.strip() or len(self.notification_name) > _NAME_MAX:
        errors["notification_name"] = f"1-{_NAME_MAX} characters"
    if bool(self.login) != bool(self.password) and not self.refresh_token:
      errors["password"] = "a login needs a password"
    if errors:
      raise ConfigError(errors)
    return self

  def public_view(self):
    """The settings without secrets: what the page and /api/config may show."""
    view = {k: v for k, v in dataclasses.asdict(self).items() if k not in SECRET_FIELDS}
    view["has_refresh_token"] = bool(self.refresh_token)
    view["has_password"] = bool(self.password)
    view["enabled"] = self.enabled
    return view

  def updated(self, form):
    """A copy with the fields given in `form` (a mapping of strings).

    Empty secret fields keep the stored secret (the page never has it to send
    back), but only for the same server: a server URL with another host or
    port erases the secrets that the form does not give anew, so a stored
    token or password is never sent to a server it was not given for.
    "clear_secrets" set to a true value erases both.
    """
    known = {f.name for f in dataclasses.fields(self)}
    unknown = sorted(set(form) - known - {"clear_secrets"})
    if unknown:
      raise ConfigError({name: "unknown setting" for name in unknown})
    changes = {}
    for name in known:
      if name not in form or form[name] is None:
        continue
      value = str(form[name]).strip()
      if name in SECRET_FIELDS and not value:
        continue
      changes[name] = value
    if "server_url" in changes:
      changes.update(url_credentials(changes["server_url"]))
    moved = "server_url" in changes and not same_server(self.server_url, changes["server_url"])
    if moved or str(form.get("clear_secrets", "")).lower() in ("1", "true", "on", "yes"):
      changes.update({name: "" for name in SECRET_FIELDS if name not in changes})
    return dataclasses.replace(self, **changes)


def url_credentials(url):
  """{"server_url": the URL without user:pass@, "login", "password"} (only the parts given).

  A server URL with credentials is split: the URL is stored and shown without
  them, the password is kept as the secret it is.

  Raises:
    ConfigError: {"server_url": why} for a URL that cannot be read (a broken
      IPv6 address, a port that is not a number in 1-65535).
  """
  problem = _parsed(url)[1] if url else None
  if problem:
    raise ConfigError({"server_url": problem})
  clean, user, password = credentials.split_url(url)
  fields = {"server_url": clean}
  if user:
    fields["login"] = user
  if password:
    fields["password"] = credentials.remember(password)
  return fields


def _parsed(url):
  """A URL -> (urllib.parse.SplitResult or None, None or why it cannot be used)."""
  try:
    return credentials.checked_url(url), None
  except ValueError as exc:    # "Invalid IPv6 URL", "Port out of range 0-65535", port 0.
    return None, str(exc)


def same_server(old_url, new_url):
  """True when two server URLs reach the same host and port (REST and WebSocket alike).

  No old URL counts as the same: secrets given before any URL belong to the first one.
  """
  if not old_url:
    return True
  try:
    old, new = urllib.parse.urlsplit(old_url), urllib.parse.urlsplit(new_url)
    old_port = old.port or S.DEFAULT_PORTS.get(old.scheme)
    new_port = new.port or S.DEFAULT_PORTS.get(new.scheme)
  except ValueError:     # A port that is not a number, a broken URL: validate() names it.
    return False
  return (old.hostname or "").lower() == (new.hostname or "").lower() and old_port == new_port


class ConfigStore:
  """Loads and saves DeviceHiveConfig as JSON at `path` (mode 0600)."""

  def __init__(self, path):
    self.path = path

  def load(self):
    """The stored settings (defaults when there is no file yet).

    Raises:
      ConfigError: the file is not a JSON object of settings.
    """
    if not os.path.exists(self.path):
      return DeviceHiveConfig()
    if os.stat(self.path).st_mode & 0o077:
      os.chmod(self.path, 0o600)   # It holds secrets: user-only, whoever wrote it.
    try:
      with open(self.path, encoding="utf-8") as f:
        data = json.load(f)
    except ValueError as exc:
      raise ConfigError({"file": f"{self.path} is not valid JSON ({exc})"}) from None
    if not isinstance(data, dict):
      raise ConfigError({"file": f"{self.path} does not hold a JSON object"})
    known = {f.name for f in dataclasses.fields(DeviceHiveConfig)}
    values = {k: str(v) for k, v in data.items() if k in known}
    values.update(url_credentials(values.get("server_url", "")))   # An old file's user:pass@.
    for name in SECRET_FIELDS:
      credentials.remember(values.get(name))
    return DeviceHiveConfig(**values)

  def save(self, config):
    config.validate()
    for name in SECRET_FIELDS:
      credentials.remember(getattr(config, name))
    folder = os.path.dirname(os.path.abspath(self.path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    atomic.write_text(self.path, json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True),
                      mode=0o600)
    return config
