"""Holding the garbage collector back while a large graph of objects is built.

A long drill's log read from the database, its report, and the report's PDF each build a
large graph of objects that all live until the work is done: 10,000 events and their
payloads, as many timeline lines, or WeasyPrint's boxes for 20 pages. CPython's
collector makes a full pass over everything alive each time the heap has grown by a
quarter since the last one, so a build that doubles the heap pays for several full passes
(about 100 ms of a 10,000-event report, 300 ms of a 20-page PDF, 20-50 ms of reading
the log) that free nothing.
Held back, the collector makes one pass over what the build made, when it ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_builds = 0
"""Builds holding the collector now: a PDF renders in a worker thread while a log is
read on the event loop, and the collector resumes when the last one ends."""
_resume = False
"""Whether the collector ran when the first of them began (a test may have stopped it)."""


@contextmanager
def collector_held() -> Iterator[None]:
    """Run a large, pure build without the collector's passes in the middle of it.

    Reference counting still frees what the build drops; only cycles wait for the end,
    when the collector looks once at everything made meanwhile. For synchronous work
    only: a coroutine awaiting inside would hold it back for the whole event loop. (A PDF
    renders in a worker thread, so the loop's own cycles wait the second or two it takes:
    memory, not time.)"""
    global _builds, _resume
    with _lock:
        if _builds == 0:
            _resume = gc.isenabled()
            gc.disable()
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            last = _builds == 0
            if last and _resume:
                gc.enable()
        if last and _resume:
            gc.collect(0)
