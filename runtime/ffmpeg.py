"""A network stream (RTSP, HTTP, Icecast, ...) decoded by ffmpeg, as a live source.

ffmpeg (Debian's /usr/bin/ffmpeg, or $SOUNDSCOPE_FFMPEG) runs in a subprocess
and writes 16-bit little-endian PCM at the rate and channels asked for to a
pipe; runtime/pcm.PipeReader turns it into blocks.  The first connection
must deliver audio within configs.monitoring.STREAM_OPEN_SECONDS, or opening
fails with one line naming the stream and ffmpeg's reason.  Afterwards a
stream that stalls (no audio for STREAM_STALL_SECONDS) or ends is reconnected
with backoff (RECONNECT_INITIAL_SECONDS doubling to RECONNECT_MAX_SECONDS),
forever, with one console line per change of state (stalled / ended / back).
A URL's user:password@ reaches ffmpeg (RTSP cameras need it) but is masked
wherever soundscope shows the URL, ffmpeg's messages included.
The frame count goes on across reconnections; the capture keeps window times
on the wall clock (runtime/capture.py), so an outage shows as a jump of the
clock, said once.
"""

import collections
import logging
import os
import queue
import subprocess
import threading
import time

from soundscope.configs import monitoring as M
from soundscope.runtime import credentials
from soundscope.runtime import pcm

log = logging.getLogger(__name__)


def ffmpeg_path():
  return os.environ.get("SOUNDSCOPE_FFMPEG") or M.FFMPEG


def shown_url(url):
  """The URL as messages, the page and every window's `source` show it: user:password@
  masked (runtime/credentials.public_url); the password is remembered, so that the
  logs redact it wherever it appears (ffmpeg's own messages name the URL)."""
  _, _, password = credentials.split_url(url)
  if password:
    credentials.remember(password)
  return credentials.public_url(url)


def command(url, rate, channels):
  """ffmpeg's argument list: the stream in, s16le PCM at rate Hz and channels out on stdout."""
  return [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error",
          "-probesize", str(M.FFMPEG_PROBE_BYTES), "-i", url,
          "-vn", "-f", "s16le", "-acodec", "pcm_s16le", "-ac", str(channels), "-ar", str(rate),
          "pipe:1"]


