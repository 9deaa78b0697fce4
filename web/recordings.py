"""The recorder's wire protocol and the recordings it feeds. The page's recorder
(`web/recorder.py`) sends a `Chunk` at a time while the person talks and gets a `ChunkReceived`
(or a `ChunkRefused`) back. Each chunk says where it belongs in its recording, so a chunk sent
again (a reply lost on the way) is not added twice and a missing one is noticed; each recording
feeds one `LiveQuestion`, which the answer takes when the recording ends."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

import numpy as np

from pipelines.errors import UserFacingError
from pipelines.live import LiveQuestion
from pipelines.memory import give_back_memory

log = logging.getLogger("magic8")
R = TypeVar("R")

MAX_CHUNK_SECONDS = 5.0  # the page sends every 0.1 s; a slow connection makes chunks longer
SAMPLE_RATES = (8_000, 192_000)  # what a browser's audio context may run at
BROKEN_CHUNK = "The recording did not reach the server intact. Please record your question again."
UNKNOWN_RECORDING = "That recording has ended or expired. Please record your question again."
TOO_MANY = "Too many questions are being recorded right now. Please wait a moment and try again."
IDLE_S = 10.0  # a recording the page has not ended, with no chunk for this long, was abandoned
SWEEP_EVERY_S = 1.0


@dataclass(frozen=True)
class Chunk:
    """A piece of a recording: int16 mono samples following the first `offset` ones."""

    recording: str | None  # None: the first chunk of a new recording
    offset: int
    sample_rate: int
    samples: np.ndarray
    last: bool = False  # the page's last chunk of the recording (it ended at Stop or a pause)

    @classmethod
    def from_page(cls, data: object) -> "Chunk":
        """Read what the recorder sends: {"recording": id or null, "offset": int, "rate": int,
        "pcm": base64 of little-endian int16, "last": bool (optional)}. Raises
        UserFacingError for anything else."""
        if not isinstance(data, dict):
            raise UserFacingError(BROKEN_CHUNK)
        recording, offset, rate, pcm = (
            data.get(key) for key in ("recording", "offset", "rate", "pcm")
        )
        last = data.get("last", False)
        well_formed = (
            type(last) is bool
            and (recording is None or isinstance(recording, str) and len(recording) == 32)
            and type(offset) is int
            and offset >= 0
            and type(rate) is int
            and SAMPLE_RATES[0] <= rate <= SAMPLE_RATES[1]
            and isinstance(pcm, str)
            and len(pcm) <= 4 * (2 * int(MAX_CHUNK_SECONDS * rate) // 3 + 1)
        )
        if not well_formed:
            raise UserFacingError(BROKEN_CHUNK)
        try:
            raw = base64.b64decode(pcm, validate=True)
        except (binascii.Error, ValueError):
            raise UserFacingError(BROKEN_CHUNK) from None
        if len(raw) % 2:
            raise UserFacingError(BROKEN_CHUNK)
        return cls(recording, offset, rate, np.frombuffer(raw, "<i2"), last)


@dataclass(frozen=True)
class ChunkReceived:
    """The server's reply to a chunk: the recording's id, how many samples it holds, and how
    long the person has been quiet after speaking."""

    recording: str
    received: int
    silence_s: float


@dataclass(frozen=True)
class ChunkRefused:
    """The server's reply to a chunk it could not take: a short message for the page."""

    error: str


@dataclass
class _Recording(Generic[R]):
    live: LiveQuestion[R]
    sample_rate: int
    last_chunk_at: float  # time.perf_counter(), as LiveQuestion's
    received: int = 0
    ended: bool = False  # the page sent its last chunk: it waits for its answer
    lock: threading.Lock = field(default_factory=threading.Lock)  # one chunk at a time


