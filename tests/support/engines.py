"""Real serving engines on loopback, for the tests and bench/load.py: llama-cpp-python's
OpenAI-compatible server with the SmolLM2 GGUF of the offline answers (`ChatServer`), and
faster-whisper-server with Whisper tiny.en (CTranslate2, from PyPI) behind OpenAI's
transcription API (`TranscriptionServer`). Both load local files only: no network."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil

from pipelines.asr import tiny_en_model_dir
from pipelines.llm import smollm2_gguf
from pipelines.remote import served_model_name
from tests.support.helpers import free_port, serving_process

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"


@dataclass(frozen=True)
class Engine:
    """One engine's process, serving `model` at `url` (its base, http://127.0.0.1:PORT)."""

    url: str
    model: str
    process: subprocess.Popen
    log_path: Path

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def label(self) -> str:
        """How the app names the served model."""
        return served_model_name(self.model, self.url)

    def wait_for_a_client(self, timeout_s: float) -> None:
        """Until a connection to the engine's port is open (a request has reached it, whether
        or not the engine has taken it)."""
        port = int(self.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout_s
        while not any(
            c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
            for c in psutil.net_connections(kind="tcp")
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing connected to {self.url} in {timeout_s} s")
            time.sleep(0.05)


@contextmanager
def _engine(command: list[str], ready_path: str, model: str, log_path: Path) -> Iterator[Engine]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*command, "--host", "127.0.0.1", "--port", str(port)]
    with serving_process(command, url + ready_path, {}, log_path, start_timeout_s=180) as process:
        yield Engine(url, model, process, log_path)


class ChatServer:
    """`python -m llama_cpp.server` with SmolLM2-135M-Instruct (OpenAI-compatible chat)."""

    model = "SmolLM2-135M-Instruct"

    @classmethod
    @contextmanager
    def started(cls, log_path: Path, threads: int = 1) -> Iterator[Engine]:
        """The server, once it answers; stopped after."""
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
            "--model_alias", cls.model, "--n_ctx", "2048", "--n_threads", str(threads),
        ]
        with _engine(command, "/v1/models", cls.model, log_path) as engine:
            yield engine


class TranscriptionServer:
    """faster-whisper-server with Whisper tiny.en (OpenAI's transcription API)."""

    model = "whisper-tiny.en"

    @classmethod
    @contextmanager
    def started(cls, log_path: Path) -> Iterator[Engine]:
        """The server, once it answers; stopped after."""
        command = [sys.executable, "-m", "faster_whisper_server", tiny_en_model_dir()]
        with _engine(command, "/health", cls.model, log_path) as engine:
            yield engine


def engines_env(chat: Engine, transcription: Engine) -> dict[str, str]:
    """The app's settings for answering through both engines."""
    return {
        "MAGIC8_ASR_URL": transcription.url + TRANSCRIPTIONS_PATH,
        "MAGIC8_ASR_API_MODEL": transcription.model,
        "MAGIC8_LLM_URL": chat.url,
        "MAGIC8_LLM_API_MODEL": chat.model,
    }
