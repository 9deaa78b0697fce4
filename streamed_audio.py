"""`gr.Audio(streaming=True)` for the API's streamed speech (`/ask_stream`), converted in-process.

Gradio 6.17 turns every streamed chunk into AAC for its HLS playlist with pydub, which runs
ffprobe and ffmpeg twice per chunk: about 0.25 s a chunk on 2 cores, all of it before the
client hears of the chunk. `SpeechStream` does the same conversion with PyAV (under 0.02 s).
It is the same component to the browser and to gradio_client (`get_block_name` is "audio").

The hook is `Audio.covert_to_adts` (sic), which `Audio.stream_output` calls on the component:
not a documented API, so requirements.txt pins Gradio and tests/test_app.py checks the
playlist against the complete answer.
"""

from __future__ import annotations

import anyio
import gradio as gr

from pipelines.audio import mp3_to_adts


class SpeechStream(gr.Audio):
    """A streaming audio output whose MP3 chunks become AAC without subprocesses."""

    @classmethod
    def get_block_name(cls) -> str:
        return "audio"

    @staticmethod
    async def covert_to_adts(data: bytes) -> tuple[bytes, float]:
        return await anyio.to_thread.run_sync(mp3_to_adts, data)
