"""Recordings as the page's recorder sends them: in order, resent, broken, abandoned; the pause
that ends a hands-free question; the timing line of a question prepared while the person paused."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
import soundfile as sf

from pipelines.audio import ASR_SAMPLE_RATE, decode_question
from pipelines.errors import UserFacingError
from pipelines.vad import EndOfSpeech
from web.recordings import Chunk, Recordings

RATE = 16_000


def page_chunk(samples: np.ndarray, offset: int, recording: str | None = None) -> dict:
    """What the recorder's script sends for `samples` (float32) after `offset` samples."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return {"recording": recording, "offset": offset, "rate": RATE,
            "pcm": base64.b64encode(pcm).decode()}


def send(recordings: Recordings, audio: np.ndarray, real_time: bool = False) -> str:
    """`audio` sent as the page sends it, 0.1 s at a time (as it is spoken, with `real_time`);
    returns the recording id."""
    recording, piece = None, RATE // 10
    for start in range(0, audio.size, piece):
        chunk = page_chunk(audio[start : start + piece], start, recording)
        recording = recordings.add(Chunk.from_page(chunk)).recording
        if real_time:
            time.sleep(0.1)
    return recording


@pytest.fixture(scope="module")
def speech(question_wav) -> np.ndarray:
    return decode_question(str(question_wav), max_seconds=30)


@pytest.fixture
def recordings(ball) -> Recordings:
    return Recordings(ball.new_live_question, lifetime_s=60)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * ASR_SAMPLE_RATE), np.float32)


def test_recorded_question_is_the_uploaded_one_even_with_chunks_sent_twice(
    ball, recordings, speech, tmp_path
):
    audio = np.concatenate([speech, silence(1.0)])
    sf.write(tmp_path / "question.wav", audio, ASR_SAMPLE_RATE)
    recording = send(recordings, audio[:16_000])
    # A reply lost on the way: the page sends the same samples again, with more after them.
    reply = recordings.add(Chunk.from_page(page_chunk(audio[8_000:], 8_000, recording)))
    assert reply.received == audio.size
    live_turn = ball.transcribe_live(recordings.take(recording))
    one_shot = ball.transcribe(str(tmp_path / "question.wav"))
    assert live_turn.question == one_shot.question
    with pytest.raises(UserFacingError, match="ended or expired"):
        recordings.take(recording)  # answered once


@pytest.mark.parametrize(
    "data",
    [
        None,
        "audio",
        [],
        {},
        {"recording": None, "offset": 0, "rate": RATE},
        {"recording": None, "offset": -5, "rate": RATE, "pcm": ""},
        {"recording": None, "offset": 0, "rate": 1, "pcm": ""},
        {"recording": None, "offset": 0, "rate": 10**9, "pcm": ""},
        {"recording": None, "offset": 0, "rate": "16000", "pcm": ""},
        {"recording": None, "offset": 0.5, "rate": RATE, "pcm": ""},
        {"recording": None, "offset": 0, "rate": RATE, "pcm": "not base64!"},
        {"recording": None, "offset": 0, "rate": RATE, "pcm": "AA=="},  # an odd byte count
        {"recording": None, "offset": 0, "rate": RATE, "pcm": "A" * 10_000_000},  # too long
        {"recording": "../../etc/passwd", "offset": 0, "rate": RATE, "pcm": ""},
    ],
    ids=lambda data: repr(data)[:40],
)
def test_malformed_chunks_get_a_short_message(data):
    with pytest.raises(UserFacingError, match="did not reach the server intact"):
        Chunk.from_page(data)


def test_gaps_unknown_recordings_and_rate_changes_are_refused(recordings, speech):
    recording = send(recordings, speech[:3200])
    with pytest.raises(UserFacingError, match="intact"):  # 0.1 s missing
        recordings.add(Chunk.from_page(page_chunk(speech[4800:6400], 4800, recording)))
    changed = page_chunk(speech[3200:4800], 3200, recording) | {"rate": 48_000}
    with pytest.raises(UserFacingError, match="intact"):
        recordings.add(Chunk.from_page(changed))
    with pytest.raises(UserFacingError, match="ended or expired"):
        recordings.add(Chunk.from_page(page_chunk(speech[:1600], 0, "0" * 32)))
    with pytest.raises(UserFacingError, match="ended or expired"):
        recordings.take({"not": "an id"})


def test_an_abandoned_recording_is_dropped_and_an_ended_one_kept(ball, speech):
    recordings = Recordings(ball.new_live_question, lifetime_s=60, idle_s=0.2)
    abandoned = send(recordings, speech)
    last = page_chunk(silence(0.1), speech.size, send(recordings, speech)) | {"last": True}
    ended = recordings.add(Chunk.from_page(last)).recording
    time.sleep(1.5)  # no chunk comes: the recordings' own sweep drops the abandoned one
    assert recordings.open == 1
    with pytest.raises(UserFacingError, match="ended or expired"):
        recordings.take(abandoned)
    assert ball.transcribe_live(recordings.take(ended)).question


def test_past_the_limit_of_open_recordings_a_new_one_is_told_to_wait(ball):
    recordings = Recordings(ball.new_live_question, lifetime_s=60, most_open=2)
    first, _second = send(recordings, silence(0.2)), send(recordings, silence(0.2))
    with pytest.raises(UserFacingError, match="Please wait a moment"):
        send(recordings, silence(0.2))
    recordings.take(first)
    assert send(recordings, silence(0.2))  # a place is free again


def test_empty_chunks_are_ignored(recordings, speech):
    recording = send(recordings, speech[:1600])
    empty = Chunk.from_page(page_chunk(speech[:0], 1600, recording))
    assert recordings.add(empty).received == 1600


def test_silence_after_speech_is_measured_for_the_hands_free_pause(speech):
    end = EndOfSpeech()
    assert end.silence_s == 0  # nothing said yet: no pause to answer
    end.feed(silence(1.0))
    assert end.silence_s == 0
    end.feed(speech)
    end.feed(silence(0.2))
    short = end.silence_s
    end.feed(silence(0.6))
    assert 0.15 <= short < 0.35 and end.silence_s == pytest.approx(short + 0.6, abs=0.04)
    end.feed(speech)
    assert end.silence_s < short  # talking again


def test_a_question_prepared_during_the_pause_says_so(ball, recordings, speech):
    recording = send(recordings, np.concatenate([speech, silence(1.0)]), real_time=True)
    turn = ball.transcribe_live(recordings.take(recording))
    chunks = list(ball.answer_aloud(turn))
    t = turn.timings
    line = turn.timing_line()
    assert chunks and line.startswith("first sound") and "after you stopped" in line
    assert "prepared while you paused" in line
    assert t.prepared_ahead_s > 0
    # The stages ran between the start of the preparation and the first sound.
    stages = t.transcription_s + t.answer_first_sentence_s + t.speech_first_chunk_s
    assert stages <= t.prepared_ahead_s + t.first_audio_s
