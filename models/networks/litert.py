"""LiteRT interpreters (ai-edge-litert): the runtime of YAMNet and VGGish, without TensorFlow.

  make_interpreter(model_path, num_threads)   an Interpreter on XNNPACK, tensors allocated
  resize_input(interpreter, index, shape)     another input shape (a model with a free batch)

LiteRT writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on the
process's stderr when an interpreter is made; that line is kept off it, and
anything else native code writes meanwhile (a real error) is passed on.
"""

import contextlib
import os
import threading

from soundscope.transforms import native_stderr

# File descriptor 2 is process-wide: one interpreter construction at a time hides it.
_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_native_stderr():
  """Hides LiteRT's INFO lines; passes anything else written on fd 2 meanwhile to stderr."""
  try:
    with native_stderr.captured() as text:
      yield
  finally:
    for line in "".join(text).splitlines():
      if line.strip() and not line.startswith("INFO:"):
        os.write(2, (line + "\n").encode())


def make_interpreter(model_path, num_threads=1):
  """A LiteRT interpreter (XNNPACK on CPU) for a .tflite file, tensors allocated.

  Args:
    model_path: the .tflite file (memory-mapped: processes share its pages).
    num_threads: the interpreter's threads for one invoke.
  """
  from ai_edge_litert.interpreter import Interpreter  # ~0.2 s; only when a model is used.
  with _STDERR_LOCK, _quiet_native_stderr():
    interpreter = Interpreter(model_path=str(model_path), num_threads=int(num_threads))
    interpreter.allocate_tensors()
  return interpreter


def resize_input(interpreter, index, shape):
  """Gives input tensor `index` the shape `shape` and reallocates the interpreter's tensors."""
  with _STDERR_LOCK, _quiet_native_stderr():
    interpreter.resize_tensor_input(index, list(shape))
    interpreter.allocate_tensors()
