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
SILENCE_PEAK = 10 ** (-50 / 20)  # -50 dBFS: quieter than any microphone's noise floor
MP3_BITRATE_KBPS = 64


def _describe(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def decode_question(path: str, max_seconds: float) -> np.ndarray:
    """Decode an audio file of any format, rate and channel count to 16 kHz mono float32.

    Raises UserFacingError when the file is not audio, holds no sound, is shorter
    than MIN_SECONDS or longer than `max_seconds` (refused, not trimmed).
    """
    too_long = UserFacingError(
        f"That recording is longer than {_describe(max_seconds)}. "
        "Please ask a shorter question."
    )
    max_samples = int(max_seconds * ASR_SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    total = 0
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise UserFacingError("That file has no sound in it. Please record a question.")
            if container.duration and container.duration / av.time_base > max_seconds + 0.5:
                seconds = container.duration / av.time_base
                raise UserFacingError(
                    f"That recording is {_describe(seconds)} long; questions can be at most "
                    f"{_describe(max_seconds)}. Please ask a shorter question."
                )
            resampler = av.AudioResampler(format="flt", layout="mono", rate=ASR_SAMPLE_RATE)
            frames = container.decode(container.streams.audio[0])
            for frame in chain(frames, [None]):  # None flushes the resampler
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    pieces.append(samples)
                    total += samples.size
                    if total > max_samples + ASR_SAMPLE_RATE // 2:
                        raise too_long
    except (av.error.FFmpegError, ValueError, IndexError) as error:
        raise UserFacingError(
            "That file is not a recording I can read. Please record your question "
            "or upload a WAV, MP3, OGG or M4A file."
        ) from error
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    if audio.size < MIN_SECONDS * ASR_SAMPLE_RATE:
        raise UserFacingError(
            f"That recording is only {audio.size / ASR_SAMPLE_RATE:.1f} s long. "
            "Please hold the record button while you ask your question."
        )
    return audio.astype(np.float32, copy=False)


def is_silent(audio: np.ndarray) -> bool:
    """True when no sample rises above the silence floor (a muted or unplugged microphone)."""
    return audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float32 samples in [-1, 1] to int16 PCM (clipped)."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


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

    def encode(self, audio: np.ndarray) -> bytes:
        """MP3 frames for `audio` so far (LAME keeps up to a frame back for the next call)."""
        return bytes(self._lame.encode(to_int16(audio).tobytes()))

    def finish(self) -> bytes:
        """The frames still held back; call once, at the end."""
        return bytes(self._lame.flush())


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
    """
    encoder = Mp3StreamEncoder(sample_rate)
    if chunk_seconds is None:
        yield b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.finish()
        return
    for piece in rechunk(chunks, max(1, int(chunk_seconds * sample_rate))):
        data = encoder.encode(piece)
        if data:
            yield data
    yield encoder.finish()


def rechunk(chunks: Iterable[np.ndarray], max_samples: int) -> Iterator[np.ndarray]:
    """Split each chunk into equal pieces of at most `max_samples`, keeping every sample."""
    for chunk in chunks:
        pieces = max(1, -(-chunk.size // max_samples))
        yield from np.array_split(chunk, pieces)
