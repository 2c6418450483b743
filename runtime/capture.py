"""Microphone capture through PortAudio (PyAudio) that never pauses.

PortAudio calls `PyAudioSource._on_block` on its own thread for every block;
the block goes straight into a queue.  `Capture` runs one more thread that
drains that queue into a WindowBuffer (runtime/windows.py) and hands a window to
the classifier whenever the classifier asks for one: classifying never blocks
the capture, so no audio is lost between windows.  If the machine falls behind,
the losses are counted, never hidden: PortAudio's input overflows, blocks our
thread could not take, and audio dropped because a window passed max-time.
"""

import contextlib
import dataclasses
import datetime
import logging
import queue
import threading
import time

import numpy as np

from soundscope.transforms import native_stderr
from soundscope.configs import runtime as S
from soundscope.runtime import windows

log = logging.getLogger(__name__)

_END = object()


class CaptureError(Exception):
  """The microphone could not be opened or read."""


class NoInputDeviceError(CaptureError):
  """No (matching) input device; the message lists the devices found."""


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
  """One PortAudio device: index, name, max_input_channels, default_rate (Hz), host_api."""
  index: int
  name: str
  max_input_channels: int
  max_output_channels: int
  default_rate: float
  host_api: str


def _pyaudio():
  try:
    import pyaudio  # Imported here: only capture needs PortAudio (extra "live").
  except ImportError as exc:
    raise CaptureError("PyAudio is not installed: pip install 'soundscope[live]' "
                       "(Debian needs portaudio19-dev to build it)") from exc
  return pyaudio


@contextlib.contextmanager
def quiet_portaudio():
  """Hides what PortAudio's probing writes to file descriptor 2.

  Opening PortAudio makes ALSA and JACK try every device they know and print
  a line for each one that is absent ("ALSA lib ... Unknown PCM", "jack server
  is not running"): normal on any machine, alarming to read.  The text is kept
  in the debug log (soundscope -vv shows it).
  """
  try:
    with native_stderr.captured() as text:
      yield
  finally:
    if "".join(text).strip():
      log.debug("PortAudio said:\n%s", "".join(text).strip())


def list_devices(pa):
  """All PortAudio devices as DeviceInfo, in index order."""
  devices = []
  for index in range(pa.get_device_count()):
    info = pa.get_device_info_by_index(index)
    host = pa.get_host_api_info_by_index(info["hostApi"])["name"]
    devices.append(DeviceInfo(index, info["name"], int(info["maxInputChannels"]),
                              int(info["maxOutputChannels"]),
                              float(info["defaultSampleRate"]), host))
  return devices


def format_devices(devices):
  """One line per device: index, input/output channels, default rate, name."""
  if not devices:
    return "  (PortAudio found no audio devices at all)"
  return "\n".join(
      f"  [{d.index}] {d.name!r}: {d.max_input_channels} in, {d.max_output_channels} out, "
      f"{d.default_rate:.0f} Hz ({d.host_api})" for d in devices)


def select_device(devices, spec=None, default_index=None):
  """Chooses the input device.

  Args:
    devices: list of DeviceInfo.
    spec: None (the default input), an index ("3" or 3), or a name: an exact
      name wins, else a unique case-insensitive substring.
    default_index: PortAudio's default input device index, or None.

  Returns:
    DeviceInfo with at least one input channel.

  Raises:
    NoInputDeviceError: nothing matches; the message lists the devices.
  """
  inputs = [d for d in devices if d.max_input_channels > 0]
  listing = "devices found:\n" + format_devices(devices)
  if not inputs:
    raise NoInputDeviceError(f"no audio input device (microphone) found; {listing}")
  if spec is None or spec == "":
    chosen = [d for d in inputs if d.index == default_index]
    return chosen[0] if chosen else inputs[0]
  text = str(spec).strip()
  if text.lstrip("-").isdigit():
    chosen = [d for d in inputs if d.index == int(text)]
    if not chosen:
      raise NoInputDeviceError(f"device {text} is not an input device; {listing}")
    return chosen[0]
  exact = [d for d in inputs if d.name == text]
  if exact:
    return exact[0]
  partial = [d for d in inputs if text.lower() in d.name.lower()]
  if len(partial) == 1:
    return partial[0]
  if not partial:
    raise NoInputDeviceError(f"no input device named like {text!r}; {listing}")
  raise NoInputDeviceError(
      f"{text!r} matches several input devices ({', '.join(repr(d.name) for d in partial)}); "
      f"give its index; {listing}")


