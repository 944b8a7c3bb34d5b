"""Reading the next batches in a thread while the caller works on the current one.

Planning reads candidates and writes deliveries; both spend most of their time in the
database driver, which releases the GIL, so on two cores the read of the next batch and the
write of this one overlap.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
DONE = object()


def read_ahead(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Yield what `items` yields, produced by a thread at most `depth` items ahead. An
    exception in the thread is raised here; leaving early stops the thread."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not _put(ahead, item, stop):
                    return
            _put(ahead, DONE, stop)
        except BaseException as error:  # handed to the consumer, raised there
            _put(ahead, error, stop)
        finally:  # a generator's own clean-up (its connection) runs in the thread that ran it
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _put(ahead: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put, unless the consumer has gone (then False): checked every tenth of a second."""
    while not stop.is_set():
        try:
            ahead.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
