"""Work that runs ahead of its reader, in a thread of its own.

The threads are kept and reused: CTranslate2 and llama.cpp keep memory for each thread that
calls them, which a new thread per request would add up (0.4 MB per transcription here).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import SimpleQueue
from typing import AsyncIterator, Callable, Iterator, TypeVar

import anyio

T = TypeVar("T")


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()
# Busy threads are never waited for (an item may wait for another's items): a new one is made
# only when all are busy, and this many at most exist at once.
_WORKERS = ThreadPoolExecutor(max_workers=256, thread_name_prefix="magic8-ahead")
# The threads that wait for items: apart from anyio's default 40, which the app's other calls
# to threads (the recorder's chunks) need.
_WAITS = anyio.CapacityLimiter(256)


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


async def in_background(
    make: Callable[[], Iterator[T]], slots: anyio.CapacityLimiter
) -> AsyncIterator[T]:
    """`make()`'s items for async code, made in a thread of its own (`run_ahead`), so that
    waiting for one never blocks the event loop. When this iterator is closed or its task
    cancelled, it ends at once (a wait in progress is abandoned), and `make()` stops at its
    next item. `make()` runs holding one of `slots` from start to end, so that work left
    behind by cancelled requests cannot pile up: the next request waits for it."""
    token = object()
    await slots.acquire_on_behalf_of(token)
    loop = asyncio.get_running_loop()

    def made() -> Iterator[T]:
        try:
            yield from make()
        finally:
            try:
                loop.call_soon_threadsafe(slots.release_on_behalf_of, token)
            except RuntimeError:  # the event loop has closed: the app is stopping
                pass

    stopped = threading.Event()
    items = run_ahead(made, stopped.is_set)
    try:
        while True:
            item = await anyio.to_thread.run_sync(
                next, items, _END, abandon_on_cancel=True, limiter=_WAITS
            )
            if item is _END:
                return
            yield item
    finally:
        stopped.set()