class StreamSource:
  """A live network stream through ffmpeg, reconnected when it stalls or ends.

  Args:
    url: what ffmpeg opens.
    shown: the name in messages (the --input as given, credentials removed).
    rate, channels: what ffmpeg decodes to (16 kHz mono needs no resampling).
    duration_seconds: stop after this much audio (None: until close()).
    stall_seconds, open_seconds, backoff_initial, backoff_max: seconds (configs.monitoring).
  """
  device = None
  live = True
  wall_clock = True

  def __init__(self, url, shown=None, rate=M.NETWORK_RATE_HZ, channels=1,
               duration_seconds=None, stall_seconds=M.STREAM_STALL_SECONDS,
               open_seconds=M.STREAM_OPEN_SECONDS, backoff_initial=M.RECONNECT_INITIAL_SECONDS,
               backoff_max=M.RECONNECT_MAX_SECONDS):
    self.url = url
    self.name = shown_url(shown or url)
    self.rate, self.channels = int(rate), int(channels)
    self.duration_seconds = duration_seconds
    self.stall_seconds, self.open_seconds = stall_seconds, open_seconds
    self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
    self.overflows = 0
    self.reconnections = 0
    self.state = "closed"          # connecting, playing, stalled, ended, closed
    self.last_error = None
    self._queue = queue.Queue(maxsize=M.STREAM_QUEUE_BLOCKS)
    self._process = None
    self._reader = None
    self._stderr = collections.deque(maxlen=5)
    self._frames = 0
    self._limit = None
    self._stop = threading.Event()
    self._thread = None

  # -- the caller's side ------------------------------------------------------

  def open(self):
    """Starts ffmpeg and waits for the first audio.

    Raises:
      pcm.SourceError: ffmpeg is missing, or no audio came within open_seconds.
    """
    if not os.path.exists(ffmpeg_path()):
      raise pcm.SourceError(f"--input {self.name}: ffmpeg is needed to read streams and "
                                f"{ffmpeg_path()} is absent (apt install ffmpeg)")
    self._limit = pcm.limit_frames(self.duration_seconds, self.rate)
    self._start()
    deadline = time.monotonic() + self.open_seconds
    while self._reader.queue.empty() and time.monotonic() < deadline:
      if self._process.poll() is not None and self._reader.ended.is_set():
        break
      time.sleep(0.02)
    if self._reader.queue.empty() or self._reader.queue.queue[0] is None:
      reason = self._reason() or f"no audio within {self.open_seconds:g} s"
      self._kill()
      raise pcm.SourceError(f"--input {self.name}: cannot read the stream: {reason}")
    self.state = "playing"
    log.info("input %s: playing (%d Hz, %d channel(s))", self.name, self.rate, self.channels)
    self._thread = threading.Thread(target=self._run, name="soundscope-stream", daemon=True)
    self._thread.start()
    return self

  def read(self, timeout):
    item = self._queue.get(timeout=timeout)
    return item

  def close(self):
    self._stop.set()
    self._kill()
    if self._thread is not None:
      self._thread.join(timeout=5)
    self.state = "closed"
    self._put_end()

  def status(self):
    return {"input": self.name, "state": self.state, "reconnections": self.reconnections,
            "last_error": self.last_error}

  # -- ffmpeg -----------------------------------------------------------------

  def _start(self):
    self._stderr.clear()
    self._process = subprocess.Popen(command(self.url, self.rate, self.channels),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
    threading.Thread(target=self._keep_stderr, args=(self._process.stderr,),
                     name="soundscope-ffmpeg-stderr", daemon=True).start()
    self._reader = pcm.PipeReader(self._process.stdout, self.channels, "<i2",
                                      M.STREAM_READ_BYTES * self.channels, first_frame=self._frames)

  def _keep_stderr(self, stream):
    for line in stream:
      text = line.decode("utf-8", "replace").strip()
      if text:
        self._stderr.append(text)

  def _reason(self):
    if self._process is not None:
      try:
        self._process.wait(timeout=0.5)
      except subprocess.TimeoutExpired:
        pass
    if not self._stderr:
      return None
    return credentials.redact(self._stderr[-1].replace(self.url, self.name))

  def _kill(self):
    process, self._process = self._process, None
    if process is not None and process.poll() is None:
      process.kill()
    if process is not None:
      process.wait()
      for stream in (process.stdout, process.stderr):
        try:
          stream.close()
        except OSError:
          pass

  # -- the source's thread: pass blocks on, reconnect -------------------------

  def _run(self):
    backoff = self.backoff_initial
    outage_since = None
    while not self._stop.is_set():
      try:
        item = self._reader.queue.get(timeout=min(0.5, self.stall_seconds))
      except queue.Empty:
        item = False
      if item:
        if outage_since is not None:
          log.warning("input %s: back after %.1f s (reconnection %d)", self.name,
                      time.monotonic() - outage_since, self.reconnections)
          outage_since, backoff, self.state = None, self.backoff_initial, "playing"
        if not self._pass_on(item):
          return
        continue
      stalled = item is False and time.monotonic() - self._reader.last_data > self.stall_seconds
      if item is None or stalled:
        if self._stop.is_set():
          return
        if outage_since is None:
          outage_since = time.monotonic()
          self.state = "stalled" if stalled else "ended"
          reason = (f"no audio for {self.stall_seconds:g} s" if stalled
                    else f"the stream ended ({self._reason() or 'ffmpeg exited'})")
          self.last_error = reason
          log.warning("input %s: %s; reconnecting with backoff (said again when it is back)",
                      self.name, reason)
        self._kill()
        if self._stop.wait(backoff):
          return
        backoff = min(self.backoff_max, backoff * 2)
        self.reconnections += 1
        self._start()

  def _pass_on(self, item):
    block, arrived, _ = item
    first = self._frames
    if self._limit is not None:
      block = block[:max(0, self._limit - first)]
    self._frames += len(block)
    if len(block):
      self._put((block, arrived, first))
    if self._limit is not None and self._frames >= self._limit:
      self._kill()
      self._put_end()
      return False
    return True

  def _put(self, item):
    try:
      self._queue.put_nowait(item)
    except queue.Full:    # The capture thread stopped taking blocks: count, as PortAudio does.
      self.overflows += 1

  def _put_end(self):
    pcm.put_last(self._queue, None)
