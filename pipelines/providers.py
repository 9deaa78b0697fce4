"""Which Hugging Face Inference Provider serves a model: asked of the Hub, kept a while, and
asked again later when the answer was a failure.

huggingface_hub's own choice (provider "auto") takes the first provider the Hub lists for the
model, in staging or not, and keeps the list for the life of the process, also when it was
empty. We look the model up ourselves, take the first provider that serves it live for the
stage's task, and hand that provider to huggingface_hub by name.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Literal, TypeVar

import huggingface_hub
import requests
from huggingface_hub import HfApi, InferenceClient, configure_http_backend

# huggingface_hub has no public list of the providers it can call, nor a public way to make it
# look a model's providers up again; these two are its own (imported here, so that a version
# that moves them fails at start-up, not at a question).
from huggingface_hub.inference._providers import PROVIDERS
from huggingface_hub.inference._providers._common import _fetch_inference_provider_mapping

from pipelines.remote import (
    HUB,
    SERVED_ERRORS,
    ServedStageFailure,
    Service,
    call_with_retry,
    endpoint_service,
    failure_of,
    reading_reply,
    served_model_name,
)

log = logging.getLogger("magic8")

Task = Literal["automatic-speech-recognition", "conversational"]
AUTO = "auto"  # the first provider that serves the model live, in the order the Hub lists them
# "openai" takes an OpenAI key only, never a Hugging Face token through the router.
NOT_THROUGH_THE_ROUTER = ("openai",)
FOUND_KEPT_S = 600.0  # a provider found is trusted this long before the Hub is asked again
FAILED_KEPT_S = 30.0  # a failed lookup is the answer this long, then the Hub is asked again
STARTUP_LOOKUP_S = 5.0  # the start-up lookups' time limit (they run beside the start-up)
LOOKUP_S = 5.0  # a request's lookup takes at most this, and half the stage's time budget
# huggingface_hub's own requests that set no time limit (it looks a model's providers up again
# before it calls one, with none) get this one, per connection and per read.
HUB_CALL_S = 10.0
T = TypeVar("T")


def callable_providers(task: Task) -> tuple[str, ...]:
    """The providers the installed huggingface_hub can call for `task` with a Hugging Face
    token."""
    return tuple(
        sorted(
            name
            for name, tasks in PROVIDERS.items()
            if task in tasks and name not in NOT_THROUGH_THE_ROUTER
        )
    )


class _TimedSession(requests.Session):
    """A requests session that gives each request without a time limit HUB_CALL_S."""

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = HUB_CALL_S
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True)
class ServedModel:
    """A model on Hugging Face Inference Providers, as one stage uses it."""

    model: str  # Hub id, e.g. "openai/whisper-large-v3"
    task: Task
    provider: str = AUTO  # AUTO, or the one provider to use


@dataclass(frozen=True)
class _Answer:
    """What the Hub said last: the provider, or why there is none."""

    provider: str | None
    failure: str | None  # the reason (a fresh ServedStageFailure is raised each time)
    until: float  # monotonic time after which the Hub is asked again


class ProviderLookup:
    """Finds the provider for each `ServedModel`, shared by the served stages.

    One lookup of a model at a time (the first questions after start-up wait for one Hub
    request, not one each); found providers are kept FOUND_KEPT_S, failures FAILED_KEPT_S.
    When the Hub cannot be reached to look again, the provider found before stays.
    """

    def __init__(
        self,
        token: str | None,
        endpoint: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`endpoint`: the Hub's address (None: huggingface_hub's, which HF_ENDPOINT sets)."""
        configure_http_backend(backend_factory=_TimedSession)
        self._hub = HfApi(endpoint=endpoint, token=token)
        self._clock = clock
        self._answers: dict[ServedModel, _Answer] = {}
        self._locks: dict[ServedModel, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def provider_for(self, served: ServedModel, timeout_s: float) -> str:
        """The provider to call for `served`. Raises ServedStageFailure, saying why there is
        none (no provider serves it, the Hub is down or refuses the token, ...)."""
        answer = self._answers.get(served)
        if answer is None or self._clock() >= answer.until:
            with self._locks_lock:
                lock = self._locks.setdefault(served, threading.Lock())
            with lock:
                answer = self._answers.get(served)
                if answer is None or self._clock() >= answer.until:
                    answer = self._ask_hub(served, timeout_s, answer)
                    self._answers[served] = answer
        if answer.failure is not None:
            raise ServedStageFailure(answer.failure)
        return answer.provider

    def forget(self, served: ServedModel) -> None:
        """Ask the Hub again at the next request for `served` (its provider dropped it)."""
        self._answers.pop(served, None)

    def _ask_hub(self, served: ServedModel, timeout_s: float, before: _Answer | None) -> _Answer:
        try:
            provider = self._choose(served, timeout_s)
        except ServedStageFailure as failure:
            if failure.retry and before is not None and before.provider is not None:
                log.warning("%s; still calling %s for %s", failure, before.provider, served.model)
                return _Answer(before.provider, None, self._clock() + FAILED_KEPT_S)
            return _Answer(None, str(failure), self._clock() + FAILED_KEPT_S)
        finally:
            # huggingface_hub keeps its own copy of the providers for the life of the process,
            # and refuses a provider the Hub names later: it looks again when we do.
            _fetch_inference_provider_mapping.cache_clear()
        return _Answer(provider, None, self._clock() + FOUND_KEPT_S)

    def _choose(self, served: ServedModel, timeout_s: float) -> str:
        """The first provider the Hub lists that serves `served` live and that
        huggingface_hub can call. Raises ServedStageFailure."""
        model = served.model
        try:
            with reading_reply("no provider list in the answer"):
                info = self._hub.model_info(
                    model, expand=["inferenceProviderMapping"], timeout=timeout_s
                )
        except SERVED_ERRORS as error:
            raise failure_of(error, Service(HUB, model, hugging_face=True)) from None
        mappings = [
            mapping
            for mapping in info.inference_provider_mapping or ()
            if mapping.task == served.task
            and served.provider in (AUTO, mapping.provider)
        ]
        live = [mapping.provider for mapping in mappings if mapping.status == "live"]
        callable_now = callable_providers(served.task)
        usable = [name for name in live if name in callable_now]
        if usable:
            return usable[0]
        if live:  # only with AUTO: a provider given by name is checked with the settings
            raise ServedStageFailure(
                f"no Inference Provider that huggingface_hub {huggingface_hub.__version__} can "
                f"call serves {model} (it is live at {', '.join(live)})"
            )
        not_live = "; ".join(f"{mapping.provider}: {mapping.status}" for mapping in mappings)
        if served.provider != AUTO:
            why = f" live ({not_live})" if mappings else ""
            raise ServedStageFailure(f"{served.provider} does not serve {model}{why}")
        if mappings:
            raise ServedStageFailure(f"no Inference Provider serves {model} yet ({not_live})")
        raise ServedStageFailure(f"no Inference Provider serves {model}")

    def announce(self, stages: dict[str, ServedModel]) -> None:
        """Look each stage's model up once, in the background (start-up does not wait), and
        log one line per stage saying which provider serves it, or why none does."""

        def look_up_all() -> None:
            for stage, served in stages.items():
                try:
                    provider = self.provider_for(served, STARTUP_LOOKUP_S)
                except ServedStageFailure as failure:
                    log.warning(
                        "Inference Providers: %s (%s): %s; offline until that changes",
                        stage, served.model, failure,
                    )
                else:
                    log.info(
                        "Inference Providers: %s (%s) served by %s", stage, served.model, provider
                    )

        threading.Thread(target=look_up_all, name="magic8-providers", daemon=True).start()


@dataclass(frozen=True)
class Route:
    """Where a served stage's requests go: an Inference Provider through Hugging Face's
    router, or a server of our own choosing at `url`."""

    service: Service
    provider: str | None = None
    url: str | None = None


class ServedStage:
    """How one served stage reaches its model: at MAGIC8_*_URL where one is set, otherwise on
    the Inference Provider that `lookup` finds for `served`; each call within `budget_s`."""

    def __init__(
        self,
        served: ServedModel,
        url: str | None,
        token: str | None,
        lookup: ProviderLookup,
        budget_s: float,
    ) -> None:
        self.served = served
        self._url = url
        self._token = token
        self._lookup = lookup
        self._budget_s = budget_s
        self.name = served_model_name(served.model, url)

    @property
    def on_providers(self) -> bool:
        """Whether the model is reached on Inference Providers (no MAGIC8_*_URL)."""
        return self._url is None

    def route(self, timeout_s: float) -> Route:
        """Where requests go now. Raises ServedStageFailure where no provider serves the
        model (looked up within `timeout_s`, or known from a recent lookup)."""
        if self._url is not None:
            return Route(endpoint_service(self.served.model, self._url), url=self._url)
        provider = self._lookup.provider_for(self.served, timeout_s)
        return Route(Service(provider, self.served.model, hugging_face=True), provider=provider)

    def call(self, request: Callable[[InferenceClient, Route], T]) -> T:
        """`request(client, route)` with a client for the route (huggingface_hub calls a `url`
        model as an endpoint), retried once where that may help (see `call_with_retry`), the
        lookup included all within the stage's budget. Raises ServedStageFailure."""
        started = time.monotonic()
        route = self.route(min(LOOKUP_S, self._budget_s / 2))
        left = self._budget_s - (time.monotonic() - started)

        def attempt(timeout_s: float) -> T:
            client = InferenceClient(
                model=route.url, provider=route.provider, token=self._token, timeout=timeout_s
            )
            return request(client, route)

        try:
            return call_with_retry(attempt, left, route.service)
        except ServedStageFailure as failure:
            if failure.moved and route.provider is not None:
                self._lookup.forget(self.served)
            raise
