"""VGGish as a LiteRT flatbuffer: converted once from its checkpoint, then run without TensorFlow.

The network is models/networks/vggish.py's, with the checkpoint's weights,
converted by TensorFlow's TFLite converter to float32 (no quantization) with a
free batch dimension: float32 [batch, 96, 64] in, float32 [batch, 128] out.
The conversion needs TensorFlow, ~15 s (~10 s once the checkpoint is loaded) and
~3.5 GB of memory, once per checkpoint; the converted file (288 MB) is kept in the converted-models folder
(configs/model_specs.py: $SOUNDSCOPE_CONVERTED_DIR, else
~/.cache/soundscope/converted; where that cannot be written, a folder of the user's in
the temporary directory), named by the checkpoint's files (real path,
size, modification time) and the recipe's version, so a replaced checkpoint
is converted anew and its old conversion removed.  Processes that want the same
conversion at once wait for the first (a lock file), and a file appears whole
or not at all (soundscope/util/atomic.py).

Running it takes LiteRT (~0.2 s to import) instead of TensorFlow (~3 s): `embed`
of 400 clips peaks at 971 MiB against 1,262-1,353 MiB with TensorFlow
(bench/bench_pipelines.py).  Its embeddings are as close to exact as TensorFlow's:
within the float32 rounding bound of a float64 evaluation of the same weights
(tests/test_transforms_golden.py: 6.9e-5 against a bound of 2.6e-4 on the golden
cases; TensorFlow 2.9e-5), within 2.8e-6 of the largest output of the reference's
own embeddings, and the same release-format bytes on the golden cases.

  VggishEmbedder(checkpoint_path[, batch_size, num_threads])
                                                   .embed(float32 [n, 96, 64]) -> [n, 128]
  converted(checkpoint_path[, folder, announce])   path of the converted file
  fallback_dir()                                   where it goes if the folder is read-only
  convert(checkpoint_path[, loaded])               the flatbuffer's bytes (TensorFlow)
"""

import contextlib
import fcntl
import glob
import hashlib
import io
import json
import os
import pathlib
import tempfile
import threading

import numpy as np

from soundscope.configs import model_specs as S
from soundscope.configs import params as P
from soundscope.models.networks import fixed_calls, litert
from soundscope.util import atomic

SUFFIX = ".tflite"


class VggishEmbedder:
  """Batched VGGish inference on the checkpoint's LiteRT conversion.

  embed() runs batches of exactly batch_size examples (the last one padded with
  zero examples), so any number of examples costs ceil(n / batch_size) invokes,
  and an example's embedding does not depend on the examples embedded with it: a
  product's rounding depends on its shape (in TensorFlow, 1 to 32 examples per
  call gave embeddings up to 1.4e-5 apart), while in calls of one shape an
  example gives the same bits at every position and beside any others.  So
  `embed`, `classify` with a head and the live loop give a clip the same bytes
  whatever the batching of its examples (the same batch_size).  One invoke at a
  time (a lock): threads may share an embedder.

  Args:
    checkpoint_path: vggish_model.ckpt (converted on first use: converted()).
    batch_size: examples per invoke.
    num_threads: LiteRT threads per invoke; 0: this process's cores.
    announce: optional callable(message) told before a conversion starts.
  """

  def __init__(self, checkpoint_path, batch_size=P.VGGISH_BATCH_SIZE, num_threads=0,
               announce=None):
    self.batch_size = int(batch_size)
    self.model_path = converted(checkpoint_path, announce=announce)
    threads = int(num_threads) or len(os.sched_getaffinity(0))
    self._interpreter = litert.make_interpreter(self.model_path, threads)
    self._input = self._interpreter.get_input_details()[0]["index"]
    self._output = self._interpreter.get_output_details()[0]["index"]
    self._rows = None        # The input's batch size now.
    self._lock = threading.Lock()

  def embed(self, examples):
    """float32 [n, 96, 64] examples -> float32 [n, 128] raw embeddings (fc2 pre-activation)."""
    examples = np.asarray(examples, np.float32)
    if examples.ndim != 3 or examples.shape[1:] != (P.NUM_FRAMES, P.NUM_BANDS):
      raise ValueError(f"expected examples [n, {P.NUM_FRAMES}, {P.NUM_BANDS}], "
                       f"got {examples.shape}")
    if len(examples) == 0:
      return np.zeros((0, P.EMBEDDING_SIZE), np.float32)
    with self._lock:
      if self._rows != self.batch_size:
        litert.resize_input(self._interpreter, self._input,
                            (self.batch_size, P.NUM_FRAMES, P.NUM_BANDS))
        self._rows = self.batch_size
      return fixed_calls.run(self._invoke, self.batch_size, (examples,), (0,))

  def _invoke(self, chunk):
    self._interpreter.set_tensor(self._input, np.ascontiguousarray(chunk))
    self._interpreter.invoke()
    return self._interpreter.get_tensor(self._output).copy()


