"""Calls to served models (Hugging Face Inference API, Inference Endpoints, TGI, vLLM, ...):
what a failure means for the person, and one short retry inside a fixed time budget."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar
from urllib.parse import urlparse

import requests

T = TypeVar("T")

RETRY_PAUSE_S = 0.5
MIN_ATTEMPT_S = 1.0  # no retry when less than this would be left for it


class ApiAuthError(Exception):
    """The server refused the token (HTTP 401 or 403): retrying cannot help."""


class ApiUnavailable(Exception):
    """The server is down, overloaded, too slow or answered something unusable."""


class MalformedReply(Exception):
    """The server answered 200 with a body that is not the expected shape."""


@contextmanager
def reading_reply(what: str) -> Iterator[None]:
    """Around the code that parses a served reply (ours or the client library's): what it
    raises there means the reply was malformed (MalformedReply, with `what` as message)."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise MalformedReply(what) from error


def served_model_name(model: str, url: str | None) -> str:
    """How a served model is named in the UI: its short id, and the host when not the Hub's."""
    short = model.rsplit("/", 1)[-1]
    return f"{short} @ {urlparse(url).netloc}" if url else short


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def describe(error: BaseException) -> str:
    """A short, token-free description of a failed call, for logs."""
    status = _status(error)
    if status is not None:
        return f"HTTP {status}"
    if isinstance(error, (requests.Timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return f"malformed answer ({type(error).__name__})"


# What a later attempt may not meet: the network and the server's replies. Any other exception
# is a bug of ours, not retried (the person gets the internal-error apology, the log a traceback).
RETRYABLE = (requests.RequestException, TimeoutError, MalformedReply)


def call_with_retry(call: Callable[[float], T], budget_s: float) -> T:
    """Run `call(timeout_s)`; on a failure that may pass, retry once after a short pause.

    Both attempts share `budget_s`, so the whole call ends within the budget (plus the
    pause). Raises ApiAuthError for 401/403 (never retried) and ApiUnavailable otherwise.
    """
    deadline = time.monotonic() + budget_s
    retried = False
    while True:
        try:
            return call(max(deadline - time.monotonic(), 0.1))
        except RETRYABLE as error:
            if _status(error) in (401, 403):
                raise ApiAuthError(describe(error)) from None
            left = deadline - time.monotonic() - RETRY_PAUSE_S
            if retried or left < MIN_ATTEMPT_S:
                raise ApiUnavailable(describe(error)) from None
            retried = True
            time.sleep(RETRY_PAUSE_S)
