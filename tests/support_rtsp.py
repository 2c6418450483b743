"""A real RTSP server (GStreamer's gst-rtsp-server, tests/rtsp_server.py) on a free loopback
port for a `with` block: rtsp_camera(wav, user, password) yields the stream's URL
(credentials included) and kills the server at the block's end."""

import contextlib
import os
import pathlib
import subprocess

import pytest

import support_runtime as sr

# Debian's Python: the one with python3-gi and gir1.2-gst-rtsp-server-1.0 (.ci/install).
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = pathlib.Path(__file__).with_name("rtsp_server.py")


def skip_without_server():
  """Skips (saying what to install) unless Debian's Python has the RTSP server's bindings."""
  probe = subprocess.run(
      [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
       "from gi.repository import GstRtspServer"], capture_output=True, text=True) \
      if os.path.exists(SYSTEM_PYTHON) else None
  if probe is None or probe.returncode != 0:
    pytest.skip("GStreamer's RTSP server is absent (apt install python3-gi "
                "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good)")


@contextlib.contextmanager
def rtsp_camera(wav, user=None, password=None):
  """Serves `wav` at real time as rtsp://[user:password@]127.0.0.1:PORT/live."""
  skip_without_server()
  credentials = ["--user", user, "--password", password] if user else []
  # Its stderr goes to a file: a pipe nobody reads could fill and stall it.
  log = open(pathlib.Path(wav).with_suffix(".rtsp.log"), "w+")
  server = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(wav), *credentials],
                            stdout=subprocess.PIPE, stderr=log, text=True)
  try:
    reader = sr.LineReader(server.stdout)
    port = sr.wait_for(lambda: reader.lines[:1] or server.poll() is not None, timeout=20,
                       what="the RTSP server's port")
    if server.poll() is not None:
      log.seek(0)
      pytest.fail(f"the RTSP server ended: {log.read()[-2000:]}")
    login = f"{user}:{password}@" if user else ""
    yield f"rtsp://{login}127.0.0.1:{int(port[0])}/live"
  finally:
    server.kill()
    server.wait()
    log.close()
