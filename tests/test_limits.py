"""What a careless or hostile visitor can send: text that would make a voice talk for minutes,
text with nothing to say, broken audio, oversized uploads, closed routes; and what a request
holds: a cancelled one stops, a served reply that breaks our code is not called an outage."""

from __future__ import annotations

import asyncio
import threading

import anyio
import httpx
import numpy as np
import pytest
import requests
import soundfile as sf
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from pipelines import audio
from pipelines.errors import UserFacingError
from pipelines.llm import local_answerer, smollm2_gguf
from pipelines.remote import MalformedReply, ServedStageFailure, Service, call_with_retry
from pipelines.spoken_text import speakable, spoken_words, within_words
from web.relay import in_background

NOTHING = "nothing in that text I can say"
EMOJI = "".join(chr(0x1F600 + i % 80) for i in range(400))


@pytest.mark.parametrize(
    "text", ["😀" * 100, EMOJI, "\x00", "?!... ,;:", "\u200d\ufe0f\x07"],
    ids=["100 emoji", "400 emoji", "NUL", "punctuation", "invisible"],
)
def test_text_with_nothing_to_say_is_refused_with_a_message(ball, text):
    with pytest.raises(UserFacingError, match=NOTHING):
        ball.read_response(text)


def test_text_is_cleaned_before_it_is_spoken():
    assert speakable("Yes\x00 🎱 it\x07 will!!!!! ﬁne Ⅻ") == "Yes it will! fine XII"
    assert spoken_words("I paid $5 & 10%") == 8  # symbols and digits are said as words
    assert spoken_words("Supercalifragilisticexpialidocious") == 6


def test_speech_is_bounded_by_spoken_words(ball):
    numbers = b"".join(ball.read_response(" ".join(["1234567890" * 3] * 30)))
    one_number = b"".join(ball.read_response("1234567890" * 3))
    assert numbers == one_number  # only the first 30 spoken words are said
    with pytest.raises(UserFacingError, match="at most 2000 characters"):
        ball.read_response("Yes. " * 200_000)
    kept = list(within_words(["One two three.", "😀", "Four five six seven."], 5))
    assert kept == ["One two three.", "Four five"]


def test_speech_ends_at_the_time_limit_and_empty_speech_encodes_to_nothing():
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield np.zeros(16_000, np.float32)
        finally:
            closed.set()

    pieces = list(audio.at_most(endless(), 40_000))
    assert sum(piece.size for piece in pieces) == 40_000 and closed.is_set()
    assert b"".join(audio.mp3_chunks(iter([]), 22_050, 0.5)) == b""


def test_nan_and_infinity_in_an_upload_are_silence(tmp_path):
    samples = np.full(16_000, 0.1, np.float32)
    samples[::7], samples[1::7], samples[2::7] = np.nan, np.inf, 5.0
    path = tmp_path / "nan.wav"
    sf.write(path, samples, 16_000, subtype="FLOAT")
    decoded = audio.decode_question(str(path), max_seconds=30)
    assert np.isfinite(decoded).all() and np.abs(decoded).max() <= 1.0


def test_only_the_network_and_malformed_replies_are_retried():
    calls = []

    def fails_with(error):
        def call(_timeout):
            calls.append(error)
            raise error

        return call

    server = Service("10.0.0.5:8080", "some/model", hugging_face=False)
    for error, reason in (
        (requests.ConnectionError("down"), "10.0.0.5:8080 could not be reached"),
        (MalformedReply("no text"), "10.0.0.5:8080 answered something unusable"),
    ):
        calls.clear()
        with pytest.raises(ServedStageFailure, match=reason):
            call_with_retry(fails_with(error), budget_s=5, service=server)
        assert len(calls) == 2
    for bug in (ValueError("ours"), KeyError("text"), TypeError("none")):
        calls.clear()
        with pytest.raises(type(bug)):  # a bug: not retried, not called an outage
            call_with_retry(fails_with(bug), budget_s=5, service=server)
        assert len(calls) == 1


def test_a_cancelled_request_stops_its_work():
    made, closed = [], threading.Event()

    def endless():
        try:
            while True:
                made.append(1)
                yield len(made)
        finally:
            closed.set()

    async def read_two_then_leave() -> anyio.CapacityLimiter:
        slots = anyio.CapacityLimiter(1)
        items = in_background(endless, slots)
        assert [await anext(items), await anext(items)] == [1, 2]
        await items.aclose()
        assert closed.wait(10)
        await anyio.sleep(0.1)  # the slot is handed back through the event loop
        return slots

    assert asyncio.run(read_two_then_leave()).borrowed_tokens == 0  # the next request may go


def test_the_local_model_is_free_while_an_answer_is_being_spoken():
    answerer = local_answerer(smollm2_gguf(), threads=2)  # a GGUF chat model (MAGIC8_LLM_GGUF)
    assert answerer.name == "SmolLM2-135M"
    first = answerer.sentences("Will I travel this summer?", seed=1)
    next(first)  # this answer is being spoken: its reader is elsewhere
    other = []
    thread = threading.Thread(target=lambda: other.append(next(answerer.sentences("Hi?", 2))))
    thread.start()
    thread.join(60)
    first.close()
    assert other, "the second question waited for the first answer's reader"


def test_the_app_sends_security_headers_and_closes_foreign_redirects(server):
    url = server[0]
    page = httpx.get(url, timeout=10)
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors" in policy and "https://huggingface.co" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(url + "gradio_api/file=http://example.com/", timeout=10).status_code == 404
    for route in ("run", "api"):
        body = {"data": [], "fn_index": 0}
        response = httpx.post(f"{url}gradio_api/{route}/predict", json=body, timeout=10)
        assert response.status_code == 404


def test_an_oversized_upload_is_refused(server, client, tmp_path):
    big = tmp_path / "big.wav"
    with open(big, "wb") as file:
        file.truncate(40 * 2**20)
    with open(big, "rb") as file:
        response = httpx.post(server[0] + "gradio_api/upload", files={"files": file}, timeout=60)
    assert response.status_code == 413
    with pytest.raises((AppError, ValueError), match="maximum file size"):
        client.predict(handle_file(str(big)), api_name="/ask")


def test_read_response_through_the_api_says_why_it_refuses(client):
    with pytest.raises(AppError, match=NOTHING):
        client.predict("😀" * 100, api_name="/read_response")
