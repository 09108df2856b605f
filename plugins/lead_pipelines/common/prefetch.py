"""Fetch the next page while the current one is written: a bounded read-ahead over a page generator."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()
#: How long an early-stopping consumer waits for the reading thread to finish the call it is in (at most
#: a read timeout): no request may outlive the task. The wait is in short slices, so SIGTERM still ends it.
JOIN_SECONDS = 120.0


class _Raised:
    """Carries an exception from the reading thread to the consumer, to be raised there as it was."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(items: Iterable[T], depth: int = 2, *, name: str = "read-ahead") -> Iterator[T]:
    """Yield ``items`` in order, produced by a background thread up to ``depth`` items ahead.

    The vendor's answer (network wait, decoding) for page N+1 then overlaps with staging page N into
    the warehouse. Memory stays bounded by ``depth`` pages. An exception in the producer is raised
    in the consumer at the point where its item would have come, unchanged; if the consumer stops
    early (an error while writing), the producer is told to stop after its current item and its
    generator is closed from its own thread.

    :param items: The page generator (it runs in the background thread).
    :param depth: Pages read ahead of the consumer.
    :param name: Thread name, for debugging.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not _put(handoff, item, stop):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer, whatever it is
            _put(handoff, _Raised(exc), stop)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        _put(handoff, _DONE, stop)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue, and let one in the middle of a vendor call finish
        # it: it then stops, so no request of this window is sent after the landing has ended.
        deadline = time.monotonic() + JOIN_SECONDS
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                handoff.get(timeout=0.05)
            except queue.Empty:
                pass
            thread.join(0.05)


def _put(handoff: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
