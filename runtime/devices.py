"""Audio input devices through PortAudio (PyAudio): listing them and choosing one.

  list_devices(pa), format_devices(devices)   the devices PortAudio sees
  select_device(devices, spec, default)       --device N|NAME -> DeviceInfo
  describe_devices()                          the --list-devices listing
  quiet_portaudio()                           hides PortAudio's probing noise

Errors: CaptureError (the microphone could not be opened or read) and its
NoInputDeviceError (no matching input; the message lists the devices).
"""

import contextlib
import dataclasses
import logging

from soundscope.transforms import native_stderr

log = logging.getLogger(__name__)


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


def load_pyaudio():
  """The pyaudio module; CaptureError saying how to install it when it is missing."""
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


def describe_devices():
  """The device listing for --list-devices."""
  pyaudio = load_pyaudio()
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
