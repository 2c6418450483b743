"""Who may use the page: its Host names, same-site changes only, and an optional password.

  Host          a loopback-bound page answers only requests addressed to a
                loopback name (127.0.0.1, localhost, [::1], any port), which
                defeats DNS rebinding (a web site's own name resolving to 127.0.0.1).
  cross-site    a request that changes something (POST, PUT, ...) is refused when
                the browser says it comes from another site (Sec-Fetch-Site:
                cross-site, or an Origin other than the page's own).
  password      with a page password (required off loopback), every request
                needs it: HTTP Basic (any user name) or "Authorization: Bearer".
  headers       the page may not be framed by another site (clickjacking of the
                settings form) and loads nothing but its own files.
"""

import hmac
import urllib.parse

import flask

from soundscope.configs import history as H

_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Scripts, styles, fetches, the event stream and audio from the page's own origin only.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",   # no-referrer would make form posts say Origin: null.
}


def host_name(host_header):
  """'[::1]:8000' -> '[::1]', 'LocalHost:80' -> 'localhost', '' -> ''."""
  host = (host_header or "").strip().lower()
  if host.startswith("["):
    end = host.find("]")
    return host[:end + 1] if end > 0 else ""
  return host.partition(":")[0]


def same_origin(origin, host_header):
  """True when an Origin header ('http://[::1]:8000') names the Host the request was sent to."""
  parts = urllib.parse.urlsplit(origin or "")
  return bool(parts.netloc) and parts.netloc.lower() == (host_header or "").strip().lower()


def password_matches(authorization, password):
  """True when a request's Authorization (werkzeug's) carries the page password."""
  if authorization is None:
    return False
  given = authorization.password if authorization.type == "basic" else authorization.token
  return hmac.compare_digest((given or "").encode(), password.encode())


def install(app, trusted_hosts=None, password=None):
  """Adds the three checks to a Flask app, before every request, and the headers to every answer.

  Args:
    app: flask.Flask.
    trusted_hosts: Host names answered (others: 400), or None for any.
    password: the page password, or None for none.
  """
  trusted = {name.lower() for name in trusted_hosts} if trusted_hosts else None
  app.config["TRUSTED_HOSTS"] = None   # werkzeug's check refuses "[::1]": ours replaces it.

  @app.before_request
  def guard():
    request = flask.request
    host = request.headers.get("Host", "")
    if trusted is not None and host_name(host) not in trusted:
      return flask.Response("this page answers only on its loopback address\n", 400,
                            mimetype="text/plain")
    if password is not None and not password_matches(request.authorization, password):
      return flask.Response("the page password is needed\n", 401, mimetype="text/plain",
                            headers={"WWW-Authenticate": f'Basic realm="{H.PAGE_USER}"'})
    if request.method not in _SAFE_METHODS:
      site = request.headers.get("Sec-Fetch-Site")
      origin = request.headers.get("Origin")
      if site == "cross-site" or (origin is not None and not same_origin(origin, host)):
        return flask.Response("changes come only from the page itself\n", 403,
                              mimetype="text/plain")
    return None

  @app.after_request
  def headers(response):
    for name, value in _HEADERS.items():
      response.headers.setdefault(name, value)
    return response
