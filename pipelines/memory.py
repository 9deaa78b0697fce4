"""Memory the process has freed, given back to the system."""

from __future__ import annotations

import ctypes


def give_back_memory() -> None:
    """Return freed heap memory to the system where the C library can (glibc's `malloc_trim`,
    about 1 ms). Without it the native libraries' freed buffers stay with the process: about
    100 MB after ten recordings at once, and a slow climb over many requests."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
