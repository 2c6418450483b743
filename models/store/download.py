"""Downloads model files from their official URLs, safely.

Every file is streamed into a hidden temporary file next to its destination
(`.<name>.<random>.part`), hashed while it arrives, checked against the size
and digest pinned in configs/model_specs.py, and only then renamed into place
with one atomic `os.replace`.  An interrupted, truncated or corrupted transfer
therefore never leaves a file under the real name; the temporary file is
removed.  Progress (bytes, rate, time left) goes to stderr.

`$SOUNDSCOPE_DOWNLOAD_BASE` (or `base_url=`) replaces the official host: files
are then fetched from `<base>/<model name>/<file name>`, for mirrors and for
the tests, which serve ../shared/assets from a local HTTP server.
"""

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from soundscope.configs import model_specs as S
from soundscope.models.store import files as store_lib
from soundscope.util import atomic

CHUNK_BYTES = 1 << 16          # Read 64 KiB at a time.
TIMEOUT_SECONDS = 60.0         # Per socket operation, not for the whole file.
PROGRESS_INTERVAL_SECONDS = 0.2


class DownloadError(Exception):
  """A file could not be downloaded or failed verification; the message says what to do."""


def resolve_url(model_name, file_spec, base_url=None):
  """The URL a file is fetched from: `<base>/<model>/<file>` with a base, else the official one."""
  base = base_url or os.environ.get(S.DOWNLOAD_BASE_ENV)
  if base:
    return f"{base.rstrip('/')}/{model_name}/{file_spec.name}"
  return file_spec.url


# The schemes a mirror base (--base-url, $SOUNDSCOPE_DOWNLOAD_BASE) may use.
MIRROR_SCHEMES = ("http", "https", "file")


def check_base_url(base):
  """Raises DownloadError unless `base` (None: none given) is an http(s) or file URL."""
  if base is None:
    return
  parts = urllib.parse.urlsplit(base)
  if parts.scheme not in MIRROR_SCHEMES or not (parts.netloc or parts.scheme == "file"):
    raise DownloadError(f"mirror base {base!r} (--base-url or ${S.DOWNLOAD_BASE_ENV}) is not a "
                        f"URL: expected e.g. https://host/path")


class Progress:
  """A one-line tqdm bar on stderr: name, percent, MB done, MB/s, time left.

  Redrawn at most every PROGRESS_INTERVAL_SECONDS; `update(done, final=True)`
  (or close(), when the transfer fails) leaves the last line and ends it.
  """

  def __init__(self, label, total, enabled=True, stream=None):
    import tqdm

    class Bar(tqdm.tqdm):
      monitor_interval = 0     # No monitor thread: miniters=1 checks the interval each update.

    known = "{percentage:5.1f}% [{bar:20}] {n_fmt}B/{total_fmt}B " if total else ""
    self.label, self.total, self.enabled = label, total, enabled
    self._bar = Bar(total=total or None, desc=label, file=stream or sys.stderr,
                    disable=not enabled, unit="B", unit_scale=True, unit_divisor=1000,
                    mininterval=PROGRESS_INTERVAL_SECONDS, miniters=1, ascii=True,
                    bar_format="{desc}: " + (known or "{n_fmt}B ") + "{rate_fmt}"
                               + (" {remaining} left" if total else ""))

  def update(self, done, final=False):
    if not self.enabled:
      return
    if self._bar.total and done > self._bar.total:   # The size was an approximation.
      self._bar.total = done
    self._bar.update(done - self._bar.n)
    if final:
      self.close()

  def close(self):
    self._bar.close()


def _stream_to(response, out, progress):
  """Copies a response body to `out`, hashing it; returns (bytes, sha256, md5)."""
  sha256, md5, done = hashlib.sha256(), hashlib.md5(), 0
  try:
    while True:
      try:
        chunk = response.read(CHUNK_BYTES)
      except http.client.IncompleteRead as exc:
        chunk = exc.partial
        out.write(chunk)
        done += len(chunk)
        raise DownloadError(f"transfer interrupted after {done} bytes") from None
      if not chunk:
        break
      out.write(chunk)
      sha256.update(chunk)
      md5.update(chunk)
      done += len(chunk)
      progress.update(done)
  except BaseException:
    progress.close()   # End the bar's line before the error is reported.
    raise
  return done, sha256.hexdigest(), md5.hexdigest()


