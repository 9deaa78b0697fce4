"""The backend of each stage, chosen once from the settings: the embedded models, or served
stages with their offline fallbacks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pipelines.asr import (
    FasterWhisperTranscriber,
    MoonshineTranscriber,
    ServedTranscriber,
    Transcriber,
    TransformersWhisperTranscriber,
    tiny_en_model_dir,
    whisper_base_model_dir,
)
from pipelines.llm import Answerer, ServedAnswerer, local_answerer
from pipelines.providers import ProviderLookup, ServedModel, ServedStage
from pipelines.settings import Settings
from pipelines.tts import Speaker, choose_speaker, joe_voice_path
from pipelines.turn import describe_backends

log = logging.getLogger("magic8")


@dataclass(frozen=True)
class Backends:
    """One implementation per stage, chosen once from Settings.

    A stage served over the network has an offline fallback, used when the server fails.
    """

    transcriber: Transcriber
    answerer: Answerer
    speaker: Speaker
    offline_transcriber: Transcriber | None = None
    offline_answerer: Answerer | None = None

    @property
    def label(self) -> str:
        """What answers when all goes well, e.g. "offline · whisper tiny.en · proverb bank ·
        Piper"."""
        return describe_backends(self.transcriber, self.answerer, self.speaker)


def embedded_backends(settings: Settings) -> Backends:
    """The models shipped on PyPI that run on a CPU with no network (and Parler-TTS for the
    speech where a GPU is there for it)."""
    if settings.asr_engine == "transformers":
        transcriber: Transcriber = TransformersWhisperTranscriber(
            settings.asr_hf_model,
            settings.asr_hf_assistant,
            settings.asr_language,
            settings.asr_task,
            settings.asr_int8,
            settings.threads,
        )
    elif settings.asr_engine == "moonshine":
        transcriber = MoonshineTranscriber(settings.threads)
    elif settings.asr_engine == "base":
        transcriber = FasterWhisperTranscriber(
            whisper_base_model_dir(), "whisper base", settings.threads, settings.asr_language,
            settings.asr_task,
        )
    else:
        transcriber = FasterWhisperTranscriber(
            tiny_en_model_dir(), "whisper tiny.en", settings.threads
        )
    return Backends(
        transcriber=transcriber,
        answerer=local_answerer(
            Path(settings.llm_gguf) if settings.llm_gguf else None,
            settings.threads,
            settings.questions_in_english,
        ),
        speaker=choose_speaker(
            settings.tts,
            Path(settings.piper_voice) if settings.piper_voice else joe_voice_path(),
            settings.parler_model,
            settings.parler_description,
            settings.parler_play_seconds,
            deterministic=settings.seed is not None,
        ),
    )


def build_backends(settings: Settings) -> Backends:
    """Served stages where a token or endpoint URL is set, each with its offline fallback;
    the embedded models everywhere else. With a token, the Inference Providers serving each
    served model are looked up in the background and logged."""
    offline = embedded_backends(settings)
    if not (settings.asr_remote or settings.llm_remote):
        return offline
    lookup = ProviderLookup(settings.hf_token)
    token, budget_s = settings.hf_token, settings.api_timeout
    asr = ServedStage(
        ServedModel(settings.asr_api_model, "automatic-speech-recognition", settings.asr_provider),
        settings.asr_url, token, lookup, budget_s,
    )
    llm = ServedStage(
        ServedModel(settings.llm_api_model, "conversational", settings.llm_provider),
        settings.llm_url, token, lookup, budget_s,
    )
    asr_served, llm_served = settings.asr_remote, settings.llm_remote
    backends = Backends(
        transcriber=ServedTranscriber(asr) if asr_served else offline.transcriber,
        answerer=ServedAnswerer(llm) if llm_served else offline.answerer,
        speaker=offline.speaker,
        offline_transcriber=offline.transcriber if asr_served else None,
        offline_answerer=offline.answerer if llm_served else None,
    )
    log.info("served stages: %s (offline fallbacks ready)", backends.label)
    on_providers = {
        name: stage.served
        for name, stage, served in (("transcription", asr, asr_served), ("answer", llm, llm_served))
        if served and stage.on_providers
    }
    if on_providers:
        lookup.announce(on_providers)
    return backends
