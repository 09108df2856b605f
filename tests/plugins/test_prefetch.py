"""read_ahead: pages come in order, errors where they happened, and an early stop stops the reader."""

from __future__ import annotations

import threading
import time

import pytest

from lead_pipelines.common.prefetch import read_ahead


def test_items_come_in_order_from_another_thread():
    seen_threads = set()

    def pages():
        for n in range(50):
            seen_threads.add(threading.current_thread().name)
            yield [n]

    assert list(read_ahead(pages(), depth=3, name="reader")) == [[n] for n in range(50)]
    assert seen_threads == {"reader"}


def test_a_producer_error_is_raised_after_the_items_before_it_unchanged():
    class VendorGone(ConnectionError):
        pass

    error = VendorGone("page 3")

    def pages():
        yield 1
        yield 2
        raise error

    got = []
    with pytest.raises(VendorGone) as excinfo:
        for item in read_ahead(pages()):
            got.append(item)

    assert got == [1, 2] and excinfo.value is error


def test_a_consumer_that_stops_early_stops_and_closes_the_reader():
    produced, closed = [], threading.Event()

    def pages():
        try:
            for n in range(1000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    reader = read_ahead(pages(), depth=2)
    assert next(reader) == 0
    reader.close()

    assert closed.wait(5), "the generator was closed in its own thread"
    time.sleep(0.2)
    assert len(produced) <= 4, "the reader stays at most a few items ahead and then stops"


def test_an_early_stop_waits_for_the_call_in_flight_so_nothing_outlives_the_consumer():
    finished = threading.Event()

    def pages():
        yield 1
        time.sleep(0.5)  # a vendor call still in flight when the consumer stops
        finished.set()
        yield 2

    reader = read_ahead(pages(), depth=1)
    assert next(reader) == 1
    time.sleep(0.05)
    reader.close()

    assert finished.is_set(), "the reader's call completed before close() returned"
