"""The orchestration: recording -> question -> answer -> spoken MP3 chunks, with fallbacks."""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np

from pipelines import audio, vad
from pipelines.asr import (
    FasterWhisperTranscriber,
    ServedTranscriber,
    Transcriber,
    TransformersWhisperTranscriber,
)
from pipelines.asr import tiny_en_model_dir
from pipelines.errors import UserFacingError
from pipelines.ahead import run_ahead
from pipelines.live import GuessDropped, LiveQuestion
from pipelines.llm import (
    Answerer,
    ServedAnswerer,
    answer_text,
    local_answerer,
)
from pipelines.providers import ProviderLookup, ServedModel, ServedStage
from pipelines.remote import ServedStageFailure, served_model_name
from pipelines.settings import Settings
from pipelines.spoken_text import speakable, within_words
from pipelines.tts import Speaker, choose_speaker, joe_voice_path

log = logging.getLogger("magic8")
S = TypeVar("S")
T = TypeVar("T")

NOTHING_HEARD = "I didn't catch a question. Please ask again, a little closer to the microphone."
MAX_TEXT_CHARS = 2000  # /read_response: longer text is refused before it is even read
# The notice when a served stage failed and its offline model stood in, with the reason.
OFFLINE_INSTEAD = {"transcriber": "transcribed offline", "answerer": "answered offline"}


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
        """What answers when all goes well, e.g. "offline · whisper tiny.en · proverb bank ·
        Piper"."""
        return describe_backends(self.transcriber, self.answerer, self.speaker)


def describe_backends(transcriber: Transcriber, answerer: Answerer, speaker: Speaker) -> str:
    """The line under the answer: where it ran, then each stage's model."""
    where = "served" if transcriber.remote or answerer.remote else "offline"
    return " · ".join((where, transcriber.name, answerer.name, speaker.name))