class PyAudioSource:
  """16-bit blocks from a PortAudio input device.

  Args:
    device: None, an index or a name (see select_device).
    rate: sample rate in Hz; None for the device's default.
    channels: channels to capture (1 lets the host mix down).
    block_seconds: length of one PortAudio block, seconds.
    duration_seconds: stop after this much audio (None: until close()).
  """

  def __init__(self, device=None, rate=None, channels=1, block_seconds=S.BLOCK_SECONDS,
               duration_seconds=None):
    self.device_spec = device
    self.requested_rate = rate
    self.channels = int(channels)
    self.block_seconds = block_seconds
    self.duration_seconds = duration_seconds
    self.rate = None
    self.device = None
    self.input_overflows = 0    # PortAudio reported paInputOverflow.
    self.queue_overflows = 0    # Our thread did not take blocks fast enough.
    self._pa = None
    self._pyaudio = None
    self._stream = None
    self._queue = queue.Queue(maxsize=S.MAX_QUEUED_BLOCKS)
    self._frames = 0
    self._limit = None
    self._finished = False

  def open(self):
    """Opens the device and starts the stream.

    Raises:
      NoInputDeviceError, CaptureError.
    """
    pyaudio = self._pyaudio = _pyaudio()
    with quiet_portaudio():
      self._pa = pyaudio.PyAudio()
    try:
      devices = list_devices(self._pa)
      try:
        default_index = self._pa.get_default_input_device_info()["index"]
      except (IOError, OSError):
        default_index = None
      self.device = select_device(devices, self.device_spec, default_index)
      self.rate = int(self.requested_rate or self.device.default_rate)
      if self.duration_seconds is not None:
        self._limit = int(round(self.duration_seconds * self.rate))
      block_frames = max(1, int(round(self.block_seconds * self.rate)))
      with quiet_portaudio():
        self._stream = self._pa.open(
            format=pyaudio.paInt16, channels=self.channels, rate=self.rate, input=True,
            input_device_index=self.device.index, frames_per_buffer=block_frames,
            stream_callback=self._on_block)
    except (IOError, OSError, ValueError) as exc:
      self._terminate()
      raise CaptureError(f"cannot open input device {self.device and self.device.name!r} "
                         f"at {self.rate} Hz, {self.channels} channel(s): {exc}") from exc
    except Exception:
      self._terminate()
      raise
    log.info("capturing from [%d] %s at %d Hz", self.device.index, self.device.name, self.rate)
    return self

  def _on_block(self, data, frame_count, time_info, status):
    """PortAudio's callback: queue the block, nothing else (it runs on PortAudio's thread)."""
    pyaudio = self._pyaudio
    if self._finished:
      return None, pyaudio.paComplete
    if status & pyaudio.paInputOverflow:
      self.input_overflows += 1
    block = np.frombuffer(data, dtype="<i2").reshape(-1, self.channels)
    done = False
    if self._limit is not None and self._frames + block.shape[0] >= self._limit:
      block = block[:self._limit - self._frames]
      done = True
    first_frame = self._frames
    self._frames += block.shape[0]
    try:
      self._queue.put_nowait((block, time.monotonic(), first_frame))
    except queue.Full:
      self.queue_overflows += 1
    if done:
      self._finished = True
      self._put_end()
      return None, pyaudio.paComplete
    return None, pyaudio.paContinue

  def _put_end(self):
    while True:
      try:
        self._queue.put_nowait(_END)
        return
      except queue.Full:
        try:
          self._queue.get_nowait()
          self.queue_overflows += 1
        except queue.Empty:
          pass

  @property
  def overflows(self):
    return self.input_overflows + self.queue_overflows

  def read(self, timeout):
    """Next (int16 [m, channels] block, monotonic arrival time, index of its first
    frame in the stream), None at the end, or raises queue.Empty after `timeout`
    seconds without audio.  A block lost on a full queue leaves a gap in the index."""
    try:
      item = self._queue.get(timeout=timeout)
    except queue.Empty:
      if self._stream is not None and not self._finished and not self._stream.is_active():
        raise CaptureError(f"input device {self.device.name!r} stopped delivering audio "
                           f"(unplugged?)") from None
      raise
    return None if item is _END else item

  def close(self):
    """Stops the stream and releases PortAudio; read() then returns None."""
    self._finished = True
    if self._stream is not None:
      try:
        self._stream.stop_stream()
        self._stream.close()
      except (IOError, OSError) as exc:
        log.warning("closing the input stream: %s", exc)
      self._stream = None
    self._terminate()
    self._put_end()

  def _terminate(self):
    if self._pa is not None:
      with quiet_portaudio():
        self._pa.terminate()
      self._pa = None


def describe_devices():
  """The device listing for --list-devices."""
  pyaudio = _pyaudio()
  with quiet_portaudio():
    pa = pyaudio.PyAudio()
  try:
    devices = list_devices(pa)
    try:
      default_index = pa.get_default_input_device_info()["index"]
    except (IOError, OSError):
      default_index = None
  finally:
    with quiet_portaudio():
      pa.terminate()
  lines = ["audio devices (use --device INDEX or --device NAME):", format_devices(devices)]
  if default_index is not None:
    lines.append(f"default input: [{default_index}]")
  elif not any(d.max_input_channels for d in devices):
    lines.append("no input device: nothing to capture from")
  return "\n".join(lines)


