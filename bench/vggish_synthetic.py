"""A VGGish checkpoint with deterministic weights, in the official format.

The official vggish_model.ckpt (288 MB) cannot be bundled; tests and
benchmarks write this stand-in instead.  The weights follow the recipe in the
shared assets' README (a hash of the variable name seeds an integer mixer), so
the reference code's outputs for these weights (golden/vggish_golden.npz) can
be reproduced exactly.  It is written with tf.compat.v1.train.Saver in the V1
single-file format, like the official checkpoint (288,567,887 bytes).
"""

import numpy as np

from soundscope.models.networks import vggish


def deterministic_weights(name, shape):
  """float32 array of `shape` for the variable `name` (see the module docstring)."""
  n = int(np.prod(shape))
  h = sum(ord(c) * (k + 1) for k, c in enumerate(name))
  fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
  scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1
  mask = np.uint64(0xFFFFFFFF)
  x = (np.arange(n, dtype=np.uint64) + np.uint64((h * 0x9E3779B9) & 0xFFFFFFFFFFFFFFFF)) & mask
  x ^= x >> np.uint64(16)
  x = (x * np.uint64(0x7FEB352D)) & mask
  x ^= x >> np.uint64(15)
  x = (x * np.uint64(0x846CA68B)) & mask
  x ^= x >> np.uint64(16)
  u = x.astype(np.float64) / 2**32 - 0.5
  return (u * scale * np.sqrt(12.0)).astype(np.float32).reshape(shape)


def variable_shapes():
  """{checkpoint variable name: shape} for the official VGGish layout."""
  model = vggish.create_model()
  shapes = {}
  for name, scope, *_ in vggish.CONV_LAYERS + vggish.DENSE_LAYERS:
    layer = model.get_layer(name)
    shapes[f"{scope}/weights"] = tuple(layer.kernel.shape)
    shapes[f"{scope}/biases"] = tuple(layer.bias.shape)
  return shapes


def write_checkpoint(path, shapes=None):
  """Writes a V1 single-file checkpoint of deterministic weights to `path`.

  Args:
    path: output file (e.g. .../vggish_model.ckpt).
    shapes: {name: shape}; defaults to variable_shapes().

  Returns:
    path, as a string.
  """
  import tensorflow as tf
  shapes = shapes or variable_shapes()
  graph = tf.Graph()
  with graph.as_default():
    variables = [tf.compat.v1.Variable(deterministic_weights(name, shape), name=name)
                 for name, shape in shapes.items()]
    saver = tf.compat.v1.train.Saver(variables,
                                     write_version=tf.compat.v1.train.SaverDef.V1)
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")   # The V1 format's deprecation banner: V1 is what is wanted.
    try:
      with tf.compat.v1.Session(graph=graph) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        saver.save(session, str(path), write_meta_graph=False)
    finally:
      logger.setLevel(level)
  return str(path)


def cached_checkpoint(cache_root=None, announce=None):
  """Path of a checkpoint of these weights, written once per recipe into a cache outside the work tree.

  The folder is named by a digest of this module's source (the recipe) and the
  variable shapes, so a changed recipe gets a new checkpoint and never a stale
  one.  Written to a temporary name and renamed: an interrupted write leaves
  no half file under the final name.

  Args:
    cache_root: folder for the cache; default $XDG_CACHE_HOME/soundscope (else
      ~/.cache/soundscope).
    announce: callable(path), called before the checkpoint is written (not when cached).

  Returns:
    str, .../vggish-synthetic/<digest>/vggish_model.ckpt.
  """
  import hashlib
  import inspect
  import json
  import os
  import pathlib
  import sys
  shapes = variable_shapes()
  recipe = inspect.getsource(sys.modules[__name__]) + json.dumps(sorted(shapes.items()))
  digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
  if cache_root is None:
    cache_root = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
    cache_root = cache_root / "soundscope"
  path = pathlib.Path(cache_root) / "vggish-synthetic" / digest / "vggish_model.ckpt"
  if path.exists():
    return str(path)
  import fcntl
  path.parent.mkdir(parents=True, exist_ok=True)
  # One writer at a time (parallel test workers): the others wait, then find it written.
  with open(path.parent / ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not path.exists():
      if announce is not None:
        announce(path)
      partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
      write_checkpoint(partial, shapes)
      os.replace(partial, path)
  return str(path)
