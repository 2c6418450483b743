"""An iterable computed ahead in a thread: prefetched(items, depth).

The thread takes items from `items` while at most `depth` wait to be consumed,
so work that releases the GIL (decoding, numpy, a model's invoke) overlaps with
the consumer's.  Items come in order; an exception raised by `items` is raised
in the consumer where the next item would have come.  When the consumer stops
early (break, an exception, the generator closed), the thread stops after the
item it is computing and closes `items` if it is a generator (and with it what it reads).
"""

import queue
import threading

_END = object()
_POLL_SECONDS = 0.1    # How often a producer blocked on a full queue checks for a stop.


def prefetched(items, depth):
  """Yields the items of `items` in order, computed up to `depth` ahead in a thread.

  Args:
    items: an iterable; it is iterated in the thread only.
    depth: items computed ahead at most (>= 1).
  """
  waiting = queue.Queue(maxsize=max(1, int(depth)))
  stop = threading.Event()

  def put(entry):
    while not stop.is_set():
      try:
        waiting.put(entry, timeout=_POLL_SECONDS)
        return True
      except queue.Full:
        continue
    return False

  def produce():
    try:
      for item in items:
        if not put((item, None)):
          return
      put((_END, None))
    except BaseException as exc:  # pylint: disable=broad-except  (raised in the consumer)
      put((_END, exc))
    finally:
      close = getattr(items, "close", None)   # A generator: in its own thread (files it reads).
      if close is not None:
        close()

  thread = threading.Thread(target=produce, name="prefetch", daemon=True)
  thread.start()
  try:
    while True:
      item, error = waiting.get()
      if item is _END:
        if error is not None:
          raise error
        return
      yield item
  finally:
    stop.set()
    thread.join()
