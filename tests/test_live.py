"""Finding the speech (Silero VAD), and a question transcribed while it is being recorded."""

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from pipelines import vad
from pipelines.ahead import run_ahead
from pipelines.audio import ASR_SAMPLE_RATE, decode_question
from pipelines.errors import UserFacingError
from pipelines.live import GuessDropped, LiveQuestion
from pipelines.magic8 import Magic8Ball

MIC_RATE = 48_000
CHUNK = 12_000  # 0.25 s at 48 kHz (the page sends every 0.1 s; a slow connection, longer)


class CountingTranscriber:
    """The real transcriber, remembering which thread made each call."""

    def __init__(self, real):
        self._real = real
        self.name, self.remote = real.name, real.remote
        self.threads: list[str] = []

    def transcribe(self, audio, sample_rate):
        self.threads.append(threading.current_thread().name)
        return self._real.transcribe(audio, sample_rate)


@pytest.fixture
def counting_ball(ball) -> Magic8Ball:
    spy = CountingTranscriber(ball.backends.transcriber)
    return Magic8Ball(ball.settings, dataclasses.replace(ball.backends, transcriber=spy))


@pytest.fixture(scope="module")
def speech(question_wav) -> np.ndarray:
    return decode_question(str(question_wav), max_seconds=30)


def silence(seconds: float, rate: int = ASR_SAMPLE_RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def microphone(audio_16k: np.ndarray) -> list[np.ndarray]:
    """`audio_16k` as the page's microphone sends it: 48 kHz int16 chunks (of CHUNK samples)."""
    at_48k = np.repeat(audio_16k, 3)
    return [
        (chunk * 32767).astype(np.int16)
        for chunk in np.array_split(at_48k, -(-at_48k.size // CHUNK))
    ]


def record_live(ball: Magic8Ball, audio_16k: np.ndarray):
    live = ball.new_live_question()
    for chunk in microphone(audio_16k):
        live.add(MIC_RATE, chunk)
    return live


def test_speech_span_is_the_question_with_a_little_room(speech):
    recording = np.concatenate([silence(1.0), speech, silence(2.0)])
    start, end = vad.speech_span(recording)
    speech_start, speech_end = ASR_SAMPLE_RATE * 1.0, ASR_SAMPLE_RATE * 1.0 + speech.size
    assert speech_start - 0.5 * ASR_SAMPLE_RATE < start <= speech_start
    assert speech_end - 0.1 * ASR_SAMPLE_RATE < end < speech_end + 0.5 * ASR_SAMPLE_RATE


@pytest.mark.parametrize(
    "recording",
    [silence(2.0), np.random.default_rng(0).normal(0, 0.05, 48_000).astype(np.float32)],
    ids=["silence", "noise"],
)
def test_no_speech_is_answered_before_any_model_runs(counting_ball, recording, tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, recording, ASR_SAMPLE_RATE)
    with pytest.raises(UserFacingError, match="didn't catch a question"):
        counting_ball.transcribe(str(path))
    with pytest.raises(UserFacingError, match="didn't catch a question"):
        counting_ball.transcribe_live(record_live(counting_ball, recording))
    assert counting_ball.backends.transcriber.threads == []


def test_live_answer_is_ready_at_stop_and_equals_one_shot(counting_ball, speech, tmp_path):
    recording = np.concatenate([silence(0.5), speech, silence(1.0)])
    path = tmp_path / "question.wav"
    sf.write(path, recording, ASR_SAMPLE_RATE)
    one_shot = counting_ball.transcribe(str(path))
    counting_ball.answer(one_shot)
    spy = counting_ball.backends.transcriber
    spy.threads.clear()

    live_turn = counting_ball.transcribe_live(record_live(counting_ball, recording))

    assert live_turn.question == one_shot.question
    assert live_turn.speech is not None  # being answered and spoken since the pause
    assert b"".join(counting_ball.answer_aloud(live_turn))
    assert live_turn.answer == one_shot.answer  # the same seed, the same answer
    assert spy.threads and all(name.startswith("magic8-live") for name in spy.threads)


def test_words_after_a_pause_are_not_lost(counting_ball, speech):
    recording = np.concatenate([silence(0.3), speech, silence(1.0), speech, silence(0.1)])
    question = counting_ball.transcribe_live(record_live(counting_ball, recording))
    assert question.question.lower().count("bicycle") == 2


def test_live_recordings_too_short_or_too_long_are_refused(ball):
    with pytest.raises(UserFacingError, match="only 0.0 s long"):
        ball.new_live_question().finish()
    too_long = np.full(int((ball.settings.max_seconds + 2) * ASR_SAMPLE_RATE), 0.1, np.float32)
    with pytest.raises(UserFacingError, match="long; questions can be at most 30.0 s"):
        ball.transcribe_live(record_live(ball, too_long))


def test_a_guess_is_dropped_when_the_person_speaks_again(speech):
    started, seen = threading.Event(), []

    def prepare(samples, dropped):  # a slow stage that stops once the guess is dropped
        started.set()
        for _ in range(500):
            if dropped():
                break
            time.sleep(0.01)
        seen.append(dropped())
        raise GuessDropped

    with ThreadPoolExecutor(1) as executor:
        live = LiveQuestion(prepare, executor, max_seconds=30)
        live.add(ASR_SAMPLE_RATE, np.concatenate([speech, silence(0.4)]))  # a pause: a guess
        assert started.wait(5)
        live.add(ASR_SAMPLE_RATE, speech)  # talking again
    assert seen == [True]


def test_speech_made_ahead_arrives_in_order_and_hands_over_its_error():
    assert list(run_ahead(lambda: iter([b"a", b"b", b"c"]), lambda: False)) == [b"a", b"b", b"c"]

    def failing():
        yield b"a"
        raise RuntimeError("the voice broke")

    chunks = run_ahead(failing, lambda: False)
    assert next(chunks) == b"a"
    with pytest.raises(RuntimeError, match="the voice broke"):
        next(chunks)


def test_speech_made_ahead_stops_when_the_guess_is_dropped():
    dropped, made, closed = threading.Event(), [], threading.Event()

    def endless():
        try:
            while True:
                made.append(b"x")
                yield b"x"
                time.sleep(0.01)
        finally:
            closed.set()

    run_ahead(endless, dropped.is_set)
    time.sleep(0.1)
    dropped.set()
    assert closed.wait(5)  # the work itself was closed, not just left unread
    count = len(made)
    time.sleep(0.1)
    assert len(made) == count


def test_speech_made_ahead_stops_when_nobody_reads_it_any_more():
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield b"x"
                time.sleep(0.01)
        finally:
            closed.set()

    chunks = run_ahead(endless, lambda: False)
    next(chunks)
    chunks.close()  # the page went away mid-answer
    assert closed.wait(5)


def test_a_failed_guess_is_made_again_at_stop(speech):
    calls = []

    def prepare(samples, dropped):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise RuntimeError("the server hiccuped")
        return "the question"

    with ThreadPoolExecutor(1, thread_name_prefix="guess") as executor:
        live = LiveQuestion(prepare, executor, max_seconds=30)
        live.add(ASR_SAMPLE_RATE, np.concatenate([speech, silence(0.6)]))
        assert live.finish() == "the question"
    assert len(calls) == 2 and calls[0].startswith("guess")
