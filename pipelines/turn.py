"""One question and its answer: which backend did each stage, what to tell the person, and how
long each stage took."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Iterator, TypedDict

from pipelines.asr import Transcriber
from pipelines.llm import Answerer
from pipelines.tts import Speaker


def describe_backends(transcriber: Transcriber, answerer: Answerer, speaker: Speaker) -> str:
    """The line under the answer: where it ran, then each stage's model."""
    where = "served" if transcriber.remote or answerer.remote else "offline"
    return " · ".join((where, transcriber.name, answerer.name, speaker.name))


class Details(TypedDict):
    """`/ask`'s details (JSON for every client): the line under the answer, each stage's
    backend, the notices shown, and the stages' timings in seconds."""

    backends: str
    transcription: str
    answer: str
    speech: str
    notices: list[str]
    timings: dict[str, float]


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
    asked_at: float | None = None  # the request came, or the live recording's last chunk
    live: bool = False  # recorded by the page's microphone
    timings: Timings = field(default_factory=Timings)

    @property
    def label(self) -> str:
        """The backends that answered this turn, for the small line under the answer."""
        return describe_backends(self.transcriber, self.answerer, self.speaker)

    def details(self) -> Details:
        """What `/ask` reports besides the answer: the backends of each stage and any notices."""
        return Details(
            backends=self.label,
            transcription=self.transcriber.name,
            answer=self.answerer.name,
            speech=self.speaker.name,
            notices=list(self.notices),
            timings=self.timings.rounded(),
        )

    def timing_line(self) -> str:
        """The timings in a few words (see `Timings.line`)."""
        return self.timings.line("you stopped" if self.live else "the request")
