"""Audio in and out: decode any recording to 16 kHz mono, float32 -> int16, MP3 encoding."""

from __future__ import annotations

import io
import wave
from itertools import chain
from typing import Iterable, Iterator

import av
import lameenc
import numpy as np

from pipelines.errors import UserFacingError

ASR_SAMPLE_RATE = 16_000
MIN_SECONDS = 0.3
LENGTH_GRACE_S = 0.5  # a recording may run this much past the limit (a late Stop click)
MP3_BITRATE_KBPS = 64
# No speech is longer than this, whatever any Speaker makes of its text (a 30-word answer takes
# about 12 s); the text itself is bounded first, by `spoken_text`.
MAX_SPEECH_SECONDS = 30.0


def _describe(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def check_length(seconds: float, max_seconds: float, at_least: bool = False) -> None:
    """Refuse a recording shorter than MIN_SECONDS or longer than `max_seconds` (by more than
    LENGTH_GRACE_S), with a message that says how long it is (`at_least`: or longer)."""
    if seconds > max_seconds + LENGTH_GRACE_S:
        more = "over " if at_least else ""
        raise UserFacingError(
            f"That recording is {more}{_describe(seconds)} long; questions can be at most "
            f"{_describe(max_seconds)}. Please ask a shorter question."
        )
    if seconds < MIN_SECONDS:
        raise UserFacingError(
            f"That recording is only {seconds:.1f} s long. "
            "Please ask your whole question before you stop recording."
        )


def most_samples(max_seconds: float) -> int:
    """The most 16 kHz samples a recording may have (see `check_length`)."""
    return int((max_seconds + LENGTH_GRACE_S) * ASR_SAMPLE_RATE)


def _to_asr_rate() -> av.AudioResampler:
    return av.AudioResampler(format="flt", layout="mono", rate=ASR_SAMPLE_RATE)


def decode_question(path: str, max_seconds: float) -> np.ndarray:
    """Decode an audio file of any format, rate and channel count to 16 kHz mono float32.

    NaN and infinite samples become silence, and samples are clipped to [-1, 1]. Raises
    UserFacingError when the file is not audio, is shorter than MIN_SECONDS or longer
    than `max_seconds` (refused, not trimmed; decoding stops as soon as that is clear).
    """
    pieces: list[np.ndarray] = []
    total = 0
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise UserFacingError("That file has no sound in it. Please record a question.")
            if container.duration:
                check_length(max(container.duration / av.time_base, MIN_SECONDS), max_seconds)
            resampler = _to_asr_rate()
            frames = container.decode(container.streams.audio[0])
            for frame in chain(frames, [None]):  # None flushes the resampler
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    pieces.append(samples)
                    total += samples.size
                    if total > most_samples(max_seconds):
                        check_length(total / ASR_SAMPLE_RATE, max_seconds, at_least=True)
    except (av.error.FFmpegError, ValueError, IndexError) as error:
        raise UserFacingError(
            "That file is not a recording I can read. Please record your question "
            "or upload a WAV, MP3, OGG or M4A file."
        ) from error
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    check_length(audio.size / ASR_SAMPLE_RATE, max_seconds)
    # A float file may hold NaN or infinities (silence to us) and values past full scale.
    audio = np.nan_to_num(audio.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(audio, -1.0, 1.0, out=audio)


class StreamResampler:
    """Microphone chunks at any rate (int16 or float, mono or interleaved channels) to one
    continuous 16 kHz mono float32 stream; `flush()` returns what it still holds, at the end."""

    def __init__(self) -> None:
        self._resampler = _to_asr_rate()

    def __call__(self, sample_rate: int, chunk: np.ndarray) -> np.ndarray:
        """The 16 kHz samples for `chunk` (a few may come out with the next call)."""
        if not chunk.size:  # FFmpeg refuses an empty frame
            return np.zeros(0, np.float32)
        samples = chunk.astype(np.float32)
        if np.issubdtype(chunk.dtype, np.integer):
            samples /= float(np.iinfo(chunk.dtype).max) + 1
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = sample_rate
        return self._join(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """The samples still inside the resampler."""
        return self._join(self._resampler.resample(None))

    @staticmethod
    def _join(frames: list) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float32 samples in [-1, 1] to int16 PCM (clipped, rounded: `from_int16` of the result
    gives it back exactly)."""
    return np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def from_int16(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM to float32 samples in [-1, 1] (`to_int16` undone)."""
    return pcm.astype(np.float32) / np.float32(32767.0)


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """float32 mono samples as a 16-bit PCM WAV file in memory."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(to_int16(audio).tobytes())
    return buffer.getvalue()


class Mp3StreamEncoder:
    """One LAME encoder for a whole utterance. Chunks encoded one after another join into one
    gapless MP3, byte for byte the same as encoding all the samples at once."""

    def __init__(self, sample_rate: int) -> None:
        self._lame = lameenc.Encoder()
        self._lame.set_bit_rate(MP3_BITRATE_KBPS)
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_channels(1)
        self._lame.set_quality(5)
        self._encoding = False  # LAME refuses to flush before its first samples

    def encode(self, audio: np.ndarray) -> bytes:
        """MP3 frames for `audio` so far (LAME keeps up to a frame back for the next call)."""
        if not audio.size:
            return b""
        self._encoding = True
        return bytes(self._lame.encode(to_int16(audio).tobytes()))

    def finish(self) -> bytes:
        """The frames still held back (none where no audio came); call once, at the end."""
        return bytes(self._lame.flush()) if self._encoding else b""


def encode_mp3(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encode float32 mono samples as one MP3 (bytes, not bytearray)."""
    encoder = Mp3StreamEncoder(sample_rate)
    return encoder.encode(audio) + encoder.finish()


def mp3_chunks(
    chunks: Iterable[np.ndarray], sample_rate: int, chunk_seconds: float | None
) -> Iterator[bytes]:
    """MP3 bytes for a stream of float32 chunks, from one encoder per stream.

    Each piece of at most `chunk_seconds` (chunks are split, never merged, so nothing waits for
    later audio) is encoded as it comes, and the encoder's flush comes last: joined, the items
    are one gapless MP3. With `chunk_seconds` None there is a single item, the whole MP3.
    Speech ends at MAX_SPEECH_SECONDS (see `at_most`).
    """
    chunks = at_most(chunks, int(MAX_SPEECH_SECONDS * sample_rate))
    encoder = Mp3StreamEncoder(sample_rate)
    if chunk_seconds is None:
        yield b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.finish()
        return
    for piece in rechunk(chunks, max(1, int(chunk_seconds * sample_rate))):
        data = encoder.encode(piece)
        if data:
            yield data
    tail = encoder.finish()
    if tail:
        yield tail


def at_most(chunks: Iterable[np.ndarray], max_samples: int) -> Iterator[np.ndarray]:
    """The first `max_samples` samples of a stream of chunks; closes the stream at the limit."""
    left = max_samples
    try:
        for chunk in chunks:
            yield chunk[:left]
            left -= min(left, chunk.size)
            if not left:
                return
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def rechunk(chunks: Iterable[np.ndarray], max_samples: int) -> Iterator[np.ndarray]:
    """Split each chunk into equal pieces of at most `max_samples`, keeping every sample."""
    for chunk in chunks:
        pieces = max(1, -(-chunk.size // max_samples))
        yield from np.array_split(chunk, pieces)
