"""Memory the process has freed, given back to the system."""

from __future__ import annotations

import ctypes


def give_back_memory() -> None:
    """Return freed heap memory to the system where the C library can (glibc's `malloc_trim`,
    which is quick). Without it the native libraries' freed buffers stay with the process after
    many recordings at once, and memory climbs slowly over many requests."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
