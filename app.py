"""Magic 8 Ball voice: the Gradio Blocks UI and its API (`/ask`, `/ask_stream`).

`python app.py` serves it on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860).
No model code lives here: everything goes through `pipelines.magic8.Magic8Ball`.
"""

from __future__ import annotations

import spaces  # noqa: F401  (ZeroGPU: spaces must be imported before torch initialises CUDA)

import logging
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr
import numpy as np

from pipelines.errors import UserFacingError
from pipelines.live import LiveQuestion
from pipelines.magic8 import Magic8Ball, Turn, build_backends
from pipelines.settings import Settings, SettingsError
from player import player_stream, speech_player
from streamed_audio import SpeechStream

log = logging.getLogger("magic8.app")

INTERNAL_ERROR = "The Magic 8 Ball clouded over (an internal error). Please ask again."
ANSWER_FILE_LIFETIME_S = 600
STREAM_EVERY_S = 0.2  # how often the microphone sends what it has


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


class AnswerFiles:
    """Complete answer MP3s for `/ask`; Gradio copies each into its cache, old ones are removed."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="magic8-answers-"))

    def save(self, mp3: bytes) -> str:
        """Write `mp3` to a new file and return its path."""
        now = time.time()
        for old in self._dir.glob("*.mp3"):
            if now - old.stat().st_mtime > ANSWER_FILE_LIFETIME_S:
                old.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=self._dir, suffix=".mp3", delete=False) as file:
            file.write(mp3)
        return file.name


def small(text: str) -> str:
    """Markdown for the small line that names the backends."""
    return f"<small>{text}</small>"


def build_app(ball: Magic8Ball) -> gr.Blocks:
    """The Blocks UI (microphone or upload in, streamed speech out) and the API endpoints."""
    answer_files = AnswerFiles()

    def warn(turn: Turn, shown: set[str]) -> None:
        for notice in turn.notices:
            if notice not in shown:
                shown.add(notice)
                gr.Warning(notice)

    def hear(chunk: tuple[int, np.ndarray] | None, live: LiveQuestion | None) -> LiveQuestion:
        if live is None or live.closed:  # a new recording
            live = ball.listen()
        if chunk is not None:
            live.add(*chunk)
        return live

    def answer_on_page(heard: Callable[[], Turn]):
        """The page's updates for one question: the question (and the answer, where it is
        ready already) as soon as it is heard, then the player as the answer is spoken."""
        shown: set[str] = set()
        with user_errors():
            turn = heard()
            warn(turn, shown)
            yield turn.question, turn.answer or "", gr.skip(), small(turn.label)
            for update in player_stream(ball.answer_aloud(turn)):
                warn(turn, shown)
                yield gr.skip(), turn.answer, update, small(f"{turn.label} · {turn.timing_line()}")

    def answer_recording(live: LiveQuestion | None):
        yield from answer_on_page(lambda: ball.transcribe_live(live))

    def answer_upload(audio_path: str | None):
        yield from answer_on_page(lambda: ball.transcribe(audio_path))

    def read_response(answer: str | None):
        if not answer:
            return
        with user_errors():
            for update in player_stream(ball.read_response(answer)):
                yield update, answer

    def ask(audio_path: str | None) -> tuple[str, str, str, dict]:
        with user_errors():
            turn = ball.transcribe(audio_path)
            mp3_path = answer_files.save(b"".join(ball.answer_aloud(turn, whole=True)))
            warn(turn, set())
            return turn.question, turn.answer, mp3_path, turn.details()

    def ask_stream(audio_path: str | None):
        shown: set[str] = set()
        with user_errors():
            turn = ball.transcribe(audio_path)
            warn(turn, shown)
            yield turn.question, "", None
            for chunk in ball.answer_aloud(turn):
                warn(turn, shown)
                yield turn.question, turn.answer, chunk

    with gr.Blocks(title="Magic 8 Ball") as demo:
        gr.Markdown("# Magic 8 Ball 🎱\nAsk a question and receive wisdom")
        with gr.Row():
            microphone = gr.Audio(
                sources=["microphone"],
                streaming=True,
                type="numpy",
                label="Ask your question",
                # No live waveform: drawing it takes about half a core of the visitor's CPU.
                waveform_options=gr.WaveformOptions(show_recording_waveform=False),
            )
            upload = gr.Audio(sources=["upload"], type="filepath", label="…or upload a recording")
        question_box = gr.Textbox(label="Question", interactive=False)
        answer_box = gr.Textbox(label="Answer", interactive=False)
        player = speech_player()
        backends_line = gr.Markdown(small(ball.backends.label), elem_id="backends")
        live_state = gr.State()
        # Every answering event, page or API, shares one group of MAGIC8_CONCURRENCY slots
        # (past that, people queue and see their place). Served stages just wait on the
        # network in parallel; the local models take one request at a time each.
        answering = {
            "concurrency_id": "answering",
            "concurrency_limit": ball.settings.concurrency,
        }

        # While the person talks, the microphone streams to the server, which transcribes at
        # each pause; at Stop the transcript is usually ready.
        microphone.stream(
            hear,
            api_name="page_hear",
            inputs=[microphone, live_state],
            outputs=live_state,
            stream_every=STREAM_EVERY_S,
            time_limit=ball.settings.max_seconds + 5,
            show_progress="hidden",
            concurrency_limit=None,  # a stream holds its slot while the person talks
            api_visibility="private",
        )
        # One event per question, from Stop (or upload) to the end of the spoken answer. The
        # "minimal" progress is the queue place and a timer, without the animated overlay on
        # every output, which costs the visitor's CPU just when the answer is being made.
        for listener, handler, source, name in (
            (microphone.stop_recording, answer_recording, live_state, "recording"),
            (upload.upload, answer_upload, upload, "upload"),
        ):
            listener(
                handler,
                inputs=source,
                outputs=[question_box, answer_box, player, backends_line],
                api_name=f"page_answer_{name}",
                api_visibility="private",
                show_progress="minimal",
                **answering,
            )

        with gr.Row(visible=False):  # outputs of the API endpoints only
            speech = SpeechStream(label="Spoken answer", streaming=True, autoplay=True)
            complete_mp3 = gr.Audio(type="filepath", format="mp3", label="Spoken answer")
            details = gr.JSON(label="Details")
            ask_button = gr.Button()
            ask_stream_button = gr.Button()
            read_response_button = gr.Button()
            recording = gr.Audio(type="filepath", label="Question")
        ask_button.click(
            ask,
            inputs=recording,
            outputs=[question_box, answer_box, complete_mp3, details],
            api_name="ask",
            **answering,
        )
        ask_stream_button.click(
            ask_stream,
            inputs=recording,
            outputs=[question_box, answer_box, speech],
            api_name="ask_stream",
            **answering,
        )
        # What the page's player receives for an answer text (the page's own event takes the
        # answer from session state, which clients cannot set).
        read_response_button.click(
            read_response,
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
    build_app(ball).queue().launch()


if __name__ == "__main__":
    main()
