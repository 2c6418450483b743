"""A real RTSP server for the tests: GStreamer's gst-rtsp-server serving a WAV file.

  /usr/bin/python3 tests/rtsp_server.py FILE.wav [--user NAME --password SECRET]

Run by Debian's own Python, which has GObject introspection (python3-gi) and
the server's bindings (gir1.2-gst-rtsp-server-1.0); soundscope's Python need
not have them.  It serves FILE.wav at rtsp://127.0.0.1:PORT/live as 16-bit
linear PCM over RTP (payload L16, RFC 3551), paced at real time from the start
of the file for every client (a camera's stream, as ffmpeg sees one), asks for
HTTP Basic credentials when given, prints PORT on stdout once it listens, and
runs until killed.  tests/support_rtsp.py starts and stops it.
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ROLE = "viewer"


def media_factory(path, rate):
  """A factory of one pipeline per client: the file's samples as L16 mono at `rate` Hz."""
  factory = GstRtspServer.RTSPMediaFactory()
  factory.set_launch(
      f"( filesrc location=\"{path}\" ! wavparse ! audioconvert ! audioresample ! "
      f"audio/x-raw,format=S16BE,channels=1,rate={rate} ! rtpL16pay name=pay0 pt=96 )")
  factory.set_shared(False)
  return factory


def require_credentials(server, factory, user, password):
  """Basic authentication: only `user` with `password` may open and play the stream."""
  auth = GstRtspServer.RTSPAuth()
  token = GstRtspServer.RTSPToken()
  token.set_string("media.factory.role", ROLE)
  auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
  server.set_auth(auth)
  permissions, _ = Gst.Structure.from_string(
      f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")
  factory.add_role_from_structure(permissions)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("path")
  parser.add_argument("--rate", type=int, default=16000)
  parser.add_argument("--user")
  parser.add_argument("--password")
  args = parser.parse_args()
  Gst.init(None)
  server = GstRtspServer.RTSPServer()
  server.set_address("127.0.0.1")
  server.set_service("0")
  factory = media_factory(args.path, args.rate)
  if args.user:
    require_credentials(server, factory, args.user, args.password)
  server.get_mount_points().add_factory("/live", factory)
  if server.attach(None) == 0:
    sys.exit("rtsp_server: cannot listen on 127.0.0.1")
  print(server.get_bound_port(), flush=True)
  GLib.MainLoop().run()


if __name__ == "__main__":
  main()
