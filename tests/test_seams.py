"""What the page receives, through the real server: the streamed answer joins into exactly the
complete answer of `/ask`, at short and long chunk settings."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from gradio_client import Client, handle_file

from player import player_chunks
from tests.helpers import app_server

RATE = 22_050  # Piper's joe voice


def ffmpeg_decode(mp3: bytes) -> np.ndarray:
    """Samples of an MP3, decoded by the ffmpeg command line (not by the app's own code)."""
    result = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "pipe:1"],
        input=mp3,
        capture_output=True,
        check=True,
    )
    return np.frombuffer(result.stdout, np.int16).astype(np.float32) / 32768


@pytest.fixture(scope="module", params=[0.5, 2.0], ids=["0.5s-chunks", "2s-chunks"])
def seeded_server(request, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("seams") / "app.log"
    env = {"MAGIC8_SEED": "7", "MAGIC8_CHUNK_SECONDS": str(request.param), "HF_TOKEN": None}
    with app_server(env, log_path) as url:
        yield Client(url, verbose=False), request.param


def test_streamed_answer_is_the_complete_answer(seeded_server, question_wav):
    client, chunk_seconds = seeded_server
    _question, answer, mp3_path, _details = client.submit(
        handle_file(str(question_wav)), api_name="/ask"
    ).result(timeout=60)
    # The page's speech comes from the `read_response` event: fetch what the page fetches.
    job = client.submit(answer, api_name="/read_response")
    updates = list(job)
    job.result(timeout=60)
    chunks = player_chunks(updates[-1][0])
    answer_seconds = len(ffmpeg_decode(open(mp3_path, "rb").read())) / RATE
    assert len(chunks) >= 1 + int(answer_seconds // chunk_seconds)  # it did stream
    streamed = ffmpeg_decode(b"".join(chunks))
    complete = ffmpeg_decode(open(mp3_path, "rb").read())
    assert abs(streamed.size - complete.size) / RATE <= 0.060
    # No gap and no click at any seam: sample for sample, the same audio.
    assert np.max(np.abs(streamed[: complete.size] - complete[: streamed.size])) < 1e-3
