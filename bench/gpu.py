"""GPU figures for the Space's models, with random weights of the real architectures (the Hub
is out of reach here), through the app's own code:

- Parler-TTS, parler-mini-v1's architecture (flan-t5-large text encoder, a 24-layer decoder over
  9 codebooks, the DAC 44 kHz codec), spoken by the app's `ParlerSpeaker` (our streamer, MP3
  chunks) in float16 and bfloat16: time to the first MP3 chunk, and the real-time factor
  (seconds spent per second of speech);
- transformers Whisper, large-v3's architecture, through `TransformersWhisperTranscriber` in
  float16, with no assistant and with a decoder-only assistant of distil-large-v3's
  architecture (2 decoder layers, loaded as `MAGIC8_ASR_ASSISTANT` loads one): seconds per 5 s
  of audio.

    python -m bench.gpu            # on a CUDA GPU (about 3 minutes on one)
    python -m bench.gpu --dry-run  # the same code on tiny configs, on the CPU (a test runs it)

Random weights speak noise and transcribe nothing real: a random assistant agrees with the
main model on no token, so its figure is speculative decoding's cost with nothing accepted,
not its gain. Parler-TTS is kept from ending early (its end-of-audio token is suppressed), so
each answer is `--speech` seconds long. The text tokenizer is a character-level stand-in for
T5's (more tokens per prompt, which costs the text encoder a little more). Each figure is the
median of `--runs` runs after a warm-up, with the range.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from pipelines.asr import TransformersWhisperTranscriber, tiny_en_model_dir
from pipelines.audio import ASR_SAMPLE_RATE
from pipelines.settings import JENNY
from pipelines.tts import ParlerSpeaker
from tests.support.tiny_parler import tiny_parler, tiny_tokenizer
from tools.convert_ct2_whisper import convert

ANSWER = "Outlook good, but the river bends twice before it reaches the sea."
EOS, BOS = 1024, 1025  # Parler-TTS's end-of-audio (also padding) and start tokens


@dataclass(frozen=True)
class Figure:
    """One row of the table: a median and the range over runs."""

    what: str
    dtype: str
    measure: str
    values: list[float]
    digits: int = 3

    def row(self) -> str:
        low, median, high = min(self.values), statistics.median(self.values), max(self.values)
        d = self.digits
        spread = f"{low:.{d}f}–{high:.{d}f}"
        return f"| {self.what} | {self.dtype} | {self.measure} | {median:.{d}f} | {spread} |"


def parler_mini_v1():
    """A random Parler-TTS with parler-mini-v1's configuration (flan-t5-large encoder)."""
    from parler_tts import (
        ParlerTTSConfig,
        ParlerTTSDecoderConfig,
        ParlerTTSForConditionalGeneration,
    )
    from parler_tts.dac_wrapper import DACConfig
    from transformers import T5Config

    text = T5Config(
        vocab_size=32128, d_model=1024, d_ff=2816, d_kv=64, num_heads=16, num_layers=24,
        num_decoder_layers=24, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
    )
    codec = DACConfig(
        num_codebooks=9, codebook_size=1024, latent_dim=1024, frame_rate=86,
        sampling_rate=44_100, model_bitrate=8,
    )
    decoder = ParlerTTSDecoderConfig(
        vocab_size=1088, max_position_embeddings=4096, num_hidden_layers=24, ffn_dim=4096,
        num_attention_heads=16, hidden_size=1024, num_codebooks=9, activation_function="gelu",
        pad_token_id=EOS, bos_token_id=BOS, eos_token_id=EOS,
    )
    config = ParlerTTSConfig.from_sub_models_config(
        text, codec, decoder, decoder_start_token_id=BOS, pad_token_id=EOS, vocab_size=32128
    )
    return ParlerTTSForConditionalGeneration(config)


def parler_figures(
    build: Callable[[], torch.nn.Module], dtypes: list[torch.dtype], device: str,
    speech_s: float, runs: int,
) -> list[Figure]:
    """Time to the first MP3 chunk and real-time factor, per dtype, through ParlerSpeaker
    (`build` makes the model, on `device`)."""
    figures = []
    for dtype in dtypes:
        torch.manual_seed(0)
        speaking = build().to(device, dtype).eval()
        frames = round(speech_s * speaking.audio_encoder.config.frame_rate)
        speaking.generation_config.max_length = frames + speaking.decoder.config.num_codebooks
        speaking.generation_config.suppress_tokens = [EOS]  # every answer `speech_s` long
        speaker = ParlerSpeaker(speaking, tiny_tokenizer(), JENNY, play_seconds=0.5)
        first, factor = [], []
        for run in range(runs + 1):  # the first run warms up
            started = time.perf_counter()
            chunks = []
            for chunk in speaker.stream_mp3([ANSWER], chunk_seconds=0.5):
                if not chunks:
                    to_first = time.perf_counter() - started
                chunks.append(chunk)
            spent = time.perf_counter() - started
            if run:
                first.append(to_first)
                factor.append(spent / mp3_seconds(b"".join(chunks)))
        name = str(dtype).removeprefix("torch.")
        figures += [
            Figure("Parler-TTS", name, "first MP3 chunk, s", first),
            Figure("Parler-TTS", name, "real-time factor", factor),
        ]
        del speaking, speaker
    return figures


