"""Where predictions go: one small interface, one class per destination.

A sink receives every PredictionEvent in order through `emit` (called on the
loop's thread, so it must not block for long: slow work such as network
delivery happens on the sink's own thread), reports `status()` for the page,
and is closed once at the end.  Adding a destination (MQTT, a database) is one
more class; JsonLinesSink below is an example in a dozen lines.
"""

import json
import logging
import sys
import threading

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
  """Prints the article's line for each window: '<UTC end>  Speech: 0.75, Music: 0.12'."""
  name = "console"

  def __init__(self, stream=None):
    self.stream = stream or sys.stdout

  def emit(self, event):
    try:
      print(event.line(), file=self.stream, flush=True)
    except BrokenPipeError:   # `soundscope capture | head -3`: the reader has had enough.
      raise OutputClosed(f"{getattr(self.stream, 'name', 'the output')} was closed") from None


class JsonLinesSink(Sink):
  """Appends each event as one JSON line to a file (another destination, as an example)."""
  name = "jsonl"

  def __init__(self, path):
    self._file = open(path, "a", encoding="utf-8")

  def emit(self, event):
    self._file.write(json.dumps(event.to_dict()) + "\n")
    self._file.flush()

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
  """Queues each prediction as a DeviceHive notification in the persisted outbox.

  Delivery runs on the Courier's thread (runtime/courier.py); `emit` only writes
  to the outbox, so the loop never waits for the network.  While DeviceHive is
  not configured nothing is queued.

  Args:
    courier: runtime.courier.Courier (owns the outbox, the client and the config).
  """
  name = "devicehive"

  def __init__(self, courier):
    self.courier = courier

  def emit(self, event):
    config = self.courier.config
    if not config.enabled:
      return
    self.courier.enqueue({
        "notification": config.notification_name,
        "parameters": event.notification_parameters(),
        "timestamp": _devicehive_time(event.end_utc),
    })

  def status(self):
    return self.courier.status()

  def close(self):
    self.courier.close()


def _devicehive_time(moment):
  return prediction.devicehive_timestamp(moment)


class SinkSet:
  """Sends each event to every sink; one failing sink never stops the others.

  Failures are counted per sink (`failures`, shown on /api/status).  A sink
  whose output closed for good (OutputClosed) is dropped; when none is left,
  emit raises OutputClosed, and monitoring ends: nobody is listening.
  """

  def __init__(self, sinks):
    self.sinks = list(sinks)
    self.closed = []
    self._lock = threading.Lock()
    self.failures = {}   # sink name -> {"count", "last_error"}

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
        except OutputClosed as exc:
          log.warning("sink %s: %s; it gets no more predictions", sink.name, exc)
          self.sinks.remove(sink)
          self.closed.append(sink)
        except Exception as exc:  # A destination's failure is reported, not fatal.
          failure = self.failures.setdefault(sink.name, {"count": 0, "last_error": None})
          failure["count"] += 1
          failure["last_error"] = str(exc)
          log.warning("sink %s failed: %s", sink.name, exc)
      if self.closed and not self.sinks:
        raise OutputClosed("every destination of the predictions is closed")

  def status(self):
    return {sink.name: sink.status() for sink in self.sinks if sink.status()}

  def close(self):
    for sink in self.sinks + self.closed:
      try:
        sink.close()
      except Exception as exc:
        log.warning("closing sink %s: %s", sink.name, exc)

