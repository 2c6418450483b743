"""Small helpers every layer may import (the lowest layer: they import none of ours).

  atomic        write bytes, text or JSON, or copy a file, so the target appears whole or not at all
  first_import  a module's first import run inside a context (quiet native imports)
  heap          glibc's malloc keeps freed memory for the next file
  json_values   NaN and infinities as JSON null, numpy scalars as numbers
  prefetch      an iterable computed ahead in a thread
  vendored      the vendored front-end files (uPlot) the report and the live page share
"""