@dataclasses.dataclass
class CaptureStats:
  """Counters shown on the page and at exit."""
  windows: int = 0
  captured_seconds: float = 0.0
  overruns: int = 0            # Times a window passed max-time while the classifier was busy.
  dropped_seconds: float = 0.0
  device_overflows: int = 0    # PortAudio overflows + blocks our thread missed.


class Capture:
  """Runs a source on its own thread and cuts windows of min..max seconds.

  The consumer calls next_window() when it is free; the capture thread hands it
  the buffered audio as soon as at least min_seconds is there.  At the start the
  consumer counts as free, so the first window is exactly min_seconds.

  Args:
    source: object with open(), read(timeout), close(), rate, channels, overflows;
      read returns (block, arrival time, first frame index), None at the end.
    min_seconds, max_seconds: window bounds, seconds.
  """

  def __init__(self, source, min_seconds=S.MIN_WINDOW_SECONDS,
               max_seconds=S.MAX_WINDOW_SECONDS):
    if not 0 < min_seconds <= max_seconds:
      raise ValueError(f"need 0 < min-time <= max-time, got {min_seconds} and {max_seconds}")
    self.source = source
    self.min_seconds = min_seconds
    self.max_seconds = max_seconds
    self.stats = CaptureStats()
    self.error = None
    self._cond = threading.Condition()
    self._wanted = True
    self._ready = []
    self._ended = False
    self._stopping = threading.Event()
    self._buffer = None
    self._next_frame = 0     # Index of the frame the next block should start at.
    self._thread = None

  def start(self):
    """Opens the source (errors raise here, in the caller's thread) and starts capturing."""
    self.source.open()
    self._thread = threading.Thread(target=self._run, name="soundscope-capture", daemon=True)
    self._thread.start()
    return self

  def _run(self):
    try:
      while not self._stopping.is_set():
        try:
          item = self.source.read(timeout=0.5)
        except queue.Empty:
          continue
        if item is None:
          self._finish_source()
          return
        self._add(*item)
    except Exception as exc:  # Reported to the consumer, which stops with this error.
      log.exception("capture failed")
      self.error = exc
    finally:
      with self._cond:
        self._ended = True
        self._cond.notify_all()

  def _add(self, block, arrived_at, first_frame):
    if self._buffer is None:
      start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
          seconds=(first_frame + block.shape[0]) / self.source.rate)
      self._buffer = windows.WindowBuffer(self.source.rate, block.shape[1], self.min_seconds,
                                          self.max_seconds, start)
    with self._cond:
      # Blocks the source lost before we read them: the clock moves past them.
      self._buffer.skip(first_frame - self._next_frame)
      self._next_frame = first_frame + block.shape[0]
      self._buffer.add(block, arrived_at)
      self.stats.captured_seconds += block.shape[0] / self.source.rate
      self.stats.overruns = self._buffer.overruns
      self.stats.dropped_seconds = self._buffer.dropped_frames / self.source.rate
      self.stats.device_overflows = self.source.overflows
      if self._wanted and self._buffer.ready():
        self._hand_over(self._buffer.take())

  def _hand_over(self, window):
    self._wanted = False
    self._ready.append(window)
    self.stats.windows += 1
    self._cond.notify_all()

  def _finish_source(self):
    """The source ended (a bounded capture): the remainder is one last window."""
    with self._cond:
      buffer = self._buffer
      if self._stopping.is_set():
        return  # Stopped by the user: a partial window is not worth the wait.
      if buffer is not None and buffer.buffered_frames >= S.MIN_FINAL_WINDOW_SECONDS * buffer.rate:
        self._hand_over(buffer.take())

  def next_window(self, timeout=None):
    """Blocks until a window is ready.

    Returns:
      Window, or None once the capture has ended and every window was taken.

    Raises:
      CaptureError: the capture thread failed.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with self._cond:
      if self._buffer is not None and not self._ready and self._buffer.ready():
        self._hand_over(self._buffer.take())
      while not self._ready:
        self._wanted = True   # Free: the capture thread hands over as soon as min-time is there.
        if self._ended:
          if self.error is not None:
            raise CaptureError(f"capture stopped: {self.error}") from self.error
          return None
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
          raise TimeoutError("no window yet")
        self._cond.wait(wait)
      self._wanted = False    # Busy with this window until the next call.
      return self._ready.pop(0)

  def stop(self):
    """Stops capturing; next_window() then returns what is ready, then None."""
    self._stopping.set()
    self.source.close()
    if self._thread is not None:
      self._thread.join(timeout=5)
    with self._cond:
      self._ended = True
      self._cond.notify_all()
