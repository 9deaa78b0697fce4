"""The answering work, which runs in threads, relayed to Gradio's async handlers: a cancelled
request or a visitor who leaves ends the relay at once, and the work stops at its next step."""

from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator, Callable, Iterator, TypeVar

import anyio

from pipelines.ahead import run_ahead

T = TypeVar("T")

# The threads that wait for items: apart from anyio's default 40, which the app's other calls
# to threads (the recorder's chunks) need.
_WAITS = anyio.CapacityLimiter(256)
_NO_MORE = object()


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
                next, items, _NO_MORE, abandon_on_cancel=True, limiter=_WAITS
            )
            if item is _NO_MORE:
                return
            yield item
    finally:
        stopped.set()
