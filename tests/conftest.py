"""Shared fixtures: the embedded models, spoken questions made with Piper, and a live app server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from pipelines.magic8 import Magic8Ball, embedded_backends
from pipelines.settings import Settings
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
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
    """`python app.py` on a free loopback port; yields (url, log path). Stopped at the end."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "app.log"
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "MAGIC8_SEED": "7",
        "MAGIC8_CHUNK_SECONDS": "0.5",
        "MAGIC8_MAX_SECONDS": "30",
    }
    env.pop("HF_TOKEN", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the app did not start:\n{log_path.read_text()}")
        time.sleep(0.5)
    yield url, log_path
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)