def embedded_backends(settings: Settings) -> Backends:
    """The models shipped on PyPI that run on a CPU with no network (and Parler-TTS for the
    speech where a GPU is there for it)."""
    if settings.asr_engine == "transformers":
        transcriber: Transcriber = TransformersWhisperTranscriber(
            settings.asr_hf_model,
            settings.asr_hf_assistant,
            settings.asr_language,
            settings.asr_task,
            settings.asr_int8,
            settings.threads,
        )
    else:
        transcriber = FasterWhisperTranscriber(
            tiny_en_model_dir(), f"whisper {settings.asr_model}", settings.threads
        )
    return Backends(
        transcriber=transcriber,
        answerer=local_answerer(
            Path(settings.llm_gguf) if settings.llm_gguf else None,
            settings.threads,
            settings.questions_in_english,
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
    the embedded models everywhere else. With a token, the Inference Providers serving each
    served model are looked up in the background and logged."""
    offline = embedded_backends(settings)
    if not (settings.asr_remote or settings.llm_remote):
        return offline
    lookup = ProviderLookup(settings.hf_token)
    asr = ServedStage(
        ServedModel(settings.asr_api_model, "automatic-speech-recognition", settings.asr_provider),
        settings.asr_url, settings.hf_token, lookup,
    )
    llm = ServedStage(
        ServedModel(settings.llm_api_model, "conversational", settings.llm_provider),
        settings.llm_url, settings.hf_token, lookup,
    )
    transcriber = ServedTranscriber(
        asr, served_model_name(settings.asr_api_model, settings.asr_url), settings.api_timeout
    )
    answerer = ServedAnswerer(
        llm, served_model_name(settings.llm_api_model, settings.llm_url), settings.api_timeout
    )
    asr_served, llm_served = settings.asr_remote, settings.llm_remote
    backends = Backends(
        transcriber=transcriber if asr_served else offline.transcriber,
        answerer=answerer if llm_served else offline.answerer,
        speaker=offline.speaker,
        offline_transcriber=offline.transcriber if asr_served else None,
        offline_answerer=offline.answerer if llm_served else None,
    )
    log.info("served stages: %s (offline fallbacks ready)", backends.label)
    on_providers = {
        name: stage.served
        for name, stage, served in (("transcription", asr, asr_served), ("answer", llm, llm_served))
        if served and stage.on_providers
    }
    if on_providers:
        lookup.announce(on_providers)
    return backends


@dataclass
class Timings:
    """How long each stage of one turn took, in seconds (None: not done, or not by this turn)."""

    transcription_s: float | None = None
    answer_first_sentence_s: float | None = None
    answer_s: float | None = None
    speech_first_chunk_s: float | None = None  # the answer's speech, up to its first chunk
    first_audio_s: float | None = None  # from the request, or the end of a live recording
    # A live turn prepared while the person paused: how long before the end of the
    # recording that began (its stages then add up to more than first_audio_s).
    prepared_ahead_s: float | None = None

    def rounded(self) -> dict[str, float]:
        """The stages done, to the millisecond (what `/ask` reports)."""
        return {name: round(value, 3) for name, value in asdict(self).items() if value is not None}

    def line(self, since: str) -> str:
        """In a few words, e.g. "first sound 0.41 s after you stopped · prepared while you
        paused, from 0.30 s before: transcription 0.24 s, answer 0.20 s, speech 0.05 s";
        `since` names the moment first_audio_s counts from."""
        if self.first_audio_s is None:
            return ""
        stages = ", ".join(
            f"{name} {seconds:.2f} s"
            for name, seconds in (
                ("transcription", self.transcription_s),
                ("answer", self.answer_first_sentence_s),
                ("speech", self.speech_first_chunk_s),
            )
            if seconds is not None
        )
        first = f"first sound {self.first_audio_s:.2f} s after {since}"
        if self.prepared_ahead_s is None:
            return f"{first} ({stages})"
        return (
            f"{first} · prepared while you paused, from {self.prepared_ahead_s:.2f} s before: "
            f"{stages}"
        )


@dataclass
class Turn:
    """One question and its answer, which backend did each stage, and what to tell the person."""

    transcriber: Transcriber
    answerer: Answerer
    speaker: Speaker
    question: str = ""
    answer: str | None = None  # None until the answer's first sentence is there
    notices: list[str] = field(default_factory=list)
    speech: Iterator[bytes] | None = None  # the spoken answer's MP3 chunks, where made ahead
    started: float = field(default_factory=time.perf_counter)  # work on it began
    heard: float | None = None  # the request came, or the live recording ended
    live: bool = False  # recorded by the page's microphone
    timings: Timings = field(default_factory=Timings)

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
            "timings": self.timings.rounded(),
        }

    def timing_line(self) -> str:
        """The timings in a few words (see `Timings.line`)."""
        return self.timings.line("you stopped" if self.live else "the request")


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

    def _new_turn(self) -> Turn:
        """A turn that starts with the configured backends."""
        b = self.backends
        return Turn(b.transcriber, b.answerer, b.speaker)

    def _run_stage(self, turn: Turn, stage: str, fallback: S | None, call: Callable[[S], T]) -> T:
        """`call(backend)` with the turn's backend for `stage`; when it is a served stage that
        failed, again with the offline `fallback`, recorded on the turn with a notice that
        says why (e.g. "answered offline: the Inference credits are used up")."""
        try:
            return call(getattr(turn, stage))
        except ServedStageFailure as failure:
            if fallback is None:
                raise
            notice = f"{OFFLINE_INSTEAD[stage]}: {failure}"
            log.warning("%s", notice)
            setattr(turn, stage, fallback)
            if notice not in turn.notices:
                turn.notices.append(notice)
            return call(fallback)

    def listen(self) -> LiveQuestion[Turn]:
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
        turn.question = self._run_stage(
            turn,
            "transcriber",
            self.backends.offline_transcriber,
            lambda transcriber: transcriber.transcribe(speech, audio.ASR_SAMPLE_RATE),
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
        turn.heard = started
        return turn

    def transcribe_live(self, live: LiveQuestion[Turn] | None) -> Turn:
        """`transcribe` for a question recorded live (see `listen`). Where the question was
        ready at Stop, so is its answer. Raises UserFacingError."""
        if live is None:
            raise UserFacingError("Please record a question first.")
        turn = live.finish()
        if turn is None:
            raise UserFacingError(NOTHING_HEARD)
        turn.live, turn.heard = True, live.ended
        if turn.started < live.ended:  # a guess, begun while the person paused
            turn.timings.prepared_ahead_s = live.ended - turn.started
        return turn

    def _sentences(self, turn: Turn) -> Iterator[str]:
        """The answer to the turn's question a sentence at a time, as it is written; fills
        `turn.answer` as it grows. A fresh random seed unless MAGIC8_SEED is set."""
        seed = self.settings.seed if self.settings.seed is not None else random.randrange(2**31)
        started = time.perf_counter()

        def first_sentence(answerer: Answerer) -> tuple[str, Iterator[str]]:
            sentences = answerer.sentences(turn.question, seed)
            return next(sentences), sentences  # where a served model's failure shows

        first, rest = self._run_stage(
            turn, "answerer", self.backends.offline_answerer, first_sentence
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
                since = turn.heard if turn.heard is not None else started
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
