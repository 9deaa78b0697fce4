"""The handlers behind the page and the API: each question's updates relayed from the worker
threads, errors shown as short messages, the API's files and outputs typed.

No `from __future__ import annotations` here: gr.api reads the endpoints' signatures as
objects (a string annotation makes an endpoint one untyped output).
"""

import logging
from contextlib import contextmanager
from dataclasses import asdict
from itertools import chain
from pathlib import Path
from typing import AsyncIterator, Callable, Iterable, Iterator, TypeVar

import anyio
import gradio as gr
from gradio.data_classes import FileData
from gradio.processing_utils import save_bytes_to_cache
from gradio.utils import get_upload_folder

from pipelines.errors import UserFacingError
from pipelines.magic8 import Magic8Ball
from pipelines.memory import give_back_memory
from pipelines.turn import Details, Turn
from web.ball import BallFace
from web.hls import END_OF_SPEECH
from web.player import player_stream
from web.recordings import Chunk, ChunkReceived, ChunkRefused, Recordings
from web.relay import in_background

log = logging.getLogger("magic8.app")
T = TypeVar("T")
P = TypeVar("P")

INTERNAL_ERROR = "The Magic 8 Ball clouded over (an internal error). Please ask again."
NOT_A_FILE = (
    "Please send the question as an audio file (with gradio_client: handle_file(\"question.wav\"))."
)
# How long after its last chunk an ended recording waits for its answer (queued) at most.
RECORDING_GRACE_S = 60


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a person's mistake as its own message, and anything else as a short apology (logged)."""
    try:
        yield
    except UserFacingError as error:
        log.info("refused: %s", error)
        raise gr.Error(str(error), print_exception=False) from None
    except Exception:
        log.exception("request failed")
        raise gr.Error(INTERNAL_ERROR, print_exception=False) from None


def small(text: str) -> str:
    """Markdown for the small line that names the backends."""
    return f"<small>{text}</small>"


def recording_id(event: gr.EventData) -> object:
    """The recording id in the recorder's `recorded` event (None where there is none)."""
    try:
        return event.recording
    except (AttributeError, TypeError):  # no id, or event data that is not a dict
        return None


def question_file(audio: object) -> str | None:
    """The path of a recording sent to an API endpoint (None where none was sent). Only a file
    a client uploaded is taken (gradio_client's `handle_file`), which Gradio has checked is in
    its upload folder; a bare path or a made-up file object is refused (UserFacingError)."""
    if audio is None:
        return None
    if not isinstance(audio, dict) or not isinstance(audio.get("meta"), dict):
        raise UserFacingError(NOT_A_FILE)
    path = audio.get("path")
    if audio["meta"].get("_type") != "gradio.FileData" or not isinstance(path, str):
        raise UserFacingError(NOT_A_FILE)
    if not Path(path).resolve().is_relative_to(Path(get_upload_folder()).resolve()):
        raise UserFacingError(NOT_A_FILE)
    return path


def saved(mp3: bytes, name: str = "answer.mp3") -> FileData:
    """MP3 bytes as a file in Gradio's cache, which clients download (deleted with the cache)."""
    return FileData(path=save_bytes_to_cache(mp3, name, get_upload_folder()), orig_name=name)


def mp3_pieces(chunks: Iterable[bytes]) -> Iterator[FileData]:
    """Each MP3 chunk of a spoken answer as a file; joined, the files are one MP3."""
    for chunk in chunks:
        yield saved(chunk, "piece.mp3")


def whole_mp3(chunks: Iterable[bytes]) -> Iterator[FileData | None]:
    """Nothing for each chunk of a spoken answer (so a cancel stops between chunks), then the
    whole answer as one MP3 file."""
    pieces = []
    for chunk in chunks:
        pieces.append(chunk)
        yield None
    yield saved(b"".join(pieces))


