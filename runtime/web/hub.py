"""Fan-out of predictions to the open pages (server-sent events) plus a short history."""

import collections
import queue
import threading

from soundscope.configs import runtime as S

CLOSED = None   # Put in every subscriber's queue when the hub closes.


class EventHub:
  """Keeps the last `history` events and a bounded queue per connected page.

  publish() never blocks: a page that stops reading loses its oldest events,
  the loop never waits for it.
  """

  def __init__(self, history=S.EVENT_HISTORY):
    self._events = collections.deque(maxlen=history)
    self._subscribers = set()
    self._lock = threading.Lock()
    self.closed = False

  def publish(self, event):
    """Records a JSON-ready event dict and offers it to every subscriber."""
    with self._lock:
      self._events.append(event)
      subscribers = list(self._subscribers)
    for inbox in subscribers:
      _offer(inbox, event)

  def recent(self, count=None):
    """The last `count` events (all kept when None), newest first."""
    with self._lock:
      events = list(self._events)
    events.reverse()
    return events if count is None else events[:count]

  def subscribe(self):
    """A queue.Queue that receives each new event (CLOSED at shutdown)."""
    inbox = queue.Queue(maxsize=S.SUBSCRIBER_QUEUE)
    with self._lock:
      self._subscribers.add(inbox)
      if self.closed:
        _offer(inbox, CLOSED)
    return inbox

  def unsubscribe(self, inbox):
    with self._lock:
      self._subscribers.discard(inbox)

  def close(self):
    """Ends every event stream (pages reconnect to the next server)."""
    with self._lock:
      self.closed = True
      subscribers = list(self._subscribers)
    for inbox in subscribers:
      _offer(inbox, CLOSED)


def _offer(inbox, item):
  while True:
    try:
      inbox.put_nowait(item)
      return
    except queue.Full:
      try:
        inbox.get_nowait()
      except queue.Empty:
        pass