def mp3_seconds(mp3: bytes) -> float:
    import io

    import soundfile as sf

    info = sf.info(io.BytesIO(mp3))
    return info.frames / info.samplerate


def whisper_dirs(folder: Path, tiny: bool) -> tuple[Path, Path]:
    """Random Whisper checkpoints (main, and assistant with 2 decoder layers) of large-v3's
    architecture (or a tiny one), with tiny.en's tokenizer and generation settings, which are
    all that ship with weights here (so the vocabulary is tiny.en's, 51,864 tokens, not 51,866)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    reference = convert(Path(tiny_en_model_dir()), folder / "tiny.en")
    base = WhisperConfig.from_pretrained(reference).to_dict()
    size = (
        dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
             decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128)
        if tiny
        else dict(d_model=1280, encoder_layers=32, decoder_layers=32, encoder_attention_heads=20,
                  decoder_attention_heads=20, encoder_ffn_dim=5120, decoder_ffn_dim=5120,
                  num_mel_bins=128)
    )
    made = []
    for name, decoder_layers in (("main", size["decoder_layers"]), ("assistant", 2)):
        config = WhisperConfig(**{**base, **size, "decoder_layers": decoder_layers})
        model = WhisperForConditionalGeneration(config).to(torch.float16)
        out = folder / name
        model.save_pretrained(out)
        for file in ("tokenizer.json", "generation_config.json"):
            (out / file).write_bytes((reference / file).read_bytes())
        made.append(out)
    return made[0], made[1]


def whisper_figures(folder: Path, tiny: bool, runs: int) -> list[Figure]:
    """Seconds to transcribe 5 s of audio, without and with the assistant."""
    main, assistant = whisper_dirs(folder, tiny)
    audio = np.random.default_rng(0).normal(0, 0.05, 5 * ASR_SAMPLE_RATE).astype(np.float32)
    figures = []
    for label, helper in (("Whisper", None), ("Whisper + assistant", str(assistant))):
        transcriber = TransformersWhisperTranscriber(str(main), helper, "en", "transcribe")
        seconds, tokens = [], []
        for run in range(runs + 1):
            started = time.perf_counter()
            ids, _text = transcriber.transcribe_tokens(audio, ASR_SAMPLE_RATE)
            if run:
                seconds.append(time.perf_counter() - started)
                tokens.append(float(len(ids)))
        dtype = "float16" if torch.cuda.is_available() else "float32"
        figures += [
            Figure(label, dtype, "s per 5 s of audio", seconds),
            Figure(label, dtype, "tokens generated", tokens, digits=0),
        ]
        del transcriber
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny configs on the CPU")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speech", type=float, default=6.0, help="seconds of speech per answer")
    args = parser.parse_args()
    if args.dry_run:
        device, build, speech_s = "cpu", tiny_parler, 1.0
    elif torch.cuda.is_available():
        device, speech_s = "cuda", args.speech

        def build() -> torch.nn.Module:
            with torch.device("cuda"):  # initialised where it runs: seconds, not minutes
                return parler_mini_v1()
    else:
        sys.exit("No CUDA GPU: run on a GPU machine, or with --dry-run for the tiny configs.")
    machine = torch.cuda.get_device_name() if device == "cuda" else "CPU (tiny configs)"
    started = time.perf_counter()
    figures = parler_figures(build, [torch.float16, torch.bfloat16], device, speech_s, args.runs)
    with tempfile.TemporaryDirectory(prefix="magic8-gpu-") as folder:
        figures += whisper_figures(Path(folder), args.dry_run, args.runs)
    print(f"{machine}, torch {torch.__version__}, {args.runs} runs after a warm-up each")
    print("| model | dtype | measure | median | range |")
    print("|---|---|---|---|---|")
    for figure in figures:
        print(figure.row())
    parler_f16 = statistics.median(figures[0].values)
    whisper = statistics.median(next(f for f in figures if f.what == "Whisper").values)
    print(
        f"summary: Parler-TTS first chunk {parler_f16:.2f} s (float16), Whisper "
        f"{whisper:.2f} s per 5 s of audio, all in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
