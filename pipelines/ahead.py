"""Work that runs ahead of its reader, in a thread of its own.

The threads are kept and reused: CTranslate2 and llama.cpp keep memory for each thread that
calls them, which a new thread per request would add up.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()
# Busy threads are never waited for (an item may wait for another's items): a new one is made
# only when all are busy, and this many at most exist at once.
_WORKERS = ThreadPoolExecutor(max_workers=256, thread_name_prefix="magic8-ahead")


def run_ahead(make: Callable[[], Iterator[T]], dropped: Callable[[], bool]) -> Iterator[T]:
    """Start `make()` in a thread of its own now; the iterator returned yields its items as they
    come (waiting for each), then raises its error if it failed. Once `dropped()`, or once the
    reader stops reading, the thread stops taking items (closing `make()`'s iterator, which ends
    its work) and ends."""
    items: SimpleQueue = SimpleQueue()
    unread = threading.Event()  # the reader went away

    def work() -> None:
        try:
            source = make()
            try:
                for item in source:
                    if dropped() or unread.is_set():
                        break
                    items.put(item)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # noqa: BLE001 (handed to the reader)
            items.put(_Failed(error))
            return
        items.put(_END)

    _WORKERS.submit(work)

    def read() -> Iterator[T]:
        try:
            while (item := items.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.error
                yield item
        finally:
            unread.set()

    return read()
