"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright.

Nothing is downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1); a test that needs
the browser skips with the reason when chromium or Playwright is absent.
"""

import contextlib
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def chromium():
  """Yields a launched Playwright Browser (skips the calling test when unavailable)."""
  if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is absent (Debian package chromium)")
  playwright_api = pytest.importorskip("playwright.sync_api")
  os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
  with playwright_api.sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
      yield browser
    finally:
      browser.close()


class PageWatch:
  """A page whose console errors, page errors and requests are recorded.

  Every request that is not a file:// URL is aborted and kept in `network`.
  """

  def __init__(self, browser, width, height):
    self.context = browser.new_context(viewport={"width": width, "height": height})
    self.errors, self.network, self.requests = [], [], []
    self.context.route("**", self._route)
    self.page = self.context.new_page()
    self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
    self.page.on("pageerror", lambda e: self.errors.append(str(e)))
    self.page.on("request", lambda r: self.requests.append(r.url))

  def _route(self, route):
    if route.request.url.startswith("file://"):
      route.continue_()
    else:
      self.network.append(route.request.url)
      route.abort()

  def close(self):
    self.context.close()
