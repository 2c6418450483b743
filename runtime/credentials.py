"""Secrets of the live runtime: taken out of URLs, read from the environment or a file, never echoed.

A URL such as mqtt://user:pass@host/ or http://user:pass@host/api/rest is
split into the URL without its user information and the credentials, which
the caller keeps as secrets (DeviceHive: the 0600 settings file; MQTT: its
own flag).  Every secret in use is remembered here, so that `redact` can
blank it out of any text that leaves the process: the page's answers, its
event stream and the log records (install_log_redaction).
"""

import logging
import os
import threading
import urllib.parse

from soundscope.configs import runtime as S

MASK = "[secret]"
_MIN_SECRET_CHARS = 4    # Shorter strings are not redacted (they would blank ordinary words).


class SecretError(ValueError):
  """A secret cannot be read (its file is missing or empty)."""


def split_url(url):
  """'scheme://user:pass@host:port/path' -> ('scheme://host:port/path', 'user', 'pass').

  User and password are percent-decoded; each is '' when absent.  A URL
  without user information comes back unchanged with ('', '').
  """
  parts = urllib.parse.urlsplit(url)
  if "@" not in parts.netloc:
    return url, "", ""
  userinfo, _, hostport = parts.netloc.rpartition("@")
  user, _, password = userinfo.partition(":")
  clean = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
  return clean, urllib.parse.unquote(user), urllib.parse.unquote(password)


def checked_url(url):
  """urllib.parse.SplitResult of `url`, whose port, when it names one, is a TCP port
  (configs/runtime.py MIN_PORT..MAX_PORT).

  Raises:
    ValueError: one line: 'not a valid URL (why); a port is 1-65535' (a broken IPv6
      address, a port that is no number or out of range), or 'a port is 1-65535' (0).
  """
  ports = f"{S.MIN_PORT}-{S.MAX_PORT}"
  try:
    parts = urllib.parse.urlsplit(url)
    port = parts.port
  except ValueError as exc:
    raise ValueError(f"not a valid URL ({exc}); a port is {ports}") from None
  if port == 0:
    raise ValueError(f"a port is {ports}")
  return parts


def public_url(url):
  """The URL as it may be shown: user information replaced by MASK (cut by hand from a
  URL that does not parse, e.g. a broken IPv6 address)."""
  try:
    clean, user, password = split_url(url or "")
  except ValueError:
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
      return url
    return f"{scheme}{separator}{MASK}@{authority.rpartition('@')[2]}{slash}{path}"
  if not (user or password):
    return url
  parts = urllib.parse.urlsplit(clean)
  return urllib.parse.urlunsplit(parts._replace(netloc=f"{MASK}@{parts.netloc}"))


def read_secret(path=None, env_var=None):
  """A secret from a file (its first line) or else an environment variable; None if neither.

  Raises:
    SecretError: the file cannot be read or its first line is empty.
  """
  if path:
    try:
      with open(path, encoding="utf-8") as f:
        secret = f.readline().strip()
    except OSError as exc:
      raise SecretError(f"{path}: cannot read the secret ({exc.strerror or exc})") from None
    if not secret:
      raise SecretError(f"{path}: the first line is empty")
    return remember(secret)
  value = os.environ.get(env_var or "", "").strip()
  return remember(value) if value else None


class _Registry:
  def __init__(self):
    self._secrets = set()
    self._lock = threading.Lock()

  def add(self, secret):
    if secret and len(secret) >= _MIN_SECRET_CHARS:
      with self._lock:
        self._secrets.add(secret)
        for form in (urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)):
          self._secrets.add(form)

  def redact(self, text):
    with self._lock:
      secrets = sorted(self._secrets, key=len, reverse=True)   # Longest first: no partial leftovers.
    for secret in secrets:
      if secret in text:
        text = text.replace(secret, MASK)
    return text


_REGISTRY = _Registry()


def remember(secret):
  """Registers a secret for redaction; returns it."""
  _REGISTRY.add(secret)
  return secret


def redact(text):
  """text with every remembered secret (and its URL-quoted forms) replaced by MASK."""
  return _REGISTRY.redact(text) if text else text


def install_log_redaction():
  """Makes every log record's message (and exception text) pass through redact()."""
  make_record = logging.getLogRecordFactory()
  if getattr(make_record, "redacting", False):
    return

  def redacting_record(*args, **kwargs):
    record = make_record(*args, **kwargs)
    try:
      message = record.getMessage()
    except Exception:  # A bad format string: leave it for logging to report.
      return record
    record.msg, record.args = redact(message), None
    if record.exc_info:
      record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record

  redacting_record.redacting = True
  logging.setLogRecordFactory(redacting_record)
