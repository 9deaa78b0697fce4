"""Magic 8 Ball voice: the Gradio Blocks page and its API (`/ask`, `/ask_stream`, `/ask_hls`,
`/read_response`), wired to the handlers in web/ and the answering in pipelines/.

`python app.py` serves it on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860).
"""

import spaces  # noqa: F401  (ZeroGPU: spaces must be imported before torch initialises CUDA)

import logging
import sys

import gradio as gr
from starlette.middleware import Middleware

from pipelines.backends import build_backends
from pipelines.magic8 import Magic8Ball
from pipelines.settings import Settings, SettingsError
from web.ball import NEW_QUESTION_JS, THINKING_JS, answer_ball
from web.handlers import Handlers, small
from web.hls import SpeechStream
from web.http_guard import HttpGuard
from web.player import speech_player
from web.recorder import speech_recorder

log = logging.getLogger("magic8.app")

# Gradio's queue looks for new jobs every 1 ms, and for progress to send every 10 ms, which keeps
# an idle app busy (docs/limits.md). Every 10 ms for jobs (at most 10 ms more before an answer
# starts) and every 0.1 s for progress (the page shows none; Gradio's own choice on Windows)
# cost a tenth of that. Gradio has no public setting for either.
QUEUE_POLL_S, PROGRESS_POLL_S = 0.01, 0.1
MOST_JSON_BYTES = 4 * 2**20  # a request that is not an upload: a recorder chunk is at most 2.6 MB
# Gradio keeps a copy of the page's config (its scripts, mostly) for each visitor session, for
# the latest 10,000 sessions by default: a gigabyte for anyone who opens sessions. The app keeps
# nothing in sessions (no gr.State), so the latest 200 are plenty.
SESSIONS_KEPT = 200
# One narrow column, centred: the ball, the Record button and the answer fit a phone's width.
# The title is bold in the system's font: Gradio's semi-bold has few capitals (web/ball.py).
PAGE_CSS = """
#magic8-page { max-width: 34rem; margin: 0 auto; }
#magic8-page h1 { text-align: center; font-family: system-ui, sans-serif; font-weight: 700; }
#magic8-page .magic8-tagline { text-align: center; color: var(--body-text-color-subdued); }
"""


def build_app(ball: Magic8Ball) -> gr.Blocks:
    """The Blocks UI (microphone or upload in, streamed speech out) and the API endpoints."""
    handlers = Handlers(ball)
    settings = ball.settings
    # Gradio's cache (uploads, answer MP3s): files older than MAGIC8_CACHE_MINUTES are deleted,
    # looked for three times as often.
    max_age_s = int(settings.cache_minutes * 60)
    with gr.Blocks(title="Magic 8 Ball", delete_cache=(max_age_s // 3, max_age_s)) as demo:
        with gr.Column(elem_id="magic8-page"):
            gr.Markdown(
                "# Magic 8 Ball\n"
                "<p class='magic8-tagline'>Ask a question out loud and hear its answer.</p>"
            )
            answer_shown = answer_ball()
            recorder = speech_recorder(
                handlers.receive_chunk, handlers.drop_recording, settings.max_seconds,
                settings.pause_seconds,
            )
            player = speech_player()
            with gr.Accordion("No microphone? Upload a recording", open=False):
                upload = gr.Audio(sources=["upload"], type="filepath", label="Your question")
            backends_line = gr.Markdown(small(ball.backends.label), elem_id="backends")
        # Every answering event, page or API, shares one group of MAGIC8_CONCURRENCY slots
        # (past that, people queue and see their place). Served stages just wait on the
        # network in parallel; the local models take one request at a time each.
        answering = {"concurrency_id": "answering", "concurrency_limit": settings.concurrency}
        page_outputs = [answer_shown, player, backends_line]

        # One event per question, from the end of the recording (or the upload) to the end of
        # the spoken answer. The "minimal" progress is the queue place and a timer, without
        # the animated overlay on every output, which costs the visitor's CPU just when the
        # answer is being made. A Record click drops the answer being made or spoken (the
        # page has stopped playing it already).
        answering_recording = recorder.recorded(
            handlers.answer_recording, outputs=page_outputs, api_name="page_answer_recording",
            api_visibility="private", show_progress="minimal", trigger_mode="multiple",
            **answering,
        )
        upload.upload(None, js=THINKING_JS, outputs=answer_shown)
        answering_upload = upload.upload(
            handlers.answer_upload, inputs=upload, outputs=page_outputs,
            api_name="page_answer_upload", api_visibility="private", show_progress="minimal",
            cancels=[answering_recording], **answering,
        )
        recorder.started(
            None, js=NEW_QUESTION_JS, outputs=answer_shown,
            cancels=[answering_recording, answering_upload],
        )

        # The API, each endpoint typed by its handler's signature (see README, "Use it").
        # HLS needs Gradio's streaming audio component, so /ask_hls has a hidden input and
        # output, and no trigger on the page.
        gr.api(handlers.ask, api_name="ask", **answering)
        gr.api(handlers.ask_stream, api_name="ask_stream", **answering)
        gr.api(handlers.read_response, api_name="read_response", **answering)
        with gr.Row(visible=False):
            recording = gr.Audio(type="filepath", label="Question")
            question_heard = gr.Textbox(label="Question")
            answer_text = gr.Textbox(label="Answer")
            speech = SpeechStream(
                label="Spoken answer", streaming=True, autoplay=True, streams=demo.pending_streams
            )
        gr.on(
            [], handlers.ask_hls, inputs=recording, outputs=[question_heard, answer_text, speech],
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
    ball.speak_ahead()
    app = build_app(ball).queue()
    app._queue.sleep_when_free = QUEUE_POLL_S  # noqa: SLF001 (see QUEUE_POLL_S)
    app._queue.progress_update_sleep_when_free = PROGRESS_POLL_S  # noqa: SLF001
    app.launch(
        max_file_size=settings.max_upload_bytes,
        state_session_capacity=SESSIONS_KEPT,
        css=PAGE_CSS,
        app_kwargs={
            "middleware": [Middleware(HttpGuard)],
            "max_body_size": max(settings.max_upload_bytes, MOST_JSON_BYTES) + 2**20,
        },
    )


if __name__ == "__main__":
    main()
