"""Small helpers shared by the tests."""

from __future__ import annotations

import socket
import subprocess


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg command line quietly (test files in other formats and rates)."""
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
