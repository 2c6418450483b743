"""soundscope/util/prefetch.py: an iterable computed ahead in a thread."""

import threading
import time

import pytest

from soundscope.util import prefetch


def test_items_come_in_order_computed_at_most_depth_ahead():
  made = []

  def items():
    for i in range(20):
      made.append(i)
      yield i

  seen = []
  for item in prefetch.prefetched(items(), depth=3):
    time.sleep(0.01)          # A slow consumer: the producer runs ahead, by at most 3 + 1.
    assert len(made) - len(seen) <= 3 + 1 + 1
    seen.append(item)
  assert seen == list(range(20))


def test_an_exception_of_the_items_reaches_the_consumer_after_the_items_before_it():
  def items():
    yield 1
    yield 2
    raise ValueError("file 3 is damaged")

  seen = []
  with pytest.raises(ValueError, match="file 3 is damaged"):
    for item in prefetch.prefetched(items(), depth=8):
      seen.append(item)
  assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_source():
  produced, closed = [], threading.Event()

  def endless():
    try:
      i = 0
      while True:
        produced.append(i)
        yield i
        i += 1
    finally:
      closed.set()            # A reader's file is closed here.

  before = threading.active_count()
  iterator = prefetch.prefetched(endless(), depth=2)
  assert [next(iterator) for _ in range(5)] == [0, 1, 2, 3, 4]
  iterator.close()            # As a for loop left by break or an exception does.
  assert closed.is_set()
  assert threading.active_count() == before
  count = len(produced)
  time.sleep(0.3)
  assert len(produced) == count
