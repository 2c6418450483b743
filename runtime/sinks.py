"""Where predictions go: one small interface, one class per destination.

A sink receives every PredictionEvent in order through `emit` and every sound
event's start and end (runtime.prediction.EventNotice) through `event`, both
called on the loop's thread, so they must not block for long: slow work such
as network delivery happens on the sink's own thread.  It reports `status()`
for the page and is closed once at the end.  Notification sinks (DeviceHive,
MQTT in runtime/mqtt.py, JSON lines) send events, and every window only when
asked (--notify-windows).  SinkSet says a sink's failure on the console once
when it starts failing and once when it works again, never per window.
"""

import json
import logging
import sys
import threading

from soundscope.configs import monitoring as M
from soundscope.runtime import prediction


log = logging.getLogger(__name__)


class OutputClosed(Exception):
  """A destination is gone for good (e.g. the program reading stdout has exited)."""


class Sink:
  """Base class of every destination."""
  name = "sink"

  def emit(self, event):
    """Receives one runtime.prediction.PredictionEvent."""
    raise NotImplementedError

  def event(self, notice):
    """Receives one runtime.prediction.EventNotice (an event's start or end); default: ignored."""

  def status(self):
    """A JSON-ready dict describing the sink's health ({} when there is nothing to say)."""
    return {}

  def close(self):
    """Flushes and releases resources; emit is not called afterwards."""


class ConsoleSink(Sink):
  """Prints the article's line for each window: '<UTC end>  Speech: 0.75, Music: 0.12',
  and with events=True a line for each event's start and end ('<UTC>  dog started (0.91)')."""
  name = "console"

  def __init__(self, stream=None, events=False):
    self.stream = stream or sys.stdout
    self.events = events

  def emit(self, event):
    self._print(event.line())

  def event(self, notice):
    if self.events:
      self._print(notice.line())

  def _print(self, line):
    try:
      print(line, file=self.stream, flush=True)
    except BrokenPipeError:   # `soundscope capture | head -3`: the reader has had enough.
      raise OutputClosed(f"{getattr(self.stream, 'name', 'the output')} was closed") from None


class JsonLinesSink(Sink):
  """Appends each event's start and end (EventNotice.to_dict, with "kind") and, with
  windows=True, each window (PredictionEvent.to_dict, with "sequence") as JSON lines."""
  name = "jsonl"

  def __init__(self, path, windows=True):
    self.path = path
    self.windows = windows
    self._file = open(path, "a", encoding="utf-8")

  def emit(self, event):
    if self.windows:
      self._write(event.to_dict())

  def event(self, notice):
    self._write(notice.to_dict())

  def _write(self, record):
    self._file.write(json.dumps(record) + "\n")
    self._file.flush()

  def status(self):
    return {"path": self.path}

  def close(self):
    self._file.close()


class WebSink(Sink):
  """Feeds the web page's EventHub (runtime/web/hub.py)."""
  name = "web"

  def __init__(self, hub):
    self.hub = hub

  def emit(self, event):
    self.hub.publish(event.to_dict())

  def close(self):
    self.hub.close()


class DeviceHiveSink(Sink):
  """Queues each event's start and end (notification "audio_event") and, with
  windows=True, each window (the configured notification name, "audio_analysis")
  as DeviceHive notifications in the persisted outbox.

  Delivery runs on the Courier's thread (runtime/courier.py); `emit` and `event`
  only write to the outbox, so the loop never waits for the network.  While
  DeviceHive is not configured nothing is queued.

  Args:
    courier: runtime.courier.Courier (owns the outbox, the client and the config).
    windows: also notify every window (the commands pass --notify-windows, off
      by default: events only).
  """
  name = "devicehive"

  def __init__(self, courier, windows=True):
    self.courier = courier
    self.windows = windows

  def emit(self, event):
    config = self.courier.config
    if not config.enabled or not self.windows:
      return
    self.courier.enqueue({
        "notification": config.notification_name,
        "parameters": event.notification_parameters(),
        "timestamp": _devicehive_time(event.end_utc),
    })

  def event(self, notice):
    if not self.courier.config.enabled:
      return
    parameters = notice.to_dict()
    del parameters["saved_audio"]      # Local paths mean nothing to DeviceHive.
    self.courier.enqueue({
        "notification": M.DEVICEHIVE_EVENT_NOTIFICATION, "parameters": parameters,
        "timestamp": _devicehive_time(notice.end_utc or notice.start_utc),
    })

  def status(self):
    return self.courier.status()

  def close(self):
    self.courier.close()


def _devicehive_time(moment):
  return prediction.devicehive_timestamp(moment)


class SinkSet:
  """Sends each event to every sink; one failing sink never stops the others.

  Failures are counted per sink (`failures`, shown on /api/status) and said
  on the console when a sink starts failing and when it works again.  A sink
  whose output closed for good (OutputClosed) is dropped; when none is left,
  emit raises OutputClosed, and monitoring ends: nobody is listening.
  """

  def __init__(self, sinks):
    self.sinks = list(sinks)
    self.closed = []
    self._lock = threading.Lock()
    self.failures = {}   # sink name -> {"count", "last_error"}
    self._failing = set()   # Names of the sinks whose last call failed.

  def emit(self, event):
    """Sends a PredictionEvent to every sink's emit."""
    self._fan_out("emit", event)

  def event(self, notice, only=None):
    """Sends an EventNotice to every sink's event (only: the names of those that get it)."""
    self._fan_out("event", notice, only)

  def _fan_out(self, method, item, only=None):
    with self._lock:
      for sink in list(self.sinks):
        if only is not None and sink.name not in only:
          continue
        try:
          getattr(sink, method)(item)
          self._works(sink)
        except OutputClosed as exc:
          # The console's reader left (`| head -3`): expected, so quiet (-v says it).
          level = logging.INFO if sink.name == ConsoleSink.name else logging.WARNING
          log.log(level, "sink %s: %s; it gets no more predictions", sink.name, exc)
          self.sinks.remove(sink)
          self.closed.append(sink)
        except Exception as exc:  # A destination's failure is reported, not fatal.
          failure = self.failures.setdefault(sink.name, {"count": 0, "last_error": None})
          failure["count"] += 1
          failure["last_error"] = str(exc)
          if sink.name not in self._failing:
            self._failing.add(sink.name)
            log.warning("sink %s failed: %s (said again when it works)", sink.name, exc)
      if self.closed and not self.sinks:
        raise OutputClosed("every destination of the predictions is closed")

  def _works(self, sink):
    if sink.name in self._failing:
      self._failing.discard(sink.name)
      log.warning("sink %s works again (%d failures)", sink.name,
                  self.failures[sink.name]["count"])

  def status(self):
    return {sink.name: sink.status() for sink in self.sinks if sink.status()}

  def failing(self):
    """Names of the sinks whose last call failed, sorted (for the page's status)."""
    return sorted(self._failing.copy())   # set.copy is atomic: no lock while a sink is slow.

  def close(self):
    for sink in self.sinks + self.closed:
      try:
        sink.close()
      except Exception as exc:
        log.warning("closing sink %s: %s", sink.name, exc)

