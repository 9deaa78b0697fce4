"""The orchestration: recording -> question -> answer -> spoken MP3 chunks, with fallbacks."""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np

from pipelines import audio, vad
from pipelines.asr import FasterWhisperTranscriber, InferenceApiTranscriber, Transcriber
from pipelines.asr import tiny_en_model_dir
from pipelines.errors import UserFacingError
from pipelines.live import LiveQuestion
from pipelines.llm import Answerer, InferenceApiAnswerer, local_answerer, smollm2_gguf
from pipelines.remote import ApiAuthError, ApiUnavailable
from pipelines.settings import Settings
from pipelines.tts import Speaker, choose_speaker, joe_voice_path

log = logging.getLogger("magic8")
S = TypeVar("S")
T = TypeVar("T")

NOTHING_HEARD = "I didn't catch a question. Please ask again, a little closer to the microphone."
API_FALLBACK = "Inference API unavailable, answered offline"
MAX_SPOKEN_CHARS = 400  # a 30-word answer is well under this; /read_response takes any text
TOKEN_REFUSED = (
    "The Hugging Face token was refused: it is invalid or has no access to this model. "
    "Whoever runs this app needs to set a valid HF_TOKEN."
)


@dataclass(frozen=True)
class Backends:
    """One implementation per stage, chosen once from Settings.

    A stage served over the network has an offline fallback, used when the server fails.
    """

    transcriber: Transcriber
    answerer: Answerer
    speaker: Speaker
    offline_transcriber: Transcriber | None = None
    offline_answerer: Answerer | None = None

    @property
    def label(self) -> str:
        """What answers when all goes well, e.g. "offline · whisper tiny.en · SmolLM2-135M · Piper"."""
        return describe_backends(self.transcriber, self.answerer, self.speaker)


def describe_backends(transcriber: Transcriber, answerer: Answerer, speaker: Speaker) -> str:
    """The line under the answer: where it ran, then each stage's model."""
    served = transcriber.remote or answerer.remote
    where = "Inference API" if served else "offline"
    return " · ".join((where, transcriber.name, answerer.name, speaker.name))


def embedded_backends(settings: Settings) -> Backends:
    """The models shipped on PyPI that run on a CPU with no network (and Parler-TTS for the
    speech where a GPU is there for it)."""
    return Backends(
        transcriber=FasterWhisperTranscriber(
            tiny_en_model_dir(), f"whisper {settings.asr_model}", settings.threads
        ),
        answerer=local_answerer(
            Path(settings.llm_gguf) if settings.llm_gguf else smollm2_gguf(), settings.threads
        ),
        speaker=choose_speaker(
            settings.tts,
            Path(settings.piper_voice) if settings.piper_voice else joe_voice_path(),
            settings.parler_model,
            settings.parler_description,
            settings.parler_play_seconds,
            deterministic=settings.seed is not None,
        ),
    )


def build_backends(settings: Settings) -> Backends:
    """Served stages where a token or endpoint URL is set, each with its offline fallback;
    the embedded models everywhere else."""
    offline = embedded_backends(settings)
    if not (settings.asr_remote or settings.llm_remote):
        return offline
    backends = Backends(
        transcriber=InferenceApiTranscriber(
            settings.asr_api_model, settings.asr_url, settings.hf_token, settings.api_timeout
        )
        if settings.asr_remote
        else offline.transcriber,
        answerer=InferenceApiAnswerer(
            settings.llm_api_model, settings.llm_url, settings.hf_token, settings.api_timeout
        )
        if settings.llm_remote
        else offline.answerer,
        speaker=offline.speaker,
        offline_transcriber=offline.transcriber if settings.asr_remote else None,
        offline_answerer=offline.answerer if settings.llm_remote else None,
    )
    log.info("served stages: %s (offline fallbacks ready)", backends.label)
    return backends


