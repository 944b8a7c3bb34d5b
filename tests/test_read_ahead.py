"""Reading ahead in a thread: the same items in the same order, errors raised to the caller,
and leaving early stops the thread and closes the generator (its connection)."""

from __future__ import annotations

import threading

import pytest

from kizuna.read_ahead import read_ahead


def test_the_same_items_in_the_same_order():
    assert list(read_ahead(iter(range(100)), depth=2)) == list(range(100))


def test_the_items_are_made_in_another_thread():
    def made_by():
        for _ in range(3):
            yield threading.current_thread().name

    assert set(read_ahead(made_by())) == {"read-ahead"}


def test_an_error_in_the_producer_is_raised_to_the_consumer():
    def failing():
        yield 1
        raise LookupError("the database went away")

    got = []
    with pytest.raises(LookupError, match="went away"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1]


def test_leaving_early_stops_the_thread_and_closes_the_generator():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    reader = read_ahead(endless(), depth=1)
    assert next(reader) == 0
    reader.close()  # the consumer leaves: the producer is told, and joined before this returns
    assert closed.is_set()
    assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())