def hls_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The MP3 chunks as `SpeechStream` takes them: then END_OF_SPEECH."""
    return chain(chunks, [END_OF_SPEECH])


def api_outputs(turn: Turn, piece: P | None) -> tuple[str, str, P | None]:
    """An API update: the question, the answer so far, and the new piece of speech (if any)."""
    return turn.question, turn.answer or "", piece


class Handlers:
    """The handlers behind the page and the API, all answering through one `Magic8Ball`."""

    def __init__(self, ball: Magic8Ball) -> None:
        self.ball = ball
        self.recordings: Recordings[Turn] = Recordings(
            ball.new_live_question, RECORDING_GRACE_S, most_open=ball.settings.max_recordings
        )
        # The answering work running at once, cancelled requests' included (see _relay).
        self.working = anyio.CapacityLimiter(ball.settings.concurrency)

    async def receive_chunk(self, data: object) -> dict:
        """The recorder's server function: one chunk of a recording in (see
        `Chunk.from_page`), `ChunkReceived` or `ChunkRefused` out, as JSON."""
        reply: ChunkReceived | ChunkRefused
        try:
            reply = await anyio.to_thread.run_sync(
                lambda: self.recordings.add(Chunk.from_page(data))
            )
        except UserFacingError as error:
            log.info("chunk refused: %s", error)
            reply = ChunkRefused(str(error))
        except Exception:
            log.exception("chunk failed")
            reply = ChunkRefused(INTERNAL_ERROR)
        return asdict(reply)

    async def drop_recording(self, recording_id: object) -> dict:
        """The recorder's server function for a recording the person left for a new question:
        dropped if no answer has taken it yet (anything else is ignored)."""
        self.recordings.drop(recording_id)
        return {}

    async def _relay(self, make: Callable[[], Iterator[tuple[list[str], T]]]) -> AsyncIterator[T]:
        """The outputs of `make()` (each with the notices so far), which runs in a thread of
        its own; each notice shown once as a warning, errors as short messages. When the
        request is cancelled or its visitor leaves, this ends at once and `make()` stops at
        its next output. The memory the request freed is given back at its end."""
        shown: set[str] = set()
        try:
            with user_errors():
                async for notices, outputs in in_background(make, self.working):
                    for notice in notices:
                        if notice not in shown:
                            shown.add(notice)
                            gr.Warning(notice)
                    yield outputs
        finally:
            give_back_memory()

    def _updates(
        self,
        transcribed: Callable[[], Turn],
        pieces: Callable[[Iterator[bytes]], Iterable[P]],
        outputs: Callable[[Turn, P | None], T],
    ) -> Iterator[tuple[list[str], T]]:
        """One answer's updates, for the page and every endpoint: `outputs(turn, None)` as soon
        as `transcribed()` has the question (with the answer, where it is ready already), then
        `outputs(turn, piece)` for each of the `pieces` made of the spoken answer."""
        turn = transcribed()
        yield turn.notices, outputs(turn, None)
        for piece in pieces(self.ball.answer_aloud(turn)):
            yield turn.notices, outputs(turn, piece)

    async def _on_page(self, transcribed: Callable[[], Turn]) -> AsyncIterator[tuple]:
        """The page's updates for one question: the ball with the question (and the answer),
        then the player as the answer is spoken, with the backends and timings under it. An
        error is shown in the ball, in the same words the API's clients get."""

        def outputs(turn: Turn, player: str | None) -> tuple:
            face = BallFace(turn.question, turn.answer or "").value()
            if player is None:
                return face, gr.skip(), small(turn.label)
            return face, player, small(f"{turn.label} · {turn.timing_line()}")

        try:
            async for update in self._relay(
                lambda: self._updates(transcribed, player_stream, outputs)
            ):
                yield update
        except gr.Error as error:
            yield BallFace(error=error.message).value(), gr.skip(), gr.skip()
            raise gr.Error(error.message, visible=False, print_exception=False) from None

    async def answer_recording(self, event: gr.EventData) -> AsyncIterator[tuple]:
        """The answer to the recording the recorder has just ended."""

        def transcribed() -> Turn:
            return self.ball.transcribe_live(self.recordings.take(recording_id(event)))

        async for outputs in self._on_page(transcribed):
            yield outputs

    async def answer_upload(self, audio_path: str | None) -> AsyncIterator[tuple]:
        """The answer to an uploaded recording."""
        async for outputs in self._on_page(lambda: self.ball.transcribe(audio_path)):
            yield outputs

    def _transcribed(self, audio: object) -> Callable[[], Turn]:
        """The question in an API request's recording (`gr.api` hands the client's file
        object over as it came: see `question_file`)."""
        return lambda: self.ball.transcribe(question_file(audio))

    async def ask(self, audio: FileData | None) -> tuple[str, str, FileData, Details]:
        """Ask with a recorded question; get the question heard, the answer, the spoken answer
        (one MP3) and the details (backends, notices, timings: `pipelines.turn.Details`)."""

        def outputs(turn: Turn, mp3: FileData | None) -> tuple:
            return turn.question, turn.answer or "", mp3, turn.details() if mp3 else None

        transcribed = self._transcribed(audio)
        async for result in self._relay(lambda: self._updates(transcribed, whole_mp3, outputs)):
            pass
        return result

    async def ask_stream(
        self, audio: FileData | None
    ) -> AsyncIterator[tuple[str, str, FileData | None]]:
        """Ask with a recorded question; get (question, answer so far, new MP3 piece or None):
        the question first, then a piece of the spoken answer at a time. Joined, the pieces
        are one MP3."""
        async for outputs in self._relay(
            lambda: self._updates(self._transcribed(audio), mp3_pieces, api_outputs)
        ):
            yield outputs

    async def ask_hls(self, audio_path: str | None) -> AsyncIterator[tuple]:
        """`/ask_hls`: `/ask_stream` for HLS players: the spoken answer in Gradio's streaming
        audio (an HLS playlist of AAC segments from one encoder per answer)."""

        def updates() -> Iterator[tuple[list[str], tuple]]:
            return self._updates(
                lambda: self.ball.transcribe(audio_path), hls_chunks, api_outputs
            )

        async for outputs in self._relay(updates):
            yield outputs

    async def read_response(self, text: str) -> AsyncIterator[FileData]:
        """Any text (at most 2000 characters; its first words, as MAGIC8_MAX_SPOKEN_WORDS
        says) spoken; the MP3 pieces as they are made, which join into one MP3."""
        if not isinstance(text, str) or not text.strip():
            with user_errors():
                raise UserFacingError("Please write the text to speak.")

        def spoken() -> Iterator[tuple[list[str], FileData]]:
            for piece in mp3_pieces(self.ball.read_response(text)):
                yield [], piece

        async for piece in self._relay(spoken):
            yield piece
