"""A question while it is being recorded: transcribed (and answered) in the background each
time the person pauses, so that when recording stops the answer is often ready."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import numpy as np

from pipelines import audio, vad

log = logging.getLogger("magic8")
R = TypeVar("R")
Span = tuple[int, int]
# Guesses are made while the recording is within Whisper's short window (a guess of longer
# speech costs far more CPU, and a question that long is rare), at most MAX_GUESSES per
# recording (each costs a transcription; a question with more pauses than that is prepared at
# stop, like an upload).
GUESS_SAMPLES = 10 * audio.ASR_SAMPLE_RATE
MAX_GUESSES = 2


class GuessDropped(Exception):
    """Raised by `prepare` between stages when its guess is no longer wanted."""


@dataclass
class _Guess(Generic[R]):
    result: Future[tuple[Span | None, R | None]]
    dropped: threading.Event  # set when the person speaks again: `prepare` stops early

    def drop(self) -> None:
        self.result.cancel()  # where it has not started
        self.dropped.set()


class LiveQuestion(Generic[R]):
    """The microphone's chunks as they arrive (`add`), resampled to 16 kHz mono.

    When `vad.EndOfSpeech` hears a pause (one of the first MAX_GUESSES, in the first
    GUESS_SAMPLES), the recording so far is trimmed with `vad.speech_span` and
    `prepare(speech, dropped)` (transcribe, and answer) runs on `executor`: a guess. When
    the person speaks again, the guess is dropped: `dropped()` turns True, and `prepare` may
    raise GuessDropped at its next stage, leaving the CPU to the next guess. `finish()` trims
    the whole recording the same way; where the speech is the same span as the last guess's
    (nothing was said since), the guess is the result, otherwise it prepares it now. Either
    way the transcript is what transcribing the whole recording at once gives.
    """

    def __init__(
        self,
        prepare: Callable[[np.ndarray, Callable[[], bool]], R],
        executor: Executor,
        max_seconds: float,
    ) -> None:
        self._prepare = prepare
        self._executor = executor
        self._max_samples = audio.most_samples(max_seconds)
        self._max_seconds = max_seconds
        self._resampler = audio.StreamResampler()
        self._end_of_speech = vad.EndOfSpeech()
        self._pieces: list[np.ndarray] = []
        self._size = 0
        self._guess: _Guess[R] | None = None
        self._guesses = 0
        self._guess_samples = min(GUESS_SAMPLES, self._max_samples)
        self._lock = threading.Lock()
        self.closed = False
        self.last_chunk_at = time.perf_counter()

    def add(self, sample_rate: int, chunk: np.ndarray) -> None:
        """Take the next chunk from the microphone; ignored after `finish` or past the limit."""
        with self._lock:
            if self.closed or self._size > self._max_samples:
                return
            self.last_chunk_at = time.perf_counter()
            samples = self._resampler(sample_rate, chunk)
            self._pieces.append(samples)
            self._size += samples.size
            speech_ended = self._end_of_speech.feed(samples)
            if self._guess is not None and (speech_ended or self._end_of_speech.speaking):
                self._guess.drop()  # the person spoke again: its speech is not the question
                self._guess = None
            if speech_ended and self._guesses < MAX_GUESSES and self._size <= self._guess_samples:
                self._guesses += 1
                dropped = threading.Event()
                result = self._executor.submit(self._prepare_speech, self._samples(), dropped)
                self._guess = _Guess(result, dropped)

    @property
    def silence_s(self) -> float:
        """How long the person has been quiet after speaking (0 while speaking or before)."""
        return self._end_of_speech.silence_s

    def close(self) -> None:
        """Drop the recording unanswered (abandoned): its audio, and its guess at the next stage."""
        with self._lock:
            self.closed = True
            self._pieces = []
            if self._guess is not None:
                self._guess.drop()

    def _samples(self) -> np.ndarray:
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return self._pieces[0] if self._pieces else np.zeros(0, np.float32)

    def _prepare_speech(
        self, samples: np.ndarray, dropped: threading.Event
    ) -> tuple[Span | None, R | None]:
        span = vad.speech_span(samples)
        if span is None:
            return span, None
        return span, self._prepare(samples[span[0] : span[1]], dropped.is_set)

    def finish(self) -> R | None:
        """`prepare` of the whole recording's speech (None when none of it is speech).

        Raises UserFacingError when the recording is too short or too long.
        """
        with self._lock:
            self.closed = True
            self._pieces.append(self._resampler.flush())
            samples = self._samples()
            guess = None if self._end_of_speech.speaking else self._guess
        seconds = samples.size / audio.ASR_SAMPLE_RATE
        audio.check_length(seconds, self._max_seconds, at_least=samples.size > self._max_samples)
        span = vad.speech_span(samples)
        if span is None:
            return None
        if guess is not None:
            try:
                guessed_span, result = guess.result.result()
            except Exception as error:  # noqa: BLE001 (made again below, where it counts)
                log.info("live guess failed (%s)", type(error).__name__)
                guessed_span, result = None, None
            if guessed_span == span:
                log.info("live guess ready at stop (%.1f s of audio)", seconds)
                return result
            guess.drop()  # its speech, where still being made, is not needed
        log.info("live guess not used at stop (%s)", "speaking" if guess is None else "changed")
        return self._prepare(samples[span[0] : span[1]], lambda: False)
