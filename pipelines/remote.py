"""Calls to served models (Hugging Face Inference Providers, Inference Endpoints, TGI, vLLM,
...): what a failure means for the person, and one short retry inside a fixed time budget."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar
from urllib.parse import urlparse

import requests
from huggingface_hub import constants
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

T = TypeVar("T")

RETRY_PAUSE_S = 0.5
MIN_ATTEMPT_S = 1.0  # no retry when less than this would be left for it
HUB = "the Hugging Face Hub"


class ServedStageFailure(Exception):
    """A served stage did not answer. `str(error)` says why, in words for the person using the
    app and free of secrets (e.g. "the Inference credits are used up"); `retry`: whether a
    second attempt may go better; `moved`: the server no longer serves the model there (so
    where it is served should be looked up again)."""

    def __init__(self, reason: str, retry: bool = False, moved: bool = False) -> None:
        super().__init__(reason)
        self.retry = retry
        self.moved = moved


class MalformedReply(Exception):
    """The server answered 200 with a body that is not the expected shape."""


@dataclass(frozen=True)
class Service:
    """Who serves a model, as a notice names it."""

    name: str  # "featherless-ai", "the Hugging Face Hub", "10.0.0.5:8080"
    model: str
    # Reached with the Hugging Face token (the Hub, its router to the Inference Providers), so
    # a 401, 402 or 403 is about the Hugging Face account.
    hugging_face: bool


def endpoint_service(model: str, url: str) -> Service:
    """A server of our own choosing (MAGIC8_*_URL), named by its host."""
    return Service(urlparse(url).netloc, model, hugging_face=False)


@contextmanager
def reading_reply(what: str) -> Iterator[None]:
    """Around a served call and the code that parses its reply (ours or the client
    library's): what parsing raises means the reply was malformed (MalformedReply, with `what`
    as message). An HTTP error stays one (huggingface_hub's BadRequestError, a 400, is also a
    ValueError)."""
    try:
        yield
    except requests.RequestException:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise MalformedReply(what) from error


def served_model_name(model: str, url: str | None) -> str:
    """How a served model is named in the UI: its short id, and the host when not the Hub's."""
    short = model.rsplit("/", 1)[-1]
    return f"{short} @ {urlparse(url).netloc}" if url else short


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


# What a served call may meet that is not our bug: the network (huggingface_hub's offline mode
# raises the built-in ConnectionError), the server's refusals and its replies. Anything else is
# a bug of ours (the person gets the internal-error apology, the log a traceback).
SERVED_ERRORS = (requests.RequestException, ConnectionError, TimeoutError, MalformedReply)


def failure_of(error: BaseException, service: Service) -> ServedStageFailure:
    """What one of SERVED_ERRORS means, in a few words about `service` (never its message,
    which may quote a URL or a token)."""
    name, model, hf = service.name, service.model, service.hugging_face
    response = getattr(error, "response", None)
    if hf and response is not None and str(response.url).startswith(constants.ENDPOINT):
        name = HUB  # huggingface_hub asks the Hub before it calls a provider
    status = _status(error)
    if isinstance(error, GatedRepoError) or (hf and status == 403):
        return ServedStageFailure(f"the Hugging Face token has no access to {model}")
    if isinstance(error, RepositoryNotFoundError):  # a private repository reads the same
        return ServedStageFailure(f"{model} is not on the Hugging Face Hub")
    if status == 401:
        return ServedStageFailure(
            "the Hugging Face token was refused" if hf else f"{name} refused the token"
        )
    if status == 402:
        return ServedStageFailure(
            "the Inference credits are used up" if hf else f"{name} asks for payment (HTTP 402)"
        )
    if status == 403:
        return ServedStageFailure(f"{name} refused access (HTTP 403)")
    if status == 404:
        return ServedStageFailure(f"{name} does not serve {model} (HTTP 404)", moved=True)
    if status == 429:
        return ServedStageFailure(f"{name} is rate-limiting this app (HTTP 429)", retry=True)
    if status is not None:
        return ServedStageFailure(f"{name} is unavailable (HTTP {status})", retry=status >= 500)
    if isinstance(error, (requests.Timeout, TimeoutError)):
        return ServedStageFailure(f"{name} did not answer in time", retry=True)
    if isinstance(error, (requests.ConnectionError, ConnectionError)):
        return ServedStageFailure(f"{name} could not be reached", retry=True)
    return ServedStageFailure(f"{name} answered something unusable", retry=True)


def call_with_retry(call: Callable[[float], T], budget_s: float, service: Service) -> T:
    """Run `call(timeout_s)`; on a failure that may pass (the network, 429, 5xx, a malformed
    reply), retry once after a short pause.

    Both attempts share `budget_s`, so the whole call ends within the budget (plus the
    pause). Raises ServedStageFailure.
    """
    deadline = time.monotonic() + budget_s
    retried = False
    while True:
        try:
            return call(max(deadline - time.monotonic(), 0.1))
        except SERVED_ERRORS as error:
            failure = failure_of(error, service)
            left = deadline - time.monotonic() - RETRY_PAUSE_S
            if retried or not failure.retry or left < MIN_ATTEMPT_S:
                raise failure from None
            retried = True
            time.sleep(RETRY_PAUSE_S)
