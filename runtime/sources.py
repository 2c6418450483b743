"""A PortAudio input device as a source of 16-bit blocks (runtime/capture.py drains it).

PortAudio calls `PyAudioSource._on_block` on its own thread for every block;
the block goes straight into a queue, so the callback never waits.
"""

import logging
import queue
import time

import numpy as np

from soundscope.configs import runtime as S
from soundscope.runtime.devices import (CaptureError, list_devices, load_pyaudio,
                                        quiet_portaudio, select_device)

log = logging.getLogger(__name__)

_END = object()


class PyAudioSource:
  """16-bit blocks from a PortAudio input device.

  Args:
    device: None, an index or a name (see select_device).
    rate: sample rate in Hz; None for the device's default.
    channels: channels to capture (1 lets the host mix down).
    block_seconds: length of one PortAudio block, seconds.
    duration_seconds: stop after this much audio (None: until close()).
  """
  live = True          # Audio that cannot wait (runtime/capture.py).
  wall_clock = True    # Window times kept on the wall clock.

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
    pyaudio = self._pyaudio = load_pyaudio()
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
