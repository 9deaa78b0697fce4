"""The served path: the real app pointed at a loopback server that speaks the Inference API's
wire formats, driven through gradio_client, in every failure mode."""

from __future__ import annotations

import io

import httpx
import pytest
import soundfile as sf
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from pipelines.llm import CLASSIC_ANSWERS, PERSONA
from tests.conftest import QUESTION_WORDS
from tests.fake_inference import FakeInferenceApi
from tests.helpers import app_server

TOKEN = "hf_TestTokenThatMustNeverShow1234"
API_TIMEOUT_S = 3
FALLBACK = "Inference API unavailable, answered offline"


@pytest.fixture(scope="module")
def fake_api():
    api = FakeInferenceApi()
    url = api.start()
    api.url = url
    yield api
    api.stop()


@pytest.fixture(scope="module")
def served(fake_api, tmp_path_factory):
    """The app with a token and both stages pointed at the fake server; yields (client, log)."""
    log_path = tmp_path_factory.mktemp("served") / "app.log"
    env = {
        "HF_TOKEN": TOKEN,
        "MAGIC8_ASR_URL": f"{fake_api.url}/asr",
        "MAGIC8_LLM_URL": fake_api.url,
        "MAGIC8_API_TIMEOUT": str(API_TIMEOUT_S),
        "MAGIC8_SEED": None,
    }
    with app_server(env, log_path) as url:
        yield Client(url, verbose=False), url, log_path


def ask(client: Client, path):
    # The client-side bound: the stage timeout plus a few seconds (offline fallback included).
    job = client.submit(handle_file(str(path)), api_name="/ask")
    return job.result(timeout=API_TIMEOUT_S + 10)


def test_both_stages_are_served_with_the_token(served, fake_api, question_wav):
    client, _url, _log = served
    fake_api.reset()
    question, answer, _mp3, details = ask(client, question_wav)
    assert question == fake_api.transcript
    assert answer == "The sun shines on those who wait."
    host = fake_api.url.removeprefix("http://")
    assert details["backends"] == (
        f"Inference API · whisper-large-v3 @ {host} · Mistral-7B-Instruct-v0.3 @ {host} · Piper"
    )
    assert details["notices"] == []

    (asr,) = fake_api.of("asr")
    assert asr.path == "/asr"
    assert asr.headers["content-type"].startswith("audio/")
    assert asr.headers["authorization"] == f"Bearer {TOKEN}"
    samples, rate = sf.read(io.BytesIO(asr.body))
    assert rate == 16_000 and abs(samples.size / rate - sf.info(question_wav).duration) < 0.1

    (chat,) = fake_api.of("llm")
    assert chat.path == "/v1/chat/completions"
    assert chat.headers["authorization"] == f"Bearer {TOKEN}"
    body = chat.json()
    assert body["model"] == "mistralai/Mistral-7B-Instruct-v0.3"
    assert body["messages"] == [
        {"role": "system", "content": PERSONA},
        {"role": "user", "content": f"Magic 8 Ball please answer this question - {question}"},
    ]
    assert body["max_tokens"] == 64
    assert isinstance(body["seed"], int)
    assert body["stream"] is True  # speech starts after the first sentence


def test_each_request_gets_a_fresh_seed(served, fake_api, question_wav):
    client, _url, _log = served
    fake_api.reset()
    ask(client, question_wav)
    ask(client, question_wav)
    first, second = (request.json()["seed"] for request in fake_api.of("llm"))
    assert first != second


def test_a_slow_server_within_the_timeout_still_answers(served, fake_api, question_wav):
    client, _url, _log = served
    fake_api.reset(asr="slow", llm="slow")
    question, answer, _mp3, details = ask(client, question_wav)
    assert (question, details["notices"]) == (fake_api.transcript, [])


@pytest.mark.parametrize("mode, attempts", [("503", 2), ("429", 2), ("malformed", 2), ("hang", 1)])
def test_unavailable_transcription_falls_back_offline(
    served, fake_api, question_wav, mode, attempts
):
    client, _url, _log = served
    fake_api.reset(asr=mode)
    question, answer, _mp3, details = ask(client, question_wav)
    assert all(word in question.lower() for word in QUESTION_WORDS)  # heard by tiny.en
    assert answer == "The sun shines on those who wait."  # the served answer still works
    assert details["notices"] == [FALLBACK]
    assert details["transcription"] == "whisper tiny.en"
    assert len(fake_api.of("asr")) == attempts


@pytest.mark.parametrize("mode, attempts", [("503", 2), ("429", 2), ("malformed", 2), ("hang", 1)])
def test_unavailable_answer_falls_back_offline(served, fake_api, question_wav, mode, attempts):
    client, _url, _log = served
    fake_api.reset(llm=mode)
    question, answer, _mp3, details = ask(client, question_wav)
    assert question == fake_api.transcript
    assert answer != "The sun shines on those who wait." and answer not in CLASSIC_ANSWERS
    assert details["notices"] == [FALLBACK]
    assert details["answer"] == "proverb bank"
    assert len(fake_api.of("llm")) == attempts


def test_everything_down_answers_fully_offline(served, fake_api, question_wav):
    client, _url, _log = served
    fake_api.reset(asr="503", llm="503")
    _question, _answer, _mp3, details = ask(client, question_wav)
    assert details["backends"] == "offline · whisper tiny.en · proverb bank · Piper"


@pytest.mark.parametrize("asr, llm", [("401", "ok"), ("ok", "401"), ("403", "ok")])
def test_refused_token_is_said_plainly_and_not_retried(served, fake_api, question_wav, asr, llm):
    client, _url, _log = served
    fake_api.reset(asr=asr, llm=llm)
    with pytest.raises(AppError, match="token was refused") as error:
        ask(client, question_wav)
    assert TOKEN not in str(error.value)
    refused = "asr" if asr != "ok" else "llm"
    assert len(fake_api.of(refused)) == 1


def test_the_token_shows_nowhere(served, fake_api, question_wav):
    client, url, log_path = served
    fake_api.reset(asr="503", llm="401")
    with pytest.raises(AppError) as error:
        ask(client, question_wav)
    seen = [str(error.value), log_path.read_text()]
    for page in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        response = httpx.get(url + page, timeout=10)
        seen.append(response.text)
    fake_api.reset()
    seen.append(repr(ask(client, question_wav)))
    assert all(TOKEN not in text for text in seen)
    assert any("Inference API unavailable" in text for text in seen)  # the log was read
