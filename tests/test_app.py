"""End to end: the real app on a loopback port, driven by the real gradio_client."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from pipelines.audio import decode_question
from tests.conftest import QUESTION_WORDS
from tests.support.helpers import ROOT, RecorderRoute, ffmpeg

TIMEOUT_S = 60  # far above any real request; a hang fails the test instead of the whole run


def ask(client, path, api_name="/ask"):
    return client.submit(handle_file(str(path)) if path else None, api_name=api_name).result(
        timeout=TIMEOUT_S
    )


def test_ask_returns_transcript_answer_and_mp3(client, question_wav):
    question, answer, mp3_path, details = ask(client, question_wav)
    for word in QUESTION_WORDS:
        assert word in question.lower()
    assert details["backends"] == "offline · whisper tiny.en · proverb bank · Piper"
    assert details["notices"] == []
    timings = details["timings"]
    stages = ("transcription_s", "answer_first_sentence_s", "answer_s", "speech_first_chunk_s")
    assert all(0 <= timings[stage] < timings["first_audio_s"] for stage in stages)  # the bank: 0.0
    assert 1 <= len(answer.split()) <= 30
    assert "magic 8 ball" not in answer.lower()
    samples, rate = sf.read(mp3_path)
    assert samples.size / rate >= 0.5
    assert np.sqrt(np.mean(samples**2)) > 0.01


def test_ask_stream_sends_the_question_then_each_piece_of_speech(client, question_wav):
    job = client.submit(handle_file(str(question_wav)), api_name="/ask_stream")
    updates = [tuple(update) for update in job]
    question, answer, piece = updates[0]
    assert all(word in question.lower() for word in QUESTION_WORDS)
    assert (answer, piece) == ("", None)  # the question shows before the answer exists
    pieces = [piece for _q, _a, piece in updates[1:]]
    assert len(pieces) >= 2 and all(Path(piece).stat().st_size for piece in pieces)
    assert len(set(pieces)) == len(pieces)  # a new file each time, not the same one resent
    assert all(q == question and a == updates[-1][1] for q, a, _p in updates[1:])


def test_stereo_48k_upload_is_understood(client, question_wav, tmp_path):
    stereo = tmp_path / "stereo48k.wav"
    ffmpeg("-i", str(question_wav), "-ar", "48000", "-ac", "2", str(stereo))
    question, _answer, _mp3, _details = ask(client, stereo)
    assert all(word in question.lower() for word in QUESTION_WORDS)


def _silence(path: Path) -> None:
    sf.write(path, np.zeros(32_000, np.float32), 16_000)


def _noise(path: Path) -> None:
    sf.write(path, np.random.default_rng(1).normal(0, 0.05, 48_000).astype(np.float32), 16_000)


def _blip(path: Path) -> None:
    sf.write(path, 0.3 * np.ones(1_600, np.float32), 16_000)


def _ten_minutes(path: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=600", "-b:a", "32k", str(path))


BAD_INPUTS = {
    "nothing": (None, None, "record or upload a question"),
    "too short": ("blip.wav", _blip, "only 0.1 s long"),
    "silence": ("silence.wav", _silence, "didn't catch a question"),
    "noise": ("noise.wav", _noise, "didn't catch a question"),
    "corrupt": ("corrupt.wav", lambda p: p.write_bytes(bytes(range(256)) * 40), "not a recording"),
    "text as mp3": ("notes.mp3", lambda p: p.write_text("buy milk\n" * 50), "not a recording"),
    "ten minutes": ("long.mp3", _ten_minutes, "10 min 0 s long"),
}


@pytest.mark.parametrize("api_name", ["/ask", "/ask_stream", "/ask_hls"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_human_message(client, tmp_path, case, api_name):
    name, make, message = BAD_INPUTS[case]
    path = None
    if name:
        path = tmp_path / name
        make(path)
    with pytest.raises(AppError) as error:
        ask(client, path, api_name)
    assert message in str(error.value)
    assert "Traceback" not in str(error.value)


def test_still_answers_after_bad_input(client, question_wav, tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_text("not audio")
    with pytest.raises(AppError):
        ask(client, broken)
    question, answer, _mp3, _details = ask(client, question_wav)
    assert "bicycle" in question.lower() and answer


def test_readme_client_snippet_runs(server, question_wav, tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"<!-- client-snippet -->\s*```python\n(.*?)```", readme, re.S).group(1)
    snippet = snippet.replace("http://127.0.0.1:7860/", server[0]).replace(
        '"question.wav"', repr(str(question_wav))
    )
    monkeypatch.chdir(tmp_path)  # where the snippet writes answer.mp3
    scope: dict = {}
    exec(compile(snippet, "README.md", "exec"), scope)
    assert "bicycle" in scope["question"].lower()
    assert scope["answer"] and Path(scope["mp3_path"]).stat().st_size > 1000
    assert (tmp_path / "answer.mp3").read_bytes() == Path(scope["mp3_path"]).read_bytes()


def test_read_response_speaks_short_texts_only(client):
    text = "The proof of the pudding is in the eating."
    pieces = list(client.submit(text, api_name="/read_response"))
    assert pieces and all(Path(piece).stat().st_size for piece in pieces)
    refused = [("word " * 500, "too long to speak"), ("   ", "write the text"),
               (12, "write the text"), (["a", "b"], "write the text"), (None, "write the text")]
    for text, message in refused:
        with pytest.raises(AppError, match=message):
            client.submit(text, api_name="/read_response").result(timeout=TIMEOUT_S)


@pytest.mark.parametrize("api_name", ["/ask", "/ask_stream"])
@pytest.mark.parametrize(
    "audio",
    ["/etc/passwd", {"path": "/etc/passwd"}, {"path": 7, "meta": {"_type": "gradio.FileData"}},
     ["question.wav"], 12],
    ids=["bare path", "no meta", "not a path", "list", "number"],
)
def test_api_refuses_what_is_not_an_uploaded_file(server, api_name, audio):
    from gradio_client import Client

    with pytest.raises(AppError, match="as an audio file"):
        Client(server[0], verbose=False).predict(audio, api_name=api_name)


@pytest.mark.parametrize(
    "data",
    [None, "", [], {"offset": 0}, {"recording": None, "offset": 0, "rate": 16_000, "pcm": "%%%"},
     {"recording": None, "offset": 0, "rate": 16_000, "pcm": "A" * 2_000_000},
     {"recording": "f" * 32, "offset": 0, "rate": 16_000, "pcm": ""}],
    ids=["none", "empty", "list", "no audio", "not base64", "huge", "unknown recording"],
)
def test_the_recorder_route_answers_hostile_chunks_with_a_message(server, data):
    reply = RecorderRoute(server[0]).send(data)
    assert set(reply) == {"error"} and "Please record your question again" in reply["error"]


@pytest.mark.parametrize(
    "recording", [None, "", [], {"recording": "x"}, "f" * 32, "x" * 2_000_000],
    ids=["none", "empty", "list", "dict", "unknown", "huge"],
)
def test_dropping_a_recording_that_is_not_there_changes_nothing(server, recording):
    route = RecorderRoute(server[0])
    kept = route.send({"recording": None, "offset": 0, "rate": 16_000, "pcm": ""})["recording"]
    assert route.drop(recording) == {}
    assert route.send({"recording": kept, "offset": 0, "rate": 16_000, "pcm": ""})["received"] == 0


def test_a_recording_left_for_a_new_question_is_dropped(server):
    route = RecorderRoute(server[0])
    left = route.send({"recording": None, "offset": 0, "rate": 16_000, "pcm": ""})["recording"]
    assert route.drop(left) == {}
    reply = route.send({"recording": left, "offset": 0, "rate": 16_000, "pcm": ""})
    assert "Please record your question again" in reply["error"]
    assert route.drop(left) == {}  # twice: nothing more happens


def test_the_recorder_route_adds_a_chunk_sent_twice_once(server, question_wav):
    route = RecorderRoute(server[0])
    samples = decode_question(str(question_wav), max_seconds=30)
    pcm = (np.concatenate([samples, np.zeros(8_000, np.float32)]) * 32767).astype("<i2")
    first = route.send({"recording": None, "offset": 0, "rate": 16_000,
                       "pcm": base64.b64encode(pcm.tobytes()).decode()})
    assert first["received"] == pcm.size and len(first["recording"]) == 32
    again = route.send({"recording": first["recording"], "offset": 0, "rate": 16_000,
                       "pcm": base64.b64encode(pcm[:1600].tobytes()).decode()})
    assert again["received"] == pcm.size  # sent twice, heard once
