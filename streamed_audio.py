"""`gr.Audio(streaming=True)` for HLS listeners (`/ask_hls`): one AAC encoder per answer.

Gradio 6.17 turns every streamed chunk into AAC on its own (with pydub, which runs ffprobe and
ffmpeg twice per chunk): each segment of its HLS playlist starts a new encoder, with its
priming and padding, so the joined segments had a gap or click at every seam (212 ms too long
over 3 segments). `SpeechStream` gives each answer one `AdtsStreamEncoder` (PyAV, in-process,
under 0.02 s a chunk): the segments join into the answer's one AAC stream.

The hook is `Audio.stream_output`, which Gradio calls with each value the handler yields and
the stream's id (one per answer). The handler yields each MP3 chunk of the answer as bytes and,
at the end, b"" to flush the encoder (`mp3_chunks` never yields empty bytes). Not a documented
API, so requirements.txt pins Gradio and tests/test_seams.py checks the playlist's segments
against the complete answer.
"""

from __future__ import annotations

from collections import OrderedDict

import anyio
import gradio as gr

from pipelines.audio import AdtsStreamEncoder

END_OF_SPEECH = b""  # what a handler yields last: the encoder's last frames
MOST_OPEN_STREAMS = 64  # encoders of answers that never ended (cancelled) are dropped past this


class SpeechStream(gr.Audio):
    """A streaming audio output whose MP3 chunks become one continuous AAC stream per answer."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._encoders: OrderedDict[str, AdtsStreamEncoder] = OrderedDict()

    @classmethod
    def get_block_name(cls) -> str:
        return "audio"

    async def stream_output(self, value, output_id: str, first_chunk: bool) -> tuple:
        """Gradio's hook: the next HLS segment of stream `output_id` for `value` (MP3 bytes, or
        END_OF_SPEECH), and the playlist's file data."""
        if not isinstance(value, bytes):
            # An answer begins with an update without speech. Gradio names streams after the
            # id of the handler's iterator, which Python reuses: an encoder left by an answer
            # that never ended (cancelled) must not carry on into the next one.
            self._encoders.pop(output_id, None)
            return await super().stream_output(value, output_id, first_chunk)
        _, playlist = await super().stream_output(None, output_id, first_chunk)
        if value == END_OF_SPEECH:
            encoder = self._encoders.pop(output_id, None)
            if encoder is None:
                return None, playlist
            data, seconds = await anyio.to_thread.run_sync(encoder.finish)
        else:
            encoder = self._encoders.get(output_id)
            if encoder is None:
                encoder = self._encoders[output_id] = AdtsStreamEncoder()
                while len(self._encoders) > MOST_OPEN_STREAMS:
                    self._encoders.popitem(last=False)
            data, seconds = await anyio.to_thread.run_sync(encoder.encode, value)
        segment = {"data": data, "duration": seconds, "extension": ".aac"} if data else None
        return segment, playlist
