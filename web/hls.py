"""`gr.Audio(streaming=True)` for HLS listeners (`/ask_hls`): each answer one AAC encoder
(`AdtsStreamEncoder`) and one stream of its own, and only the latest `MOST_KEPT_ANSWERS`
answers kept. It hooks `Audio.stream_output`, which is not a documented API: requirements.txt
pins Gradio and tests/test_seams.py checks the segments against the whole answer. Why, and what
Gradio 6.17 does without it: docs/design.md.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from enum import Enum

import anyio
import av
import gradio as gr
from gradio.route_utils import MediaStream

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


class AdtsStreamEncoder:
    """The MP3 chunks of one answer (as `pipelines.audio.mp3_chunks` makes them) as AAC in ADTS,
    the segments Gradio's HLS playlist serves, made by one MP3 decoder and one AAC encoder for
    the whole answer: the segments join into one gapless AAC stream. In-process, with PyAV.

    AAC is encoded at 48 kHz: its encoder's 1024 samples of priming, which an ADTS stream
    cannot mark, are 21 ms there (46 ms at Piper's 22.05 kHz).
    """

    RATE = 48_000

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("mp3", "r")
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=self.RATE)
        self._out = io.BytesIO()
        # flush_packets: each packet reaches `_out` as it is muxed, not when a buffer fills
        self._container = av.open(self._out, "w", format="adts", options={"flush_packets": "1"})
        self._aac = self._container.add_stream("aac", rate=self.RATE, layout="mono")

    def encode(self, mp3: bytes) -> tuple[bytes, float]:
        """The ADTS frames ready after the next MP3 chunk, and the seconds of audio in them."""
        return self._segment(self._decoded(mp3))

    def finish(self) -> tuple[bytes, float]:
        """The last frames: what the decoder, the resampler and the encoder still hold."""
        data, seconds = self._segment([*self._decoded(None), *self._decoder.decode(None), None])
        self._container.close()
        return data, seconds

    def _decoded(self, mp3: bytes | None) -> list:
        packets = self._decoder.parse(mp3)
        return [frame for packet in packets for frame in self._decoder.decode(packet)]

    def _segment(self, frames: list) -> tuple[bytes, float]:
        samples = 0
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                resampled.pts = None  # the encoder numbers frames itself
                for packet in self._aac.encode(resampled):
                    samples += self._mux(packet)
            if frame is None:
                for packet in self._aac.encode(None):
                    samples += self._mux(packet)
        data = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return data, samples / self.RATE

    def _mux(self, packet) -> int:
        self._container.mux(packet)
        return 1024  # samples in an AAC-LC frame
