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

Gradio keeps every answer's segments in `Blocks.pending_streams` for good, under the session and
the `id()` of the handler's iterator, which Python reuses: a later answer whose iterator got a
finished one's id was appended to that answer's playlist (already ended), and the memory was
never given back. So each answer starts a stream of its own, and only the latest
`MOST_KEPT_ANSWERS` answers stay fetchable.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum

import anyio
import gradio as gr
from gradio.route_utils import MediaStream

from pipelines.audio import AdtsStreamEncoder

END_OF_SPEECH = b""  # what a handler yields last: the encoder's last frames
MOST_KEPT_ANSWERS = 64  # answers whose segments stay fetchable (up to 30 s, 0.3 MB, each)


class Answer(Enum):
    """Where an answer's stream is: Gradio calls `stream_output` once more after the last
    segment (with None, its stream already ended), and Python reuses a finished answer's id."""

    SPEAKING = 1  # begun; if it never gets further, it was cancelled
    SPOKEN = 2  # its last segment is made; Gradio's final call is still to come
    DONE = 3


class SpeechStream(gr.Audio):
    """A streaming audio output whose MP3 chunks become one continuous AAC stream per answer."""

    def __init__(self, *args, streams: dict[str, dict[int, dict]], **kwargs) -> None:
        """`streams`: the Blocks' `pending_streams`, where Gradio keeps each answer's segments
        (by session, then run)."""
        super().__init__(*args, **kwargs)
        self._encoders: dict[str, AdtsStreamEncoder] = {}  # of answers still speaking
        self._streams = streams
        self._answers: OrderedDict[str, Answer] = OrderedDict()  # by stream id, oldest first

    @classmethod
    def get_block_name(cls) -> str:
        return "audio"

    async def stream_output(self, value, output_id: str, first_chunk: bool) -> tuple:
        """Gradio's hook: the next HLS segment of stream `output_id` for `value` (MP3 bytes, or
        END_OF_SPEECH), and the playlist's file data."""
        if not isinstance(value, bytes):
            if self._answers.get(output_id) is Answer.SPOKEN and not first_chunk:
                self._answers[output_id] = Answer.DONE  # Gradio's final call
            else:  # an answer begins with an update without speech
                self._begin(output_id, first_chunk)
            return await super().stream_output(value, output_id, first_chunk)
        _, playlist = await super().stream_output(None, output_id, first_chunk)
        if value == END_OF_SPEECH:
            self._answers[output_id] = Answer.SPOKEN
            encoder = self._encoders.pop(output_id, None)
            if encoder is None:
                return None, playlist
            data, seconds = await anyio.to_thread.run_sync(encoder.finish)
        else:
            encoder = self._encoders.get(output_id)
            if encoder is None:
                if output_id not in self._answers:  # forgotten while it spoke: kept in bounds
                    self._remember(output_id)
                encoder = self._encoders[output_id] = AdtsStreamEncoder()
            data, seconds = await anyio.to_thread.run_sync(encoder.encode, value)
        segment = {"data": data, "duration": seconds, "extension": ".aac"} if data else None
        return segment, playlist

    def _begin(self, output_id: str, first_chunk: bool) -> None:
        """A new answer on stream `output_id` ("session/run/component/playlist.m3u8"), with a
        stream of its own."""
        # Gradio names streams after the id of the handler's iterator, which Python reuses: an
        # encoder left by an answer that never ended (cancelled) must not carry on into the
        # next one, nor the next one's segments be added to the earlier one's playlist.
        self._encoders.pop(output_id, None)
        session, run, component = output_id.split("/")[:3]
        if not first_chunk:
            streams = self._streams[session][int(run)]
            streams[int(component)] = MediaStream(streams[int(component)].desired_output_format)
        self._remember(output_id)

    def _remember(self, output_id: str) -> None:
        """Stream `output_id` is speaking; past MOST_KEPT_ANSWERS, the oldest answer (a done
        one if there is one) is forgotten with its segments and encoder."""
        self._answers[output_id] = Answer.SPEAKING
        self._answers.move_to_end(output_id)
        while len(self._answers) > MOST_KEPT_ANSWERS:
            done = (key for key, answer in self._answers.items() if answer is Answer.DONE)
            oldest = next(done, next(iter(self._answers)))
            del self._answers[oldest]
            self._encoders.pop(oldest, None)
            session, run = oldest.split("/")[:2]
            runs = self._streams.get(session, {})
            runs.pop(int(run), None)
            if not runs:
                self._streams.pop(session, None)