class Recordings(Generic[R]):
    """The recordings in progress, by id, at most `most_open` at once. `add` feeds them;
    `take` ends one for its answer.

    A recording is dropped, with its audio and its guess, when nobody needs it any more:
    `idle_s` after its last chunk where the page stopped sending without ending it (the tab
    closed mid-question), `lifetime_s` after its last chunk where it ended but no answer took it
    (the answer may wait in the queue).
    While any is open, a background thread looks for those once a second.
    """

    def __init__(
        self,
        new_live_question: Callable[[], LiveQuestion[R]],
        lifetime_s: float,
        most_open: int = 16,
        idle_s: float = IDLE_S,
    ) -> None:
        self._new_live_question = new_live_question
        self._lifetime_s = lifetime_s
        self._idle_s = idle_s
        self._most_open = most_open
        self._open: dict[str, _Recording[R]] = {}
        self._lock = threading.Lock()
        self._sweeping = False

    @property
    def open(self) -> int:
        """How many recordings are open (in progress, or ended and waiting for their answer)."""
        with self._lock:
            return len(self._open)

    def add(self, chunk: Chunk) -> ChunkReceived:
        """Add `chunk` to its recording (a new one where it has no id). Raises UserFacingError
        for an unknown recording, a gap, a changed sample rate, or a new recording past the
        limit."""
        recording_id, recording = self._find(chunk)
        with recording.lock:
            skip = recording.received - chunk.offset  # samples the server has already
            if skip < 0 or chunk.sample_rate != recording.sample_rate:
                raise UserFacingError(BROKEN_CHUNK)
            new = chunk.samples[skip:]
            recording.last_chunk_at = time.perf_counter()
            recording.ended = recording.ended or chunk.last
            if new.size:
                recording.live.add(chunk.sample_rate, new)
                recording.received += new.size
            return ChunkReceived(recording_id, recording.received, recording.live.silence_s)

    def take(self, recording_id: object) -> LiveQuestion[R]:
        """End the recording `recording_id` and return it. Raises UserFacingError."""
        recording = self._pop(recording_id)
        if recording is None:
            raise UserFacingError(UNKNOWN_RECORDING)
        return recording.live

    def drop(self, recording_id: object) -> None:
        """Drop the recording `recording_id` unanswered, if it is still open (the page asked
        again before its answer took it)."""
        recording = self._pop(recording_id)
        if recording is not None:
            log.info("recording dropped by the page")
            recording.live.close()

    def _pop(self, recording_id: object) -> _Recording[R] | None:
        """The open recording `recording_id` (whatever the page sent as one), no longer open."""
        with self._lock:
            known = isinstance(recording_id, str)
            return self._open.pop(recording_id, None) if known else None

    def drop_abandoned(self) -> None:
        """Drop the recordings nobody needs any more (see the class)."""
        now = time.perf_counter()
        with self._lock:
            expired = [
                key
                for key, old in self._open.items()
                if now - old.last_chunk_at > (self._lifetime_s if old.ended else self._idle_s)
            ]
            abandoned = [self._open.pop(key) for key in expired]
        for recording in abandoned:
            log.info("recording abandoned; dropped")
            recording.live.close()

    def _sweep(self) -> None:
        while True:
            time.sleep(SWEEP_EVERY_S)
            self.drop_abandoned()
            with self._lock:
                if not self._open:
                    self._sweeping = False
                    break
        give_back_memory()

    def _find(self, chunk: Chunk) -> tuple[str, _Recording[R]]:
        """The chunk's recording; a new one for a first chunk."""
        if chunk.recording is not None:
            with self._lock:
                recording = self._open.get(chunk.recording)
            if recording is None:
                raise UserFacingError(UNKNOWN_RECORDING)
            return chunk.recording, recording
        if chunk.offset:
            raise UserFacingError(BROKEN_CHUNK)
        self.drop_abandoned()
        with self._lock:
            if len(self._open) >= self._most_open:
                raise UserFacingError(TOO_MANY)
            recording_id = uuid.uuid4().hex
            live = self._new_live_question()
            recording = _Recording(live, chunk.sample_rate, time.perf_counter())
            self._open[recording_id] = recording
            start_sweeping, self._sweeping = not self._sweeping, True
        if start_sweeping:
            threading.Thread(target=self._sweep, name="magic8-recordings", daemon=True).start()
        return recording_id, recording
