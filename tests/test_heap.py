"""A report's build holds the garbage collector back, and lets it go when done: a
server whose collector stayed off would grow until it ran out of memory."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from app.heap import collector_held


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_resumes_after_a_build_and_collects_the_cycles_it_left() -> None:
    with collector_held():
        assert not gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None
    assert gc.isenabled()
    assert gone() is None


def test_the_collector_resumes_when_a_build_fails() -> None:
    with pytest.raises(ValueError), collector_held():
        raise ValueError("a bad log")
    assert gc.isenabled()


def test_overlapping_builds_hold_it_until_the_last_one_ends() -> None:
    """A PDF renders in a worker thread while a report is built on the event loop."""
    inside, release = threading.Event(), threading.Event()

    def render() -> None:
        with collector_held():
            inside.set()
            release.wait(5)

    pdf = threading.Thread(target=render)
    pdf.start()
    assert inside.wait(5)
    with collector_held():
        pass
    assert not gc.isenabled()  # the PDF is still rendering
    release.set()
    pdf.join(5)
    assert gc.isenabled()


def test_a_collector_stopped_before_stays_stopped() -> None:
    gc.disable()
    with collector_held():
        pass
    assert not gc.isenabled()
