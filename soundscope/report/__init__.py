"""`soundscope report`: an events table -> one self-contained HTML page of the archive.

  inputs.py     events Parquet files or folders -> one pyarrow.Table (EVENTS_SCHEMA)
  aggregate.py  table -> Summary: per-label figures, activity counts, top events
  render.py     Summary -> HTML (template.html, report.css, report.js, uPlot inlined, soundscope/util/vendor)

Presentation, beside the command line: imports configs, transforms and util only.
"""
