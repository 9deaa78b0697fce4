import io

import numpy as np
import pytest
import soundfile as sf

from pipelines import audio
from pipelines.errors import UserFacingError
from tests.support.helpers import ffmpeg, ffmpeg_decode
from web.hls import AdtsStreamEncoder


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def test_stereo_48k_is_resampled_to_16k_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, tone(2.0, 48_000, channels=2), 48_000)
    samples = audio.decode_question(str(path), max_seconds=30)
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert abs(samples.size - 2.0 * audio.ASR_SAMPLE_RATE) < 200
    # FFmpeg downmixes two equal channels at -3 dB each: the peak is 0.3 * sqrt(2).
    assert 0.25 < np.max(np.abs(samples)) < 0.45


def test_compressed_formats_decode(tmp_path):
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone(1.5, 44_100), 44_100)
    for suffix in ("mp3", "ogg", "m4a"):
        ffmpeg("-i", str(wav), str(tmp_path / f"tone.{suffix}"))
        samples = audio.decode_question(str(tmp_path / f"tone.{suffix}"), max_seconds=30)
        assert abs(samples.size / audio.ASR_SAMPLE_RATE - 1.5) < 0.1, suffix


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a recording"),
        (b"This is a shopping list, not a song.\n" * 20, "not a recording"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4, "not a recording"),
    ],
)
def test_unreadable_files_get_a_human_message(tmp_path, content, message):
    path = tmp_path / "question.mp3"
    path.write_bytes(content)
    with pytest.raises(UserFacingError, match=message):
        audio.decode_question(str(path), max_seconds=30)


def test_too_short_recording_is_refused(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, tone(0.1, 16_000), 16_000)
    with pytest.raises(UserFacingError, match="only 0.1 s long"):
        audio.decode_question(str(path), max_seconds=30)


def test_too_long_recording_is_refused_with_both_lengths(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(40.0, 8_000), 8_000)
    with pytest.raises(UserFacingError, match="40.0 s long.*at most 30.0 s"):
        audio.decode_question(str(path), max_seconds=30)


def test_microphone_chunks_resample_like_the_whole_recording():
    recording = (tone(2.0, 48_000) * 32767).astype(np.int16)
    resampler = audio.StreamResampler()
    pieces = [resampler(48_000, chunk) for chunk in np.array_split(recording, 8)]
    streamed = np.concatenate([*pieces, resampler.flush()])
    assert streamed.dtype == np.float32
    assert abs(streamed.size - 2.0 * audio.ASR_SAMPLE_RATE) <= 1
    whole = audio.StreamResampler()
    at_once = np.concatenate([whole(48_000, recording), whole.flush()])
    assert np.max(np.abs(streamed - at_once[: streamed.size])) < 1e-4


def test_mp3_chunk_decodes_to_its_length():
    samples = tone(1.0, 22_050)
    decoded, rate = sf.read(io.BytesIO(audio.encode_mp3(samples, 22_050)))
    assert rate == 22_050
    # An MP3 frame holds 576 samples at 22.05 kHz; the encoder adds its delay and padding.
    assert 0 <= decoded.size - samples.size < 2_000
    assert np.max(np.abs(decoded)) > 0.25


def test_rechunk_keeps_every_sample_in_order():
    chunks = [np.arange(10, dtype=np.float32), np.arange(10, 13, dtype=np.float32)]
    pieces = list(audio.rechunk(chunks, max_samples=4))
    assert [p.size for p in pieces] == [4, 3, 3, 3]
    assert np.array_equal(np.concatenate(pieces), np.concatenate(chunks))


def test_mp3_chunks_join_into_the_one_shot_mp3():
    sentences = [tone(1.3, 22_050), tone(0.4, 22_050), tone(2.2, 22_050)]
    chunks = list(audio.mp3_chunks(iter(sentences), 22_050, chunk_seconds=0.5))
    assert len(chunks) >= 8
    assert b"".join(chunks) == audio.encode_mp3(np.concatenate(sentences), 22_050)
    (whole,) = audio.mp3_chunks(iter(sentences), 22_050, chunk_seconds=None)
    assert whole == b"".join(chunks)


def test_the_aac_segments_of_an_answer_are_one_stream_as_long_as_its_mp3():
    chunks = list(audio.mp3_chunks(iter([tone(1.3, 22_050), tone(0.9, 22_050)]), 22_050, 0.5))
    encoder = AdtsStreamEncoder()
    segments = [encoder.encode(chunk) for chunk in chunks] + [encoder.finish()]
    joined = b"".join(data for data, _seconds in segments)
    whole = AdtsStreamEncoder()
    assert joined == b"".join(part for part, _ in (whole.encode(b"".join(chunks)), whole.finish()))
    rate = AdtsStreamEncoder.RATE
    decoded = ffmpeg_decode(joined, rate)
    assert sum(seconds for _data, seconds in segments) == decoded.size / rate
    mp3_seconds = ffmpeg_decode(b"".join(chunks)).size / 22_050
    assert abs(decoded.size / rate - mp3_seconds) <= 0.060
    assert np.sqrt(np.mean(decoded**2)) > 0.1
