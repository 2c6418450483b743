"""Small helpers every layer may import (the lowest layer: they import none of ours).

  atomic   write bytes, text or JSON, or copy a file, so the target appears whole or not at all
  vendored the vendored front-end files (uPlot) the report and the live page share
"""
