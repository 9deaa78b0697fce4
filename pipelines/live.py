"""A question while it is being recorded: transcribed (and answered) in the background each
time the person pauses, so that when recording stops the answer is often ready."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, Future
from typing import Callable, Generic, TypeVar

import numpy as np

from pipelines import audio, vad

log = logging.getLogger("magic8")
R = TypeVar("R")
Span = tuple[int, int]


class LiveQuestion(Generic[R]):
    """The microphone's chunks as they arrive (`add`), resampled to 16 kHz mono.

    When `vad.EndOfSpeech` hears a pause, the recording so far is trimmed with `vad.speech_span`
    and `prepare(speech)` (transcribe, and answer) runs on `executor`: a guess. `finish()` trims
    the whole recording the same way; where the speech is the same span as the last guess's
    (nothing was said since), the guess is the result, otherwise it prepares it now. Either
    way the transcript is what transcribing the whole recording at once gives.
    """

    def __init__(
        self, prepare: Callable[[np.ndarray], R], executor: Executor, max_seconds: float
    ) -> None:
        self._prepare = prepare
        self._executor = executor
        self._max_samples = audio.most_samples(max_seconds)
        self._max_seconds = max_seconds
        self._resampler = audio.StreamResampler()
        self._end_of_speech = vad.EndOfSpeech()
        self._pieces: list[np.ndarray] = []
        self._size = 0
        self._guess: Future[tuple[Span | None, R | None]] | None = None
        self._lock = threading.Lock()
        self.closed = False

    def add(self, sample_rate: int, chunk: np.ndarray) -> None:
        """Take the next chunk from the microphone; ignored after `finish` or past the limit."""
        with self._lock:
            if self.closed or self._size > self._max_samples:
                return
            samples = self._resampler(sample_rate, chunk)
            self._pieces.append(samples)
            self._size += samples.size
            if self._end_of_speech.feed(samples) and self._size <= self._max_samples:
                if self._guess is not None:
                    self._guess.cancel()  # superseded (only stops it if it has not started)
                self._guess = self._executor.submit(self._prepare_speech, self._samples())

    def _samples(self) -> np.ndarray:
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return self._pieces[0] if self._pieces else np.zeros(0, np.float32)

    def _prepare_speech(self, samples: np.ndarray) -> tuple[Span | None, R | None]:
        span = vad.speech_span(samples)
        return span, (None if span is None else self._prepare(samples[span[0] : span[1]]))

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
            guessed_span, result = guess.result()
            if guessed_span == span:
                log.info("live guess ready at stop (%.1f s of audio)", seconds)
                return result
        log.info("live guess not used at stop (%s)", "speaking" if guess is None else "changed")
        return self._prepare(samples[span[0] : span[1]])
