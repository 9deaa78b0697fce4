"""Magic 8 Ball voice: the Gradio Blocks UI and its API (`/ask`, `/ask_stream`, `/ask_hls`,
`/read_response`).

`python app.py` serves it on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860).
No model code lives here: everything goes through `pipelines.magic8.Magic8Ball`.
"""

import spaces  # noqa: F401  (ZeroGPU: spaces must be imported before torch initialises CUDA)

import logging
import sys
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
from starlette.middleware import Middleware

from http_guard import HttpGuard
from pipelines.ahead import in_background
from pipelines.errors import UserFacingError
from pipelines.magic8 import Magic8Ball, Turn, build_backends
from pipelines.memory import give_back_memory
from pipelines.recordings import Chunk, Recordings
from pipelines.settings import Settings, SettingsError
from player import player_stream, speech_player
from recorder import speech_recorder
from streamed_audio import END_OF_SPEECH, SpeechStream

log = logging.getLogger("magic8.app")
T = TypeVar("T")
P = TypeVar("P")

INTERNAL_ERROR = "The Magic 8 Ball clouded over (an internal error). Please ask again."
NOT_A_FILE = (
    "Please send the question as an audio file (with gradio_client: handle_file(\"question.wav\"))."
)
# How long after its last chunk an ended recording waits for its answer (queued) at most.
RECORDING_GRACE_S = 60
# Gradio's queue looks for new jobs every 1 ms, and for progress to send every 10 ms, which
# costs an idle app about 0.09 CPU-s per second here. Every 10 ms for jobs (at most 10 ms more
# before an answer starts) and every 0.1 s for progress (the page shows none; Gradio's own
# choice on Windows) cost a tenth of that. Gradio has no public setting for either.
QUEUE_POLL_S, PROGRESS_POLL_S = 0.01, 0.1
MOST_JSON_BYTES = 4 * 2**20  # a request that is not an upload: a recorder chunk is at most 2.6 MB
# Gradio keeps a copy of the page's config for each visitor session (about 100 KB here, the
# page's scripts mostly), for the latest 10,000 sessions by default: 1 GB for anyone who opens
# sessions. The app keeps nothing in sessions (no gr.State), so the latest 200 are plenty.
SESSIONS_KEPT = 200


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


class Page:
    """The handlers behind the page and the API, all answering through one `Magic8Ball`."""

    def __init__(self, ball: Magic8Ball) -> None:
        self.ball = ball
        self.recordings: Recordings[Turn] = Recordings(
            ball.listen, RECORDING_GRACE_S, most_open=ball.settings.max_recordings
        )
        # The answering work running at once, cancelled requests' included (see _relay).
        self.working = anyio.CapacityLimiter(ball.settings.concurrency)

    async def hear(self, data: object) -> dict:
        """The recorder's server function: one chunk of a recording in, `Heard` out (or a
        short message for the page, {"error": ...})."""
        try:
            heard = await anyio.to_thread.run_sync(
                lambda: self.recordings.hear(Chunk.from_page(data))
            )
        except UserFacingError as error:
            log.info("chunk refused: %s", error)
            return {"error": str(error)}
        except Exception:
            log.exception("chunk failed")
            return {"error": INTERNAL_ERROR}
        return asdict(heard)

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

    def _spoken(
        self,
        heard: Callable[[], Turn],
        pieces: Callable[[Iterator[bytes]], Iterable[P]],
        outputs: Callable[[Turn, P | None], T],
    ) -> Iterator[tuple[list[str], T]]:
        """One answer's updates, for the page and every endpoint: `outputs(turn, None)` as soon
        as the question is heard (with the answer, where it is ready already), then
        `outputs(turn, piece)` for each of the `pieces` made of the spoken answer."""
        turn = heard()
        yield turn.notices, outputs(turn, None)
        for piece in pieces(self.ball.answer_aloud(turn)):
            yield turn.notices, outputs(turn, piece)

    def _on_page(self, heard: Callable[[], Turn]) -> Callable[[], Iterator]:
        """The page's updates for one question: the question, then the player as the answer is
        spoken, with the backends and timings under it."""

        def outputs(turn: Turn, player: str | None) -> tuple:
            if player is None:
                return turn.question, turn.answer or "", gr.skip(), small(turn.label)
            return gr.skip(), turn.answer, player, small(f"{turn.label} · {turn.timing_line()}")

        return lambda: self._spoken(heard, player_stream, outputs)

    async def answer_recording(self, event: gr.EventData) -> AsyncIterator[tuple]:
        """The answer to the recording the recorder has just ended."""

        def heard() -> Turn:
            return self.ball.transcribe_live(self.recordings.take(recording_id(event)))

        async for outputs in self._relay(self._on_page(heard)):
            yield outputs

    async def answer_upload(self, audio_path: str | None) -> AsyncIterator[tuple]:
        """The answer to an uploaded recording."""
        async for outputs in self._relay(self._on_page(lambda: self.ball.transcribe(audio_path))):
            yield outputs

    def _heard(self, audio: object) -> Callable[[], Turn]:
        """The question in an API request's recording (`gr.api` hands the client's file
        object over as it came: see `question_file`)."""
        return lambda: self.ball.transcribe(question_file(audio))

    async def ask(self, audio: FileData | None) -> tuple[str, str, FileData, dict]:
        """Ask with a recorded question; get the question heard, the answer, the spoken answer
        (one MP3) and the details (backends, notices, timings)."""

        def outputs(turn: Turn, mp3: FileData | None) -> tuple:
            return turn.question, turn.answer or "", mp3, turn.details() if mp3 else None

        heard = self._heard(audio)
        async for result in self._relay(lambda: self._spoken(heard, whole_mp3, outputs)):
            pass
        return result

    async def ask_stream(
        self, audio: FileData | None
    ) -> AsyncIterator[tuple[str, str, FileData | None]]:
        """Ask with a recorded question; get (question, answer so far, new MP3 piece or None):
        the question first, then a piece of the spoken answer at a time. Joined, the pieces
        are one MP3."""
        async for outputs in self._relay(
            lambda: self._spoken(self._heard(audio), mp3_pieces, api_outputs)
        ):
            yield outputs

    async def ask_hls(self, audio_path: str | None) -> AsyncIterator[tuple]:
        """`/ask_hls`: `/ask_stream` for HLS players: the spoken answer in Gradio's streaming
        audio (an HLS playlist of AAC segments from one encoder per answer)."""

        def heard() -> Turn:
            return self.ball.transcribe(audio_path)

        async for outputs in self._relay(lambda: self._spoken(heard, hls_chunks, api_outputs)):
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