def converted_dir():
  """The converted-models folder: $SOUNDSCOPE_CONVERTED_DIR, else configs' default."""
  return pathlib.Path(os.path.expanduser(
      os.environ.get(S.CONVERTED_DIR_ENV) or S.DEFAULT_CONVERTED_DIR))


def checkpoint_files(checkpoint_path):
  """The files a checkpoint is read from: a V1 file, or a V2 prefix's .index and .data-*."""
  path = pathlib.Path(checkpoint_path)
  if path.is_file():
    return [path]
  index = path.with_name(path.name + ".index")
  if not index.is_file():
    raise FileNotFoundError(f"{checkpoint_path}: no such checkpoint")
  return [index] + sorted(path.parent.glob(glob.escape(path.name) + ".data-*"))


def source_identity(checkpoint_path):
  """[(real path, size, mtime_ns)] of the checkpoint's files: what a conversion is named by."""
  identity = []
  for file in checkpoint_files(checkpoint_path):
    status = file.stat()
    identity.append((os.path.realpath(file), status.st_size, status.st_mtime_ns))
  return identity


def converted(checkpoint_path, folder=None, announce=None):
  """The LiteRT file of a VGGish checkpoint, converting it first when there is none.

  Args:
    checkpoint_path: vggish_model.ckpt (V1 file) or a V2 checkpoint prefix.
    folder: converted-models folder (None: converted_dir(), or where that cannot be
      written, e.g. a read-only home in a container, fallback_dir()).
    announce: optional callable(message) told when a conversion starts (once the
      checkpoint has loaded).

  Returns:
    pathlib.Path of the .tflite file.

  Raises:
    FileNotFoundError: no checkpoint there.  ValueError: not a VGGish checkpoint.
    OSError: no folder can be written.
  """
  identity = source_identity(checkpoint_path)
  key = json.dumps([S.VGGISH_LITERT_RECIPE, identity])
  name = f"vggish-{hashlib.sha256(key.encode()).hexdigest()[:20]}{SUFFIX}"
  folders = [pathlib.Path(folder)] if folder is not None else [converted_dir(), fallback_dir()]
  for candidate in folders:
    if (candidate / name).is_file():
      return candidate / name
  for number, candidate in enumerate(folders):
    try:
      candidate.mkdir(parents=True, exist_ok=True)
      lock = open(candidate / f".{name}.lock", "a")
    except OSError:
      if number + 1 == len(folders):
        raise
      continue
    with lock:
      return _convert_locked(checkpoint_path, identity, candidate / name, lock, announce)


def fallback_dir():
  """Where conversions go when the converted-models folder cannot be written: a folder of
  this user's in the temporary directory."""
  return pathlib.Path(tempfile.gettempdir()) / f"soundscope-converted-{os.getuid()}"


def _convert_locked(checkpoint_path, identity, target, lock, announce):
  """Converts into `target` under the lock file `lock` (open), unless another process did."""
  fcntl.flock(lock, fcntl.LOCK_EX)
  try:
    if target.is_file():     # Another process converted it while this one waited.
      return target
    data = convert(checkpoint_path, announce and (lambda: announce(
        f"converting the VGGish checkpoint {checkpoint_path} for LiteRT, once (~10 s, "
        f"~3.5 GB of memory), into {target.parent}")))
    atomic.write_bytes(target, data)
    _write_sidecar(target, checkpoint_path, identity)
    _remove_replaced(target.parent, target, identity)
    return target
  finally:
    fcntl.flock(lock, fcntl.LOCK_UN)


def _write_sidecar(target, checkpoint_path, identity):
  """<target>.json: what the file was converted from (for people, and _remove_replaced)."""
  sidecar = target.with_name(target.name + ".json")
  atomic.write_json(sidecar, {"checkpoint": str(checkpoint_path), "files": identity,
                              "recipe": S.VGGISH_LITERT_RECIPE})


def _remove_replaced(folder, target, identity):
  """Removes conversions of the same checkpoint files made before they changed."""
  paths = {path for path, _, _ in identity}
  for sidecar in folder.glob(f"vggish-*{SUFFIX}.json"):
    old = sidecar.with_name(sidecar.name[:-len(".json")])
    if old == target:
      continue
    try:
      files = json.loads(sidecar.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
      continue
    if {path for path, _, _ in files} == paths:
      old.unlink(missing_ok=True)
      sidecar.unlink(missing_ok=True)


def convert(checkpoint_path, loaded=None):
  """bytes of the LiteRT flatbuffer of vggish.load_model(checkpoint_path).

  Imports TensorFlow.  The converter's own printing (the exported signature) is kept off
  stdout; its warnings follow TensorFlow's log level.

  Args:
    loaded: optional callable() called once the checkpoint has loaded, before converting.
  """
  import tensorflow as tf
  from soundscope.models.networks import vggish
  model = vggish.load_model(checkpoint_path)
  if loaded is not None:
    loaded()
  with contextlib.redirect_stdout(io.StringIO()):
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()
