"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg command line quietly (test files in other formats and rates)."""
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True)


def ffmpeg_decode(data: bytes, rate: int | None = None) -> np.ndarray:
    """The samples of audio bytes (MP3, AAC ...), mono float32, at `rate` (None: the file's own),
    decoded by the ffmpeg command line (not by the app's own code)."""
    resample = ["-ar", str(rate)] if rate else []
    result = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", *resample,
         "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    )
    return np.frombuffer(result.stdout, np.float32)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def app_server(
    env: dict[str, str | None],
    log_path: Path,
    start_timeout_s: float = 120,
    python: str = sys.executable,
) -> Iterator[str]:
    """Run `python app.py` on a free loopback port; yield its URL, then stop it.

    `env` is added to this process's environment; a None value removes that variable.
    """
    with app_process(env, log_path, start_timeout_s, python) as (url, _process):
        yield url


@contextmanager
def app_process(
    env: dict[str, str | None],
    log_path: Path,
    start_timeout_s: float = 120,
    python: str = sys.executable,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`app_server`, yielding the app's process with its URL (to measure what it uses)."""
    port = free_port()
    overrides = {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        # Tests start many apps: none speaks the proverb bank ahead (about 150 CPU-seconds
        # each) unless its test asks for it.
        "MAGIC8_SPEECH_AHEAD_MB": "0",
        **env,
    }
    url = f"http://127.0.0.1:{port}/"
    with serving_process([python, "app.py"], url, overrides, log_path, start_timeout_s) as app:
        yield url, app


@contextmanager
def serving_process(
    command: list[str],
    ready_url: str,
    env: dict[str, str | None],
    log_path: Path,
    start_timeout_s: float = 120,
) -> Iterator[subprocess.Popen]:
    """Run `command` (a server) from the repository's root with `env` added to this process's
    environment (None removes a variable), its output in `log_path`; yield it once a GET of
    `ready_url` answers 200, then stop it."""
    full_env = {**os.environ, **env}
    full_env = {name: value for name, value in full_env.items() if value is not None}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + start_timeout_s
        while not _answers(ready_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RecorderRoute:
    """The page recorder's server functions, called the way its script calls them (any client
    can): `send(chunk)` sends one chunk, `drop(recording)` leaves a recording; each returns the
    reply (or {"error": body} for an HTTP error)."""

    def __init__(self, url: str, session: str = "x") -> None:
        config = httpx.get(url + "config", timeout=10).json()
        components = config["components"]
        recorder = next(
            c for c in components if "send_chunk" in c["props"].get("server_fns", [])
        )
        self._url = url + "gradio_api/component_server/"
        self._body = {"component_id": recorder["id"], "session_hash": session}
        self._http = httpx.Client(timeout=30)

    def send(self, data: object) -> dict:
        """Send `data` as one chunk."""
        return self._call("send_chunk", data)

    def drop(self, recording: object) -> dict:
        """Drop the recording `recording`, as the page does at a new Record click."""
        return self._call("drop_recording", recording)

    def _call(self, function: str, data: object) -> dict:
        body = {**self._body, "fn_name": function, "data": data}
        response = self._http.post(self._url, json=body)
        return response.json() if response.status_code == 200 else {"error": response.text}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
