"""The vendored front-end files (vendor/, README.md there: versions and sha256), one copy
for the pages that use them: `soundscope report` inlines them, `soundscope serve`
serves them at /vendor/<name>."""

import pathlib

VENDOR_DIR = pathlib.Path(__file__).resolve().parent / "vendor"
UPLOT_SCRIPT = "uPlot.iife.min.js"
UPLOT_STYLE = "uPlot.min.css"


def path(name):
  """pathlib.Path of the vendored file `name` (e.g. UPLOT_SCRIPT)."""
  return VENDOR_DIR / name
