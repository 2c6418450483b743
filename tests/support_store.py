"""Helpers for the model store, YAMNet and classify tests.

* `yamnet_store(root)`: a model store in a temporary directory with the real
  YAMNet files imported from ../shared/assets (skips when they are absent).
* `MirrorServer`: a real HTTP server on 127.0.0.1 laid out like a download
  mirror (`/<model>/<file>`), serving the real asset files; it can also serve a
  tampered copy, cut a transfer short, or answer 404 for chosen paths.
"""

import contextlib
import functools
import http.server
import os
import pathlib
import shutil
import threading

from conftest import asset

YAMNET_FILES = ("yamnet_classification.tflite", "yamnet_class_map.csv", "yamnet_embedding.tflite")


def yamnet_store(root):
  """A ModelStore at `root` holding the real YAMNet files (skips if the assets are absent)."""
  from soundscope.models.store import files as store
  model_store = store.ModelStore(root)
  for name in YAMNET_FILES:
    model_store.import_file(asset(f"yamnet/{name}"))
  return model_store


def mirror_tree(root):
  """Builds `<root>/<model>/<file>` with symlinks to the real assets; returns root."""
  root = pathlib.Path(root)
  for model, names in (("yamnet", YAMNET_FILES), ("vggish", ("vggish_pca_params.npz",))):
    (root / model).mkdir(parents=True, exist_ok=True)
    for name in names:
      os.symlink(asset(f"{model}/{name}"), root / model / name)
  return root


def tamper(path):
  """Replaces a symlinked mirror file with a copy that has one byte changed."""
  path = pathlib.Path(path)
  data = bytearray(path.read_bytes())
  data[len(data) // 2] ^= 0xFF
  path.unlink()
  path.write_bytes(bytes(data))


class _Handler(http.server.SimpleHTTPRequestHandler):
  """Serves files; paths in server.truncate get their full Content-Length but half the body."""

  def log_message(self, *args):  # Keep test output quiet.
    pass

  def do_GET(self):
    self.server.requests.append(self.path)
    if self.path in self.server.truncate:
      body = (pathlib.Path(self.directory) / self.path.lstrip("/")).read_bytes()
      self.send_response(200)
      self.send_header("Content-Type", "application/octet-stream")
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body[:len(body) // 2])
      self.wfile.flush()
      self.close_connection = True
      return
    super().do_GET()


@contextlib.contextmanager
def mirror_server(directory, truncate=()):
  """Runs a ThreadingHTTPServer on 127.0.0.1 serving `directory`; yields (base_url, server)."""
  handler = functools.partial(_Handler, directory=str(directory))
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  server.requests = []
  server.truncate = set(truncate)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}", server
  finally:
    server.shutdown()
    server.server_close()
    thread.join()


def leftovers(directory):
  """Temporary '.part' files left in a directory (there must be none)."""
  directory = pathlib.Path(directory)
  return sorted(p.name for p in directory.glob(".*.part")) if directory.exists() else []


def copy_asset(relative, destination):
  """Copies an asset to a temporary path for a test that needs to modify or rename it."""
  shutil.copyfile(asset(relative), destination)
  return pathlib.Path(destination)
