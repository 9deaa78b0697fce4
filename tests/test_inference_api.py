"""Served stages at endpoints of our own (MAGIC8_ASR_URL, MAGIC8_LLM_URL): the real app pointed
at a loopback server that speaks the endpoints' wire formats, driven through gradio_client, in
every failure mode. (Inference Providers, with only HF_TOKEN set: test_providers.py.)"""

from __future__ import annotations

import io
from email.parser import BytesParser

import httpx
import pytest
import soundfile as sf
from gradio_client import Client, handle_file

from pipelines.llm import CLASSIC_ANSWERS, PERSONA
from tests.conftest import QUESTION_WORDS
from tests.support.fake_inference import FakeInferenceApi
from tests.support.helpers import app_server

TOKEN = "hf_TestTokenThatMustNeverShow1234"
API_TIMEOUT_S = 3
CHAT = "mistralai/Mistral-Small-3.1-24B-Instruct-2503"
# What each failure mode is called in the notice (after "transcribed/answered offline: HOST ").
REASONS = {
    "503": "is unavailable (HTTP 503)",
    "429": "is rate-limiting this app (HTTP 429)",
    "malformed": "answered something unusable",
    "hang": "did not answer in time",
}


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


@pytest.fixture(scope="module")
def served_openai(fake_api, tmp_path_factory):
    """The app with transcription at the fake server's OpenAI-style transcription API; yields
    its client."""
    log_path = tmp_path_factory.mktemp("served_openai") / "app.log"
    env = {
        "HF_TOKEN": TOKEN,
        "MAGIC8_ASR_URL": f"{fake_api.url}/v1/audio/transcriptions",
        "MAGIC8_ASR_API_MODEL": "whisper-1",
        "MAGIC8_LLM_URL": fake_api.url,
        "MAGIC8_API_TIMEOUT": str(API_TIMEOUT_S),
        "MAGIC8_SEED": None,
    }
    with app_server(env, log_path) as url:
        yield Client(url, verbose=False)


def form_fields(request) -> dict[str, tuple[str | None, bytes]]:
    """A multipart request's fields: name -> (file name, content)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser().parsebytes(head + request.body)
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(), part.get_payload(decode=True)
        )
        for part in message.get_payload()
    }


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
    chat = CHAT.rsplit("/", 1)[1]
    assert details["backends"] == f"served · whisper-large-v3 @ {host} · {chat} @ {host} · Piper"
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
    assert body["model"] == CHAT
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
    host = fake_api.url.removeprefix("http://")
    assert details["notices"] == [f"transcribed offline: {host} {REASONS[mode]}"]
    assert details["transcription"] == "whisper tiny.en"
    assert len(fake_api.of("asr")) == attempts


@pytest.mark.parametrize("mode, attempts", [("503", 2), ("429", 2), ("malformed", 2), ("hang", 1)])
def test_unavailable_answer_falls_back_offline(served, fake_api, question_wav, mode, attempts):
    client, _url, _log = served
    fake_api.reset(llm=mode)
    question, answer, _mp3, details = ask(client, question_wav)
    assert question == fake_api.transcript
    assert answer != "The sun shines on those who wait." and answer not in CLASSIC_ANSWERS
    host = fake_api.url.removeprefix("http://")
    assert details["notices"] == [f"answered offline: {host} {REASONS[mode]}"]
    assert details["answer"] == "proverb bank"
    assert len(fake_api.of("llm")) == attempts


def test_everything_down_answers_fully_offline(served, fake_api, question_wav):
    client, _url, _log = served
    fake_api.reset(asr="503", llm="503")
    _question, _answer, _mp3, details = ask(client, question_wav)
    assert details["backends"] == "offline · whisper tiny.en · proverb bank · Piper"


@pytest.mark.parametrize(
    "asr, llm, notice",
    [
        ("401", "ok", "transcribed offline: {host} refused the token"),
        ("ok", "401", "answered offline: {host} refused the token"),
        ("403", "ok", "transcribed offline: {host} refused access (HTTP 403)"),
        ("ok", "402", "answered offline: {host} asks for payment (HTTP 402)"),
    ],
)
def test_a_refusal_is_said_plainly_answered_offline_and_not_retried(
    served, fake_api, question_wav, asr, llm, notice
):
    client, _url, _log = served
    fake_api.reset(asr=asr, llm=llm)
    _question, answer, mp3, details = ask(client, question_wav)
    host = fake_api.url.removeprefix("http://")
    assert details["notices"] == [notice.format(host=host)]
    assert answer and mp3 is not None
    refused = "asr" if asr != "ok" else "llm"
    assert len(fake_api.of(refused)) == 1


def test_the_token_shows_nowhere(served, fake_api, question_wav):
    client, url, log_path = served
    fake_api.reset(asr="503", llm="401")
    seen = [repr(ask(client, question_wav)), log_path.read_text()]
    for page in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        response = httpx.get(url + page, timeout=10)
        seen.append(response.text)
    fake_api.reset()
    seen.append(repr(ask(client, question_wav)))
    assert all(TOKEN not in text for text in seen)
    assert any("answered offline" in text for text in seen[1:2])  # the log was read


def test_transcription_over_openais_api(served_openai, fake_api, question_wav):
    fake_api.reset()
    question, _answer, mp3, details = ask(served_openai, question_wav)
    assert question == fake_api.transcript and mp3 is not None
    host = fake_api.url.removeprefix("http://")
    assert details["transcription"] == f"whisper-1 @ {host}" and details["notices"] == []

    (asr,) = fake_api.of("asr")
    assert asr.path == "/v1/audio/transcriptions"
    assert asr.headers["content-type"].startswith("multipart/form-data")
    assert asr.headers["authorization"] == f"Bearer {TOKEN}"
    fields = form_fields(asr)
    assert fields["model"] == (None, b"whisper-1")
    assert fields["response_format"] == (None, b"json")
    name, wav = fields["file"]
    samples, rate = sf.read(io.BytesIO(wav))
    assert name.endswith(".wav") and rate == 16_000
    assert abs(samples.size / rate - sf.info(question_wav).duration) < 0.1


@pytest.mark.parametrize(
    "mode, attempts", [("503", 2), ("malformed", 2), ("hang", 1), ("401", 1)]
)
def test_openais_api_failing_falls_back_offline(
    served_openai, fake_api, question_wav, mode, attempts
):
    fake_api.reset(asr=mode)
    question, answer, _mp3, details = ask(served_openai, question_wav)
    assert all(word in question.lower() for word in QUESTION_WORDS)  # heard by tiny.en
    assert answer
    host = fake_api.url.removeprefix("http://")
    reason = REASONS.get(mode, "refused the token")
    assert details["notices"] == [f"transcribed offline: {host} {reason}"]
    assert len(fake_api.of("asr")) == attempts
