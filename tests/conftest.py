"""Shared fixtures: the embedded models, spoken questions made with Piper, and a live app server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipelines.backends import embedded_backends
from pipelines.magic8 import Magic8Ball
from pipelines.settings import Settings
from tests.support.helpers import app_server

QUESTION = "Should I buy a new bicycle?"
QUESTION_WORDS = ("buy", "bicycle")


@pytest.fixture(scope="session")
def ball() -> Magic8Ball:
    """The embedded stack, loaded once for the whole test session."""
    settings = Settings.from_env({"MAGIC8_SEED": "7"})
    return Magic8Ball(settings, embedded_backends(settings))


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def question_wav(ball: Magic8Ball, audio_dir: Path) -> Path:
    """QUESTION spoken by Piper: a 22.05 kHz mono WAV of about 2 s."""
    speaker = ball.backends.speaker
    path = audio_dir / "question.wav"
    sf.write(path, np.concatenate(list(speaker.stream(QUESTION))), speaker.sample_rate)
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The app on a free loopback port, seeded, with 0.5 s speech chunks; yields (url, log path)."""
    log_path = tmp_path_factory.mktemp("server") / "app.log"
    env = {
        "MAGIC8_SEED": "7",
        "MAGIC8_CHUNK_SECONDS": "0.5",
        "MAGIC8_MAX_SECONDS": "30",
        "MAGIC8_SPEECH_AHEAD_MB": None,  # as the app runs by default: answers spoken ahead
        "HF_TOKEN": None,
    }
    try:
        with app_server(env, log_path) as url:
            yield url, log_path
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)
