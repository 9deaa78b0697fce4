"""The orchestration: recording -> question -> answer -> spoken MP3 chunks."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from pipelines import audio
from pipelines.asr import FasterWhisperTranscriber, Transcriber, tiny_en_model_dir
from pipelines.errors import UserFacingError
from pipelines.llm import Answerer, LlamaCppAnswerer, smollm2_gguf
from pipelines.settings import Settings
from pipelines.tts import PiperSpeaker, Speaker, joe_voice_path

log = logging.getLogger("magic8")

NOTHING_HEARD = "I didn't catch a question. Please ask again, a little closer to the microphone."


@dataclass(frozen=True)
class Backends:
    """One implementation per stage, chosen once from Settings."""

    transcriber: Transcriber
    answerer: Answerer
    speaker: Speaker
    where: str = "offline"

    @property
    def label(self) -> str:
        """A line for people: e.g. "offline · whisper tiny.en · SmolLM2-135M · Piper"."""
        names = (self.transcriber.name, self.answerer.name, self.speaker.name)
        return " · ".join((self.where, *names))


def embedded_backends(settings: Settings) -> Backends:
    """The models shipped on PyPI that run on a CPU with no network."""
    if settings.hf_token:
        log.warning("HF_TOKEN is set but the Inference API path is not built yet; it is ignored.")
    return Backends(
        transcriber=FasterWhisperTranscriber(
            tiny_en_model_dir(), f"whisper {settings.asr_model}", settings.threads
        ),
        answerer=LlamaCppAnswerer(
            settings.llm_gguf or smollm2_gguf(), "SmolLM2-135M", settings.threads
        ),
        speaker=PiperSpeaker(settings.piper_voice or joe_voice_path()),
    )


class Magic8Ball:
    """Answers spoken questions. Models load lazily, once, and are shared across requests."""

    def __init__(self, settings: Settings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends

    def warm_up(self) -> None:
        """Load every model and run each once, so the first visitor does not wait for loading."""
        started = time.perf_counter()
        silence = np.zeros(audio.ASR_SAMPLE_RATE, np.float32)
        self.backends.transcriber.transcribe(silence, audio.ASR_SAMPLE_RATE)
        self.backends.answerer.answer("Will this work?", seed=0)
        for _chunk in self.backends.speaker.stream("Ready."):
            pass
        log.info("models loaded and warmed up in %.1f s", time.perf_counter() - started)

    def transcribe(self, audio_path: str | None) -> str:
        """Decode and check the recording, then transcribe it. Raises UserFacingError."""
        if not audio_path:
            raise UserFacingError("Please record or upload a question first.")
        samples = audio.decode_question(audio_path, self.settings.max_seconds)
        if audio.is_silent(samples):
            raise UserFacingError(NOTHING_HEARD)
        started = time.perf_counter()
        question = self.backends.transcriber.transcribe(samples, audio.ASR_SAMPLE_RATE)
        log.info(
            "transcribed %.1f s of audio in %.2f s",
            samples.size / audio.ASR_SAMPLE_RATE,
            time.perf_counter() - started,
        )
        if not any(ch.isalpha() for ch in question):
            raise UserFacingError(NOTHING_HEARD)
        return question

    def answer(self, question: str) -> str:
        """A Magic 8 Ball answer; a fresh random seed per request unless MAGIC8_SEED is set."""
        seed = self.settings.seed if self.settings.seed is not None else random.randrange(2**31)
        started = time.perf_counter()
        answer = self.backends.answerer.answer(question, seed)
        log.info("answered in %.2f s", time.perf_counter() - started)
        return answer

    def generate_response(self, audio_path: str | None) -> Iterator[tuple[str, str | None]]:
        """Yield (question, None) as soon as it is transcribed, then (question, answer)."""
        question = self.transcribe(audio_path)
        yield question, None
        yield question, self.answer(question)

    def read_response(self, answer: str) -> Iterator[bytes]:
        """The spoken answer as MP3 chunks (each self-contained), yielded as they are made."""
        speaker = self.backends.speaker
        max_samples = max(1, int(self.settings.chunk_seconds * speaker.sample_rate))
        started = time.perf_counter()
        for index, chunk in enumerate(audio.rechunk(speaker.stream(answer), max_samples)):
            if index == 0:
                log.info("first speech chunk after %.2f s", time.perf_counter() - started)
            yield audio.encode_mp3(chunk, speaker.sample_rate)

    def speak(self, answer: str) -> bytes:
        """The whole spoken answer as one MP3."""
        speaker = self.backends.speaker
        chunks = list(speaker.stream(answer))
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return audio.encode_mp3(samples, speaker.sample_rate)