@dataclass
class Turn:
    """One question and its answer, which backend did each stage, and what to tell the person."""

    transcriber: Transcriber
    answerer: Answerer
    speaker: Speaker
    question: str = ""
    answer: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The backends that answered this turn, for the small line under the answer."""
        return describe_backends(self.transcriber, self.answerer, self.speaker)

    def details(self) -> dict:
        """What `/ask` reports besides the answer: the backends of each stage and any notices."""
        return {
            "backends": self.label,
            "transcription": self.transcriber.name,
            "answer": self.answerer.name,
            "speech": self.speaker.name,
            "notices": list(self.notices),
        }


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
        (backends.offline_answerer or backends.answerer).answer("Will this work?", seed=0)
        try:  # through the same path as requests (on ZeroGPU, a GPU worker may not be granted now)
            for _chunk in backends.speaker.stream_mp3("Ready.", None):
                pass
        except Exception as error:  # noqa: BLE001 (an optimisation only; requests still work)
            log.warning("speech warm-up skipped (%s)", type(error).__name__)
        log.info("models loaded and warmed up in %.1f s", time.perf_counter() - started)

    def _new_turn(self) -> Turn:
        """A turn that starts with the configured backends."""
        b = self.backends
        return Turn(b.transcriber, b.answerer, b.speaker)

    def _run_stage(self, turn: Turn, stage: str, fallback: S | None, call: Callable[[S], T]) -> T:
        """`call(backend)` with the turn's backend for `stage`; when its server is unavailable,
        again with the offline `fallback`, recorded on the turn with a notice for the person."""
        try:
            return call(getattr(turn, stage))
        except ApiAuthError as error:
            log.error("%s: the Inference API refused the token (%s)", stage, error)
            raise UserFacingError(TOKEN_REFUSED) from None
        except ApiUnavailable as error:
            if fallback is None:
                raise
            log.warning("%s: Inference API unavailable (%s); answering offline", stage, error)
            setattr(turn, stage, fallback)
            if API_FALLBACK not in turn.notices:
                turn.notices.append(API_FALLBACK)
            return call(fallback)

    def listen(self) -> LiveQuestion[Turn]:
        """A question about to be recorded live: feed it microphone chunks, then hand it to
        `generate_live_response`."""
        return LiveQuestion(self._prepare_turn, self._guesses, self.settings.max_seconds)

    def _prepare_turn(self, speech: np.ndarray) -> Turn:
        """The question heard in `speech` and its answer, while the person may still talk."""
        turn = self._transcribe_speech(speech)
        turn.answer = self.answer(turn.question, turn)
        return turn

    def _transcribe_speech(self, speech: np.ndarray) -> Turn:
        """A new turn with the question heard in `speech` (16 kHz mono, trimmed to the speech).
        Raises UserFacingError."""
        turn = self._new_turn()
        started = time.perf_counter()
        turn.question = self._run_stage(
            turn,
            "transcriber",
            self.backends.offline_transcriber,
            lambda transcriber: transcriber.transcribe(speech, audio.ASR_SAMPLE_RATE),
        )
        log.info(
            "transcribed %.1f s of speech in %.2f s",
            speech.size / audio.ASR_SAMPLE_RATE,
            time.perf_counter() - started,
        )
        if not any(ch.isalpha() for ch in turn.question):
            raise UserFacingError(NOTHING_HEARD)
        return turn

    def transcribe(self, audio_path: str | None) -> Turn:
        """Decode and check a recording, trim it to its speech (none: the person is told so
        before any model runs) and transcribe it. Raises UserFacingError."""
        if not audio_path:
            raise UserFacingError("Please record or upload a question first.")
        samples = audio.decode_question(audio_path, self.settings.max_seconds)
        span = vad.speech_span(samples)
        if span is None:
            raise UserFacingError(NOTHING_HEARD)
        return self._transcribe_speech(samples[span[0] : span[1]])

    def answer(self, question: str, turn: Turn | None = None) -> str:
        """A Magic 8 Ball answer; a fresh random seed per request unless MAGIC8_SEED is set."""
        turn = turn or self._new_turn()
        seed = self.settings.seed if self.settings.seed is not None else random.randrange(2**31)
        started = time.perf_counter()
        answer = self._run_stage(
            turn,
            "answerer",
            self.backends.offline_answerer,
            lambda answerer: answerer.answer(question, seed),
        )
        log.info("answered in %.2f s", time.perf_counter() - started)
        return answer

    def generate_response(self, audio_path: str | None) -> Iterator[Turn]:
        """Yield the turn as soon as the question is transcribed, then again with the answer."""
        return self._respond(lambda: self.transcribe(audio_path))

    def generate_live_response(self, live: LiveQuestion[Turn] | None) -> Iterator[Turn]:
        """`generate_response` for a question recorded live (see `listen`). Where the question
        was ready at Stop, so is its answer: the one turn yielded has both."""

        def heard() -> Turn:
            turn = live.finish() if live is not None else None
            if live is None or turn is None:
                raise UserFacingError(NOTHING_HEARD if live else "Please record a question first.")
            return turn

        return self._respond(heard)

    def _respond(self, heard: Callable[[], Turn]) -> Iterator[Turn]:
        turn = heard()
        if turn.answer is None:
            yield turn
            turn.answer = self.answer(turn.question, turn)
        yield turn

    def read_response(self, answer: str) -> Iterator[bytes]:
        """The spoken answer as MP3 chunks yielded as they are made; joined, one gapless MP3."""
        if len(answer) > MAX_SPOKEN_CHARS:
            raise UserFacingError(
                f"That text is too long to speak here (at most {MAX_SPOKEN_CHARS} characters)."
            )
        started = time.perf_counter()
        chunks = self.backends.speaker.stream_mp3(answer, self.settings.chunk_seconds)
        for index, chunk in enumerate(chunks):
            if index == 0:
                log.info("first speech chunk after %.2f s", time.perf_counter() - started)
            yield chunk

    def speak(self, answer: str) -> bytes:
        """The whole spoken answer as one MP3."""
        return b"".join(self.backends.speaker.stream_mp3(answer, None))
