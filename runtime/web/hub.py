"""Fan-out of predictions to the open pages (server-sent events) plus a short history.

Every published event gets an id, "<hub run>-<number>", sent as the SSE `id:`
field.  A page names the last event it has (rendered with the page, or the
browser's Last-Event-ID when it reconnects) and the hub first replays the kept
events after it, so an event published between the page's render and its
stream's opening is not lost.
"""

import collections
import queue
import secrets
import threading

from soundscope.configs import runtime as S

CLOSED = None   # Put in every subscriber's queue when the hub closes.


class EventHub:
  """Keeps the last `history` events and a bounded queue per connected page.

  publish() never blocks: a page that stops reading loses its oldest events,
  the loop never waits for it.  Subscribers receive (event id, event dict)
  pairs, then CLOSED.
  """

  def __init__(self, history=S.EVENT_HISTORY):
    self._events = collections.deque(maxlen=history)   # (number, event dict)
    self._published = 0
    self._subscribers = set()
    self._lock = threading.Lock()
    self.run = secrets.token_hex(4)   # Ids from another hub (a restarted server) replay all.
    self.closed = False

  def publish(self, event):
    """Records a JSON-ready event dict and offers it to every subscriber."""
    with self._lock:
      self._published += 1
      self._events.append((self._published, event))
      item = (self._id(self._published), event)
      subscribers = list(self._subscribers)
    for inbox in subscribers:
      _offer(inbox, item)

  def recent(self, count=None):
    """The last `count` events (all kept when None), newest first."""
    return self.snapshot(count)[0]

  def snapshot(self, count=None):
    """(the last `count` events newest first, the id of the newest event), read together."""
    with self._lock:
      events = [event for _, event in self._events]
      newest = self._id(self._published)
    events.reverse()
    return (events if count is None else events[:count]), newest

  def subscribe(self, after=None):
    """A queue.Queue of (id, event) for each new event (CLOSED at shutdown).

    after: the id of the last event the subscriber has.  The kept events after
      it are queued first; an id of another hub queues every kept event; None
      queues none (only new events follow).
    """
    inbox = queue.Queue(maxsize=S.SUBSCRIBER_QUEUE)
    with self._lock:
      self._subscribers.add(inbox)
      if after is not None:
        seen = self._number(after)
        for number, event in self._events:
          if number > seen:
            _offer(inbox, (self._id(number), event))
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

  def _id(self, number):
    return f"{self.run}-{number}"

  def _number(self, event_id):
    """The event number an id names in this hub; 0 (before everything) otherwise."""
    run, _, number = str(event_id).partition("-")
    if run != self.run or not number.isdigit():
      return 0
    return int(number)


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
