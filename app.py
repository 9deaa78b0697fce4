"""Magic 8 Ball voice: the Gradio Blocks UI and its API (`/ask`, `/ask_stream`).

`python app.py` serves it on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860).
No model code lives here: everything goes through `pipelines.magic8.Magic8Ball`.
"""

from __future__ import annotations

import spaces  # noqa: F401  (ZeroGPU: spaces must be imported before torch initialises CUDA)

import logging
import sys
from contextlib import contextmanager
from dataclasses import asdict
from typing import AsyncIterator, Callable, Iterator, TypeVar

import anyio
import gradio as gr
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
from streamed_audio import SpeechStream

log = logging.getLogger("magic8.app")
T = TypeVar("T")

INTERNAL_ERROR = "The Magic 8 Ball clouded over (an internal error). Please ask again."
# How long after its last chunk an ended recording waits for its answer (queued) at most.
RECORDING_GRACE_S = 60
# Gradio's queue looks for new jobs every 1 ms, and for progress to send every 10 ms, which
# costs an idle app about 0.09 CPU-s per second here. Every 10 ms for jobs (at most 10 ms more
# before an answer starts) and every 0.1 s for progress (the page shows none; Gradio's own
# choice on Windows) cost a tenth of that. Gradio has no public setting for either.
QUEUE_POLL_S, PROGRESS_POLL_S = 0.01, 0.1
MOST_JSON_BYTES = 4 * 2**20  # a request that is not an upload: a recorder chunk is at most 2.6 MB


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

    def _answer_on_page(self, heard: Callable[[], Turn]) -> Iterator[tuple[list[str], tuple]]:
        """The page's updates for one question: the question (and the answer, where it is
        ready already) as soon as it is heard, then the player as the answer is spoken."""
        turn = heard()
        yield turn.notices, (turn.question, turn.answer or "", gr.skip(), small(turn.label))
        for update in player_stream(self.ball.answer_aloud(turn)):
            line = small(f"{turn.label} · {turn.timing_line()}")
            yield turn.notices, (gr.skip(), turn.answer, update, line)

    async def answer_recording(self, event: gr.EventData) -> AsyncIterator[tuple]:
        """The answer to the recording the recorder has just ended."""

        def heard() -> Turn:
            return self.ball.transcribe_live(self.recordings.take(recording_id(event)))

        async for outputs in self._relay(lambda: self._answer_on_page(heard)):
            yield outputs

    async def answer_upload(self, audio_path: str | None) -> AsyncIterator[tuple]:
        """The answer to an uploaded recording."""

        def heard() -> Turn:
            return self.ball.transcribe(audio_path)

        async for outputs in self._relay(lambda: self._answer_on_page(heard)):
            yield outputs

    async def read_response(self, answer: str | None) -> AsyncIterator[tuple]:
        """`/read_response`: any answer text, spoken into the page's player."""
        if not answer:
            return

        def spoken() -> Iterator[tuple[list[str], tuple]]:
            for update in player_stream(self.ball.read_response(answer)):
                yield [], (update, answer)

        async for outputs in self._relay(spoken):
            yield outputs

    async def ask(self, audio_path: str | None) -> tuple[str, str, str, dict]:
        """`/ask`: the question, the answer, the complete answer MP3 and the details."""

        def asked() -> Iterator[tuple[list[str], tuple | None]]:
            turn = self.ball.transcribe(audio_path)
            pieces = []
            for chunk in self.ball.answer_aloud(turn):  # a chunk at a time: cancel stops it
                pieces.append(chunk)
                yield turn.notices, None
            mp3 = save_bytes_to_cache(b"".join(pieces), "answer.mp3", get_upload_folder())
            yield turn.notices, (turn.question, turn.answer, mp3, turn.details())

        async for outputs in self._relay(asked):
            result = outputs
        return result

    async def ask_stream(self, audio_path: str | None) -> AsyncIterator[tuple]:
        """`/ask_stream`: the question, then the growing answer with each chunk of speech."""

        def asked() -> Iterator[tuple[list[str], tuple]]:
            turn = self.ball.transcribe(audio_path)
            yield turn.notices, (turn.question, "", None)
            for chunk in self.ball.answer_aloud(turn):
                yield turn.notices, (turn.question, turn.answer, chunk)

        async for outputs in self._relay(asked):
            yield outputs


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

        with gr.Row(visible=False):  # outputs of the API endpoints only
            speech = SpeechStream(label="Spoken answer", streaming=True, autoplay=True)
            complete_mp3 = gr.Audio(type="filepath", label="Spoken answer")
            details = gr.JSON(label="Details")
            ask_button = gr.Button()
            ask_stream_button = gr.Button()
            read_response_button = gr.Button()
            recording = gr.Audio(type="filepath", label="Question")
        ask_button.click(
            page.ask,
            inputs=recording,
            outputs=[question_box, answer_box, complete_mp3, details],
            api_name="ask",
            **answering,
        )
        ask_stream_button.click(
            page.ask_stream,
            inputs=recording,
            outputs=[question_box, answer_box, speech],
            api_name="ask_stream",
            **answering,
        )
        # What the page's player receives for an answer text.
        read_response_button.click(
            page.read_response,
            inputs=answer_box,
            outputs=[player, answer_box],
            api_name="read_response",
            **answering,
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
        app_kwargs={
            "middleware": [Middleware(HttpGuard)],
            "max_body_size": max(settings.max_upload_bytes, MOST_JSON_BYTES) + 2**20,
        },
    )


if __name__ == "__main__":
    main()
