"""The life of one turn: a recording in, its question transcribed, the answer written a
sentence at a time and spoken as MP3 chunks; a served stage that fails hands over to its offline
model, and the person is told why."""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, TypeVar

import numpy as np

from pipelines import audio, vad
from pipelines.ahead import run_ahead
from pipelines.asr import Transcriber
from pipelines.backends import Backends
from pipelines.errors import UserFacingError
from pipelines.live import GuessDropped, LiveQuestion
from pipelines.llm import Answerer, answer_text
from pipelines.remote import ServedStageFailure
from pipelines.settings import Settings
from pipelines.spoken_text import speakable, within_words
from pipelines.tts import PiperSpeaker
from pipelines.turn import Turn

log = logging.getLogger("magic8")
B = TypeVar("B")
T = TypeVar("T")

NOTHING_HEARD = "I didn't catch a question. Please ask again, a little closer to the microphone."
MAX_TEXT_CHARS = 2000  # /read_response: longer text is refused before it is even read


class Magic8Ball:
    """Answers spoken questions. Models load once and are shared across requests."""

    def __init__(self, settings: Settings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends
        self._guesses = ThreadPoolExecutor(2, thread_name_prefix="magic8-live")

    def warm_up(self) -> None:
        """Load every local model and run each once, so the first visitor does not wait.

        Served stages are not called: that would spend API quota at every start.
        """
        started = time.perf_counter()
        backends = self.backends
        silence = np.zeros(audio.ASR_SAMPLE_RATE, np.float32)
        vad.speech_span(silence)
        (backends.offline_transcriber or backends.transcriber).transcribe(
            silence, audio.ASR_SAMPLE_RATE
        )
        answer_text(backends.offline_answerer or backends.answerer, "Will this work?", seed=0)
        try:  # through the same path as requests (on ZeroGPU, a GPU worker may not be granted now)
            for _chunk in backends.speaker.stream_mp3(["Ready."], None):
                pass
        except Exception as error:  # noqa: BLE001 (an optimisation only; requests still work)
            log.warning("speech warm-up skipped (%s)", type(error).__name__)
        log.info("models loaded and warmed up in %.1f s", time.perf_counter() - started)

    def speak_ahead(self) -> threading.Thread | None:
        """Where the offline answers are a known few (the proverb bank) and Piper speaks, make
        their speech in the background, within MAGIC8_SPEECH_AHEAD_MB, so that a chosen answer
        sounds at once. The thread doing it, or None where nothing is spoken ahead."""
        speaker = self.backends.speaker
        answerer = self.backends.offline_answerer or self.backends.answerer
        budget_mb = self.settings.speech_ahead_mb
        if not (isinstance(speaker, PiperSpeaker) and answerer.answers and budget_mb):
            return None
        words = self.settings.max_spoken_words
        # What `_spoken` hands the speaker for each answer: its sentences as spoken.
        texts = [text for answer in answerer.answers for text in within_words([answer], words)]
        return speaker.speak_ahead(texts, int(budget_mb * 2**20))

    def _new_turn(self) -> Turn:
        """A turn that starts with the configured backends."""
        b = self.backends
        return Turn(b.transcriber, b.answerer, b.speaker)

    def _with_fallback(
        self,
        backend: B,
        fallback: B | None,
        offline: str,
        notices: list[str],
        call: Callable[[B], T],
    ) -> tuple[T, B]:
        """`call(backend)`, and the backend that answered: where `backend` is served and
        failed, `fallback` answers instead, and `notices` gets one that says why, after
        `offline` (e.g. "answered offline: the Inference credits are used up")."""
        try:
            return call(backend), backend
        except ServedStageFailure as failure:
            if fallback is None:
                raise
            notice = f"{offline}: {failure}"
            log.warning("%s", notice)
            if notice not in notices:
                notices.append(notice)
            return call(fallback), fallback

    def new_live_question(self) -> LiveQuestion[Turn]:
        """A question about to be recorded live: feed it microphone chunks, then hand it to
        `transcribe_live`."""
        return LiveQuestion(self._prepare_turn, self._guesses, self.settings.max_seconds)

    def _prepare_turn(self, speech: np.ndarray, dropped: Callable[[], bool]) -> Turn:
        """The question heard in `speech`, while the person may still talk; where speaking
        costs little, its answer is being written and spoken from then on, in the background
        (`turn.speech`). Raises GuessDropped once `dropped()`."""
        turn = self._transcribe_speech(speech)
        if dropped():
            raise GuessDropped
        if turn.speaker.speaks_ahead:
            turn.speech = run_ahead(lambda: self._spoken(turn), dropped)
        else:
            self.answer(turn)
        return turn

    def _transcribe_speech(self, speech: np.ndarray) -> Turn:
        """A new turn with the question heard in `speech` (16 kHz mono, trimmed to the speech).
        Raises UserFacingError."""
        turn = self._new_turn()

        def transcribe(transcriber: Transcriber) -> str:
            return transcriber.transcribe(speech, audio.ASR_SAMPLE_RATE)

        turn.question, turn.transcriber = self._with_fallback(
            turn.transcriber, self.backends.offline_transcriber, "transcribed offline",
            turn.notices, transcribe,
        )
        turn.timings.transcription_s = time.perf_counter() - turn.started
        if not any(ch.isalpha() for ch in turn.question):
            raise UserFacingError(NOTHING_HEARD)
        return turn

    def transcribe(self, audio_path: str | None) -> Turn:
        """Decode and check a recording, trim it to its speech (none: the person is told so
        before any model runs) and transcribe it: a new turn with the question.
        Raises UserFacingError."""
        started = time.perf_counter()
        if not audio_path:
            raise UserFacingError("Please record or upload a question first.")
        samples = audio.decode_question(audio_path, self.settings.max_seconds)
        span = vad.speech_span(samples)
        if span is None:
            raise UserFacingError(NOTHING_HEARD)
        turn = self._transcribe_speech(samples[span[0] : span[1]])
        turn.asked_at = started
        return turn

    def transcribe_live(self, live: LiveQuestion[Turn] | None) -> Turn:
        """`transcribe` for a question recorded live (see `new_live_question`). Where the
        question was ready at Stop, so is its answer. Raises UserFacingError."""
        if live is None:
            raise UserFacingError("Please record a question first.")
        turn = live.finish()
        if turn is None:
            raise UserFacingError(NOTHING_HEARD)
        turn.live, turn.asked_at = True, live.last_chunk_at
        if turn.started < live.last_chunk_at:  # a guess, begun while the person paused
            turn.timings.prepared_ahead_s = live.last_chunk_at - turn.started
        return turn

    def _sentences(self, turn: Turn) -> Iterator[str]:
        """The answer to the turn's question a sentence at a time, as it is written; fills
        `turn.answer` as it grows. A fresh random seed unless MAGIC8_SEED is set."""
        seed = self.settings.seed if self.settings.seed is not None else random.randrange(2**31)
        started = time.perf_counter()

        def first_sentence(answerer: Answerer) -> tuple[str, Iterator[str]]:
            sentences = answerer.sentences(turn.question, seed)
            return next(sentences), sentences  # where a served model's failure shows

        (first, rest), turn.answerer = self._with_fallback(
            turn.answerer, self.backends.offline_answerer, "answered offline", turn.notices,
            first_sentence,
        )
        turn.timings.answer_first_sentence_s = time.perf_counter() - started
        turn.answer = first
        yield first
        for sentence in rest:
            turn.answer += " " + sentence
            yield sentence
        turn.timings.answer_s = time.perf_counter() - started

    def answer(self, turn: Turn) -> str:
        """The whole answer to the turn's question (kept on the turn)."""
        for _sentence in self._sentences(turn):
            pass
        return turn.answer

    def _spoken(self, turn: Turn) -> Iterator[bytes]:
        """The turn's answer spoken as MP3 chunks; where the turn has no answer yet, it is
        written first, a sentence at a time, and the speech starts after the first sentence.
        Records the answer's and the speech's timings."""
        answering = turn.answer is None
        written = self._sentences(turn) if answering else [turn.answer]
        sentences = within_words(written, self.settings.max_spoken_words)
        started = time.perf_counter()  # before stream_mp3: Parler-TTS reads every sentence first
        chunks = turn.speaker.stream_mp3(sentences, self.settings.chunk_seconds)
        for index, chunk in enumerate(chunks):
            if index == 0:  # the speech's own part: after the first sentence was written
                writing = turn.timings.answer_first_sentence_s if answering else None
                spent = time.perf_counter() - started - (writing or 0.0)
                turn.timings.speech_first_chunk_s = spent
            yield chunk

    def answer_aloud(self, turn: Turn) -> Iterator[bytes]:
        """The turn's answer spoken, as MP3 chunks that join into one gapless MP3: made ahead
        during a pause, or now (see `_spoken`). Records and logs the turn's timings."""
        started = time.perf_counter()
        chunks = turn.speech or self._spoken(turn)
        for index, chunk in enumerate(chunks):
            if index == 0:
                since = turn.asked_at if turn.asked_at is not None else started
                turn.timings.first_audio_s = time.perf_counter() - since
            yield chunk
        log.info("%r -> %r; %s", turn.question, turn.answer, turn.timing_line())

    def read_response(self, answer: str) -> Iterator[bytes]:
        """Any answer text spoken, as MP3 chunks yielded as they are made: its first
        MAGIC8_MAX_SPOKEN_WORDS words as spoken (see `spoken_text`). Raises UserFacingError for
        text with nothing to say, or over MAX_TEXT_CHARS."""
        if len(answer) > MAX_TEXT_CHARS:
            raise UserFacingError(
                f"That text is too long to speak here (at most {MAX_TEXT_CHARS} characters)."
            )
        speakable(answer)  # nothing to say: the person is told so
        text = " ".join(within_words([answer], self.settings.max_spoken_words))
        return self.backends.speaker.stream_mp3([text], self.settings.chunk_seconds)
