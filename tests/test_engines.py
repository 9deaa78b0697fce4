"""The served stages on real serving engines, each started on loopback by the test:
llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) serving the SmolLM2
GGUF of the offline answers, and faster-whisper-server serving Whisper tiny.en (CTranslate2,
from PyPI, no network) over OpenAI's transcription API. The app is driven through
gradio_client, as README shows it."""

from __future__ import annotations

import os
import signal

import pytest
from gradio_client import Client, handle_file

from pipelines.llm import CLASSIC_ANSWERS
from tests.conftest import QUESTION_WORDS
from tests.support.engines import ChatServer, KillingRelay, TranscriptionServer, engines_env
from tests.support.helpers import app_server

API_TIMEOUT_S = 20


def ask(client: Client, path):
    """/ask, with a bound past the stage's budget and the offline answer."""
    job = client.submit(handle_file(str(path)), api_name="/ask")
    return job.result(timeout=API_TIMEOUT_S * 2 + 60)


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    with ChatServer.started(tmp_path_factory.mktemp("chat") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def transcription_server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("transcription") / "server.log"
    with TranscriptionServer.started(log_path) as server:
        yield server


def test_ask_is_answered_through_the_real_engines(
    chat_server, transcription_server, question_wav, tmp_path
):
    env = {**engines_env(chat_server, transcription_server), "HF_TOKEN": None}
    with app_server(env, tmp_path / "app.log") as url:
        question, answer, mp3, details = ask(Client(url, verbose=False), question_wav)

    print(f"\n{question!r} -> {answer!r}; {details['backends']}")
    assert all(word in question.lower() for word in QUESTION_WORDS)  # heard by the server
    assert details["transcription"] == transcription_server.label
    assert details["answer"] == chat_server.label and details["notices"] == []
    assert answer and answer not in CLASSIC_ANSWERS and len(answer.split()) <= 30
    assert mp3 is not None
    # Each engine's own log has the app's request.
    assert "POST /v1/audio/transcriptions" in transcription_server.log_path.read_text()
    assert "POST /v1/chat/completions" in chat_server.log_path.read_text()


def chat_env(url: str) -> dict[str, str | None]:
    """The app's settings for answering at `url` (transcription stays in the app)."""
    return {"MAGIC8_LLM_URL": url, "MAGIC8_LLM_API_MODEL": ChatServer.model,
            "MAGIC8_API_TIMEOUT": str(API_TIMEOUT_S), "HF_TOKEN": None}


def test_the_chat_server_dying_mid_answer_ends_in_the_offline_answer(question_wav, tmp_path):
    with ChatServer.started(tmp_path / "chat.log") as server:
        relay = KillingRelay(server)  # kills the server once its answer has begun
        try:
            with app_server(chat_env(relay.url), tmp_path / "app.log") as url:
                question, answer, mp3, details = ask(Client(url, verbose=False), question_wav)
        finally:
            relay.close()

    print(f"\n{question!r} -> {answer!r}; {details['notices']}")
    assert relay.killed.is_set() and server.process.poll() is not None
    assert all(word in question.lower() for word in QUESTION_WORDS)
    host = relay.url.removeprefix("http://")
    assert details["notices"] == [f"answered offline: {host} could not be reached"]
    assert details["answer"] == "proverb bank" and answer and mp3 is not None


def test_the_chat_server_dying_with_the_question_ends_in_the_offline_answer(
    question_wav, tmp_path
):
    with ChatServer.started(tmp_path / "chat.log") as server:
        with app_server(chat_env(server.url), tmp_path / "app.log") as url:
            client = Client(url, verbose=False)
            os.kill(server.process.pid, signal.SIGSTOP)  # it takes the question, no more
            job = client.submit(handle_file(str(question_wav)), api_name="/ask")
            server.wait_for_a_client(timeout_s=60)
            server.process.kill()  # and dies with it
            question, answer, mp3, details = job.result(timeout=API_TIMEOUT_S + 60)

    print(f"\n{question!r} -> {answer!r}; {details['notices']}")
    assert all(word in question.lower() for word in QUESTION_WORDS)
    assert details["notices"] == [f"answered offline: {server.host} could not be reached"]
    assert details["answer"] == "proverb bank" and answer and mp3 is not None
