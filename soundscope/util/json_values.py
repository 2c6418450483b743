"""Values as JSON can hold them: NaN and infinities (json.dumps writes a bare `NaN`, which
is not JSON) become null, numpy scalars Python numbers.

  jsonable(value)   the same value, recursively through dicts, lists and tuples
"""

import math

import numpy as np


def jsonable(value):
  """`value` with every NaN or infinite float replaced by None (JSON null), recursively;
  numpy scalars become Python numbers."""
  if isinstance(value, dict):
    return {key: jsonable(item) for key, item in value.items()}
  if isinstance(value, (list, tuple)):
    return [jsonable(item) for item in value]
  if isinstance(value, (float, np.floating)):
    return float(value) if math.isfinite(value) else None
  if isinstance(value, np.integer):
    return int(value)
  return value