def build_app(ball: Magic8Ball) -> gr.Blocks:
    """The Blocks UI (microphone or upload in, streamed speech out) and the API endpoints."""
    page = Page(ball)
    settings = ball.settings
    # Gradio's cache (uploads, answer MP3s): files older than MAGIC8_CACHE_MINUTES are deleted,
    # looked for three times as often.
    max_age_s = int(settings.cache_minutes * 60)
    with gr.Blocks(title="Magic 8 Ball", delete_cache=(max_age_s // 3, max_age_s)) as demo:
        gr.Markdown("# Magic 8 Ball 🎱\nAsk a question and receive wisdom")
        with gr.Row():
            with gr.Column():
                gr.Markdown("**Ask your question**")
                recorder = speech_recorder(page.hear, settings.max_seconds, settings.pause_seconds)
            upload = gr.Audio(sources=["upload"], type="filepath", label="…or upload a recording")
        question_box = gr.Textbox(label="Question", interactive=False)
        answer_box = gr.Textbox(label="Answer", interactive=False)
        player = speech_player()
        backends_line = gr.Markdown(small(ball.backends.label), elem_id="backends")
        # Every answering event, page or API, shares one group of MAGIC8_CONCURRENCY slots
        # (past that, people queue and see their place). Served stages just wait on the
        # network in parallel; the local models take one request at a time each.
        answering = {"concurrency_id": "answering", "concurrency_limit": settings.concurrency}
        page_outputs = [question_box, answer_box, player, backends_line]

        # One event per question, from the end of the recording (or the upload) to the end of
        # the spoken answer. The "minimal" progress is the queue place and a timer, without
        # the animated overlay on every output, which costs the visitor's CPU just when the
        # answer is being made. A new recording may end while the last answer still plays.
        recorder.recorded(
            page.answer_recording, outputs=page_outputs, api_name="page_answer_recording",
            api_visibility="private", show_progress="minimal", trigger_mode="multiple",
            **answering,
        )
        upload.upload(
            page.answer_upload, inputs=upload, outputs=page_outputs,
            api_name="page_answer_upload", api_visibility="private", show_progress="minimal",
            **answering,
        )

        # The API, each endpoint typed by its handler's signature (see README, "Use it from
        # Python"). HLS needs Gradio's streaming audio component, so /ask_hls has a hidden
        # input and output, and no trigger on the page.
        gr.api(page.ask, api_name="ask", **answering)
        gr.api(page.ask_stream, api_name="ask_stream", **answering)
        gr.api(page.read_response, api_name="read_response", **answering)
        with gr.Row(visible=False):
            recording = gr.Audio(type="filepath", label="Question")
            speech = SpeechStream(
                label="Spoken answer", streaming=True, autoplay=True, streams=demo.pending_streams
            )
        gr.on(
            [], page.ask_hls, inputs=recording, outputs=[question_box, answer_box, speech],
            api_name="ask_hls", **answering,
        )
    return demo


def main() -> None:
    """Read settings, build the backends, load the local models and serve the app."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        sys.exit(f"Invalid setting: {error}")
    ball = Magic8Ball(settings, build_backends(settings))
    ball.warm_up()
    app = build_app(ball).queue()
    app._queue.sleep_when_free = QUEUE_POLL_S  # noqa: SLF001 (see QUEUE_POLL_S)
    app._queue.progress_update_sleep_when_free = PROGRESS_POLL_S  # noqa: SLF001
    app.launch(
        max_file_size=settings.max_upload_bytes,
        state_session_capacity=SESSIONS_KEPT,
        app_kwargs={
            "middleware": [Middleware(HttpGuard)],
            "max_body_size": max(settings.max_upload_bytes, MOST_JSON_BYTES) + 2**20,
        },
    )


if __name__ == "__main__":
    main()
