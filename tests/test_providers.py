"""The Space's default served path: only HF_TOKEN set. The app asks the Hub (a loopback stand-in
at HF_ENDPOINT) which Inference Provider serves each model, then huggingface_hub calls that
provider through https://router.huggingface.co (reached through the app's HTTPS_PROXY, a
loopback stand-in with its own certificate). Every failure ends in an offline answer with a
notice that says what happened; the token goes nowhere but the Hub and the router."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from gradio_client import Client, handle_file

from pipelines.llm import PERSONA
from pipelines.providers import FAILED_KEPT_S, FOUND_KEPT_S, ProviderLookup, ServedModel
from pipelines.remote import ServedStageFailure
from pipelines.settings import Settings
from tests.conftest import QUESTION_WORDS
from tests.support.fake_hub import ROUTER_HOST, FakeHub, HubModel, RouterProxy, mapping
from tests.support.fake_inference import FakeInferenceApi
from tests.support.helpers import app_server

TOKEN = "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"
API_TIMEOUT_S = 3
WHISPER = Settings.asr_api_model
CHAT = Settings.llm_api_model  # the default chat model
ASR_TASK, CHAT_TASK = "automatic-speech-recognition", "conversational"
SERVED_ANSWER = "The sun shines on those who wait."


def whisper_on_hf_inference() -> HubModel:
    return HubModel(ASR_TASK, providers=mapping("hf-inference", ASR_TASK, WHISPER))


def chat_model(providers: dict | None = None, refusal: str | None = None) -> HubModel:
    """The chat model as the Hub describes it (a conversational image-text-to-text model)."""
    return HubModel("image-text-to-text", ("conversational",), providers, refusal)


# The Hub lists providers in the token owner's order of preference: here a provider that has
# the model in staging comes first, which huggingface_hub's own "auto" would call.
LIVE_CHAT = {
    **mapping("nebius", CHAT_TASK, CHAT, status="staging"),
    **mapping("featherless-ai", CHAT_TASK, f"{CHAT}-fp8"),
    **mapping("hf-inference", CHAT_TASK, CHAT),
}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Iterator[tuple[FakeHub, RouterProxy]]:
    hub = FakeHub()
    hub.url = hub.start()
    router = FakeInferenceApi()
    proxy = RouterProxy(router, tmp_path_factory.mktemp("tls"))
    proxy.url = proxy.start()
    yield hub, proxy
    hub.stop()
    router.stopping.set()
    proxy.stop()


@contextmanager
def app_with_token(
    stand_ins: tuple[FakeHub, RouterProxy], folder: Path, **env: str
) -> Iterator[tuple[Client, Path]]:
    """The app with HF_TOKEN and no MAGIC8_*_URL, its Hub and router the stand-ins."""
    hub, proxy = stand_ins
    log_path = folder / "app.log"
    settings = {
        "HF_TOKEN": TOKEN,
        "HF_ENDPOINT": hub.url,
        "HTTPS_PROXY": proxy.url,
        "HTTP_PROXY": proxy.url,
        "NO_PROXY": "127.0.0.1,localhost",
        "REQUESTS_CA_BUNDLE": str(proxy.ca_bundle),
        "HF_HUB_OFFLINE": None,
        "MAGIC8_ASR_URL": None,
        "MAGIC8_LLM_URL": None,
        "MAGIC8_API_TIMEOUT": str(API_TIMEOUT_S),
        "MAGIC8_SEED": None,
        **env,
    }
    with app_server(settings, log_path) as url:
        yield Client(url, verbose=False), log_path


def ask(client: Client, path) -> tuple[str, str, object, dict]:
    return client.submit(handle_file(str(path)), api_name="/ask").result(
        timeout=2 * API_TIMEOUT_S + 15
    )


def reset(stand_ins, chat: HubModel, asr: str = "ok", llm: str = "ok") -> None:
    """The Hub's answers for both models, the router's modes, and nothing recorded yet."""
    hub, proxy = stand_ins
    hub.models = {WHISPER: whisper_on_hf_inference(), CHAT: chat}
    hub.requests.clear()
    proxy.router.reset(asr, llm)
    proxy.hosts.clear()
    proxy.reachable = True


def assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, *outputs):
    hub, proxy = stand_ins
    assert set(proxy.hosts) <= {ROUTER_HOST}  # the app asked to reach nothing else
    for request in hub.requests + proxy.router.requests:
        assert request.headers.get("authorization") == f"Bearer {TOKEN}"
        assert TOKEN not in request.path and TOKEN.encode() not in request.body
    log = log_path.read_text()
    assert "Traceback" not in log and "request failed" not in log  # no bug of ours showed
    for text in (log, *map(repr, outputs)):
        assert TOKEN not in text


@pytest.fixture(scope="module")
def live_app(stand_ins, tmp_path_factory):
    """One app for the provider calls' own failures: the Hub's mappings stay live."""
    reset(stand_ins, chat_model(LIVE_CHAT))
    with app_with_token(stand_ins, tmp_path_factory.mktemp("live")) as app:
        yield app


def test_each_stage_is_called_on_the_first_live_provider(stand_ins, live_app, question_wav):
    hub, proxy = stand_ins
    client, log_path = live_app
    reset(stand_ins, chat_model(LIVE_CHAT))
    question, answer, mp3, details = ask(client, question_wav)
    assert (question, answer, details["notices"]) == (proxy.router.transcript, SERVED_ANSWER, [])
    assert details["backends"] == (
        "served · whisper-large-v3 · Mistral-Small-3.1-24B-Instruct-2503 · Piper"
    )
    assert mp3 is not None

    (asr,) = proxy.router.of("asr")
    assert asr.headers["host"] == ROUTER_HOST
    assert asr.path == f"/hf-inference/models/{WHISPER}"
    assert asr.headers["content-type"].startswith("audio/")
    (chat,) = proxy.router.of("llm")
    assert chat.path == "/featherless-ai/v1/chat/completions"  # not nebius (staging)
    body = chat.json()
    assert body["model"] == f"{CHAT}-fp8"  # the provider's own id for the model
    assert body["messages"][0] == {"role": "system", "content": PERSONA}
    assert body["stream"] is True and body["max_tokens"] == 64
    assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, answer, details)
    log = log_path.read_text()
    assert f"Inference Providers: transcription ({WHISPER}) served by hf-inference" in log
    assert f"Inference Providers: answer ({CHAT}) served by featherless-ai" in log


@pytest.mark.parametrize(
    "asr, llm, notices, attempts",
    [
        ("ok", "402", ["answered offline: the Inference credits are used up"], 1),
        ("ok", "429", ["answered offline: featherless-ai is rate-limiting this app (HTTP 429)"], 2),
        ("ok", "403", [f"answered offline: the Hugging Face token has no access to {CHAT}"], 1),
        ("ok", "401", ["answered offline: the Hugging Face token was refused"], 1),
        ("503", "ok", ["transcribed offline: hf-inference is unavailable (HTTP 503)"], 2),
        ("ok", "404", [f"answered offline: featherless-ai does not serve {CHAT} (HTTP 404)"], 1),
    ],
    ids=["credits used up", "rate-limited", "gated", "token refused", "down", "model dropped"],
)
def test_a_provider_that_fails_is_answered_offline_with_its_reason(
    stand_ins, live_app, question_wav, asr, llm, notices, attempts
):
    _hub, proxy = stand_ins
    client, log_path = live_app
    reset(stand_ins, chat_model(LIVE_CHAT), asr=asr, llm=llm)
    question, answer, mp3, details = ask(client, question_wav)
    assert details["notices"] == notices
    failed = "asr" if asr != "ok" else "llm"
    assert len(proxy.router.of(failed)) == attempts  # retried only where it may help
    if failed == "llm":
        assert question == proxy.router.transcript and details["answer"] == "proverb bank"
    else:
        assert all(word in question.lower() for word in QUESTION_WORDS)  # heard by tiny.en
        assert answer == SERVED_ANSWER
    assert answer and mp3 is not None
    assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, answer, details)


def test_the_router_out_of_reach_is_said_for_both_stages(stand_ins, live_app, question_wav):
    client, log_path = live_app
    reset(stand_ins, chat_model(LIVE_CHAT))
    stand_ins[1].reachable = False
    question, answer, _mp3, details = ask(client, question_wav)
    assert details["notices"] == [
        "transcribed offline: hf-inference could not be reached",
        "answered offline: featherless-ai could not be reached",
    ]
    assert all(word in question.lower() for word in QUESTION_WORDS) and answer
    assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, answer, details)


@pytest.mark.parametrize(
    "chat, notice",
    [
        (chat_model(None), f"no Inference Provider serves {CHAT}"),
        (chat_model({}), f"no Inference Provider serves {CHAT}"),
        (
            chat_model(mapping("featherless-ai", CHAT_TASK, CHAT, status="staging")),
            f"no Inference Provider serves {CHAT} yet (featherless-ai: staging)",
        ),
        (chat_model(refusal="gone"), f"{CHAT} is not on the Hugging Face Hub"),
        (chat_model(refusal="down"), "the Hugging Face Hub is unavailable (HTTP 503)"),
    ],
    ids=["no mapping", "empty mapping", "staging only", "model gone", "hub down"],
)
def test_a_chat_model_no_provider_serves_is_answered_offline(
    stand_ins, tmp_path, question_wav, chat, notice
):
    _hub, proxy = stand_ins
    reset(stand_ins, chat)
    with app_with_token(stand_ins, tmp_path) as (client, log_path):
        question, answer, mp3, details = ask(client, question_wav)
        assert question == proxy.router.transcript  # transcription is still served
        assert details["notices"] == [f"answered offline: {notice}"]
        assert details["answer"] == "proverb bank" and answer and mp3 is not None
        assert proxy.router.of("llm") == []
        assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, answer, details)
        assert f"Inference Providers: answer ({CHAT}): {notice}" in log_path.read_text()


def test_a_token_the_hub_refuses_is_said_and_both_stages_answer_offline(
    stand_ins, tmp_path, question_wav
):
    hub, proxy = stand_ins
    reset(stand_ins, chat_model(LIVE_CHAT))
    hub.models[WHISPER].refusal = hub.models[CHAT].refusal = "token"
    with app_with_token(stand_ins, tmp_path) as (client, log_path):
        question, answer, _mp3, details = ask(client, question_wav)
    assert details["notices"] == [
        "transcribed offline: the Hugging Face token was refused",
        "answered offline: the Hugging Face token was refused",
    ]
    assert details["backends"] == "offline · whisper tiny.en · proverb bank · Piper"
    assert all(word in question.lower() for word in QUESTION_WORDS) and answer
    assert proxy.hosts == []  # no provider was called
    assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, answer, details)


def test_a_provider_named_in_the_settings_is_the_one_called(stand_ins, tmp_path, question_wav):
    _hub, proxy = stand_ins
    reset(stand_ins, chat_model(LIVE_CHAT))
    with app_with_token(stand_ins, tmp_path, MAGIC8_LLM_PROVIDER="hf-inference") as (client, _):
        _question, answer, _mp3, details = ask(client, question_wav)
    assert (answer, details["notices"]) == (SERVED_ANSWER, [])
    (chat,) = proxy.router.of("llm")
    assert chat.path == f"/hf-inference/models/{CHAT}/v1/chat/completions"


def test_a_provider_that_drops_the_model_sends_the_app_back_to_the_hub(
    stand_ins, tmp_path, question_wav
):
    hub, proxy = stand_ins
    reset(stand_ins, chat_model(LIVE_CHAT), llm="404")
    with app_with_token(stand_ins, tmp_path) as (client, log_path):
        _question, _answer, _mp3, details = ask(client, question_wav)
        assert details["notices"] == [
            f"answered offline: featherless-ai does not serve {CHAT} (HTTP 404)"
        ]
        hub.models[CHAT] = chat_model(mapping("hf-inference", CHAT_TASK, CHAT))
        proxy.router.reset()
        _question, answer, _mp3, details = ask(client, question_wav)
        assert (answer, details["notices"]) == (SERVED_ANSWER, [])
        (chat,) = proxy.router.of("llm")
        assert chat.path == f"/hf-inference/models/{CHAT}/v1/chat/completions"
        assert_the_token_went_only_to_the_hub_and_the_router(stand_ins, log_path, details)


def lookup_at(hub: FakeHub, now: list[float]) -> ProviderLookup:
    """A lookup against the Hub stand-in whose clock reads `now[0]`."""
    return ProviderLookup(TOKEN, endpoint=hub.url, clock=lambda: now[0])


def test_a_failed_lookup_is_asked_again_later_and_a_found_one_kept(stand_ins):
    hub, _proxy = stand_ins
    now = [0.0]
    lookup = lookup_at(hub, now)
    chat = ServedModel(CHAT, CHAT_TASK)
    reset(stand_ins, chat_model({}))
    with pytest.raises(ServedStageFailure, match="no Inference Provider serves"):
        lookup.provider_for(chat, timeout_s=5)
    hub.models[CHAT] = chat_model(LIVE_CHAT)  # a provider takes the model up
    with pytest.raises(ServedStageFailure):  # the failure is the answer for a while
        lookup.provider_for(chat, timeout_s=5)
    now[0] += FAILED_KEPT_S
    assert lookup.provider_for(chat, timeout_s=5) == "featherless-ai"
    hub.models[CHAT] = chat_model({})
    assert lookup.provider_for(chat, timeout_s=5) == "featherless-ai"  # kept a while
    assert len(hub.requests) == 2


def test_a_hub_out_of_reach_keeps_the_provider_found_before(stand_ins):
    hub, _proxy = stand_ins
    now = [0.0]
    lookup = lookup_at(hub, now)
    chat = ServedModel(CHAT, CHAT_TASK)
    reset(stand_ins, chat_model(LIVE_CHAT))
    assert lookup.provider_for(chat, timeout_s=5) == "featherless-ai"
    now[0] += FOUND_KEPT_S
    hub.models[CHAT].refusal = "hang"
    started = time.monotonic()
    assert lookup.provider_for(chat, timeout_s=1) == "featherless-ai"
    assert time.monotonic() - started < 5  # the lookup's own time limit held
    fresh = ServedModel(CHAT, CHAT_TASK, provider="hf-inference")
    with pytest.raises(ServedStageFailure, match="the Hugging Face Hub did not answer in time"):
        lookup.provider_for(fresh, timeout_s=1)
