"""ParlerSpeaker and the choice of speaker, with a tiny Parler-TTS checkpoint saved in the test."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import soundfile as sf

from pipelines.tts import ParlerSpeaker, PiperSpeaker, choose_speaker, joe_voice_path
from tests.support.tiny_parler import save_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-parler")
    save_tiny_checkpoint(folder, max_frames=120)
    return str(folder)


def test_parler_loads_and_streams_mp3_chunks(checkpoint):
    speaker = choose_speaker("parler", joe_voice_path(), checkpoint, "A calm voice.", 0.2)
    assert isinstance(speaker, ParlerSpeaker) and speaker.name == "Parler-TTS"
    attention = speaker.model.decoder.config._attn_implementation  # noqa: SLF001 (no public one)
    assert attention == "sdpa"
    chunks = list(speaker.stream_mp3(["will it rain?"], chunk_seconds=0.5))
    assert len(chunks) > 1 and all(isinstance(chunk, bytes) for chunk in chunks)
    streamed, rate = sf.read(io.BytesIO(b"".join(chunks)))  # one continuous MP3
    assert rate == 44_100 and np.isfinite(streamed).all()
    assert 0.2 < streamed.size / rate <= 120 * 512 / 44_100 + 0.1


def test_auto_speaks_with_piper_without_a_gpu(caplog):
    with caplog.at_level(logging.INFO, logger="magic8"):
        speaker = choose_speaker("auto", joe_voice_path(), "unused", "unused", 0.5)
    assert isinstance(speaker, PiperSpeaker) and speaker.name == "Piper"
    assert "no CUDA GPU" in caplog.text


def test_parler_that_does_not_load_falls_back_to_piper(caplog, tmp_path):
    with caplog.at_level(logging.WARNING, logger="magic8"):
        speaker = choose_speaker("parler", joe_voice_path(), str(tmp_path / "empty"), "x", 0.5)
    assert isinstance(speaker, PiperSpeaker)
    assert speaker.name == "Piper (Parler-TTS did not load)"
    assert "Parler-TTS did not load" in caplog.text