def download_file(url, destination, file_spec, progress=True, timeout=TIMEOUT_SECONDS):
  """Downloads one file, verifies it, and renames it into place.

  Args:
    url: where to fetch it.
    destination: final path.
    file_spec: configs.model_specs.FileSpec with the pinned size and digest.
    progress: show a progress bar on stderr.
    timeout: seconds per socket operation.

  Returns:
    (sha256, size) of the verified file.

  Raises:
    DownloadError: HTTP error, network unreachable, truncated transfer, or a
      size or digest that does not match the pin.  Nothing is left at
      `destination` (an older verified file there is kept untouched).
  """
  destination = os.fspath(destination)
  directory = os.path.dirname(destination) or "."
  os.makedirs(directory, exist_ok=True)
  with atomic.replacing(destination) as temporary, open(temporary, "wb") as out:
    try:
      request = urllib.request.Request(url, headers={"User-Agent": "soundscope"})
      with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        total = expected or file_spec.size or S.APPROXIMATE_SIZES.get(file_spec.name)
        bar = Progress(file_spec.name, total, progress)
        done, sha256, md5 = _stream_to(response, out, bar)
        bar.update(done, final=True)
    except urllib.error.HTTPError as exc:
      raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
      reason = getattr(exc, "reason", exc)
      raise DownloadError(f"cannot download {url} ({reason}); offline? If you already have "
                          f"{file_spec.name}, run `soundscope models import PATH`") from None
    out.close()
    if expected is not None and done != expected:
      raise DownloadError(f"{url}: transfer truncated: {done} of {expected} bytes")
    try:
      store_lib.check_file_spec(temporary, file_spec, (sha256, md5))
    except store_lib.ChecksumError as exc:
      raise DownloadError(f"{url}: download rejected, {exc}") from None
  return sha256, done


def download_model(store, name, base_url=None, progress=True, force=False):
  """Downloads every file of a known model that is missing or fails verification.

  Files with no official URL (import-only) are skipped unless a mirror base is given.

  Args:
    store: soundscope.models.store.files.ModelStore.
    name: a key of configs.model_specs.KNOWN_MODELS.
    base_url: mirror replacing the official host (else $SOUNDSCOPE_DOWNLOAD_BASE).
    progress: progress bars on stderr.
    force: download even files that are present and verified.

  Returns:
    The model directory.

  Raises:
    DownloadError naming every file that failed (the others are kept).
  """
  if name not in S.KNOWN_MODELS:
    raise DownloadError(f"unknown model {name!r}; known: {', '.join(S.KNOWN_MODELS)}")
  spec = S.KNOWN_MODELS[name]
  mirror = base_url or os.environ.get(S.DOWNLOAD_BASE_ENV)
  check_base_url(mirror)
  failures = []
  for file_spec in spec.files:
    destination = store.path(name) / file_spec.name
    if not force and destination.is_file():
      try:
        sha256, _ = store_lib.check_file_spec(destination, file_spec)
        store.record_known_file(spec, file_spec.name, sha256, destination.stat().st_size)
        continue
      except store_lib.ChecksumError:
        pass  # Present but wrong: download again (the rename replaces it).
    if file_spec.url is None and not mirror:
      if progress:
        print(f"{file_spec.name}: no official download URL; import it with "
              f"`soundscope models import PATH`", file=sys.stderr)
      continue
    try:
      sha256, size = download_file(resolve_url(name, file_spec, base_url), destination,
                                   file_spec, progress)
      store.record_known_file(spec, file_spec.name, sha256, size)
    except DownloadError as exc:
      if not file_spec.required and file_spec.url is None:
        continue  # A mirror without the optional import-only file is fine.
      failures.append(str(exc))
  if failures:
    raise DownloadError("; ".join(failures))
  return store.path(name)
