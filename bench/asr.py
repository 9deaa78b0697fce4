"""Speech recognition engines side by side, and what speculative decoding buys here.

    python -m bench.asr [--samples DIR]

Questions: the ten of bench/latency.py spoken by Piper at three speeds (length scales 0.8, 1.0
and 1.3), plus, with --samples, every WAV in DIR that has a .txt transcript beside it (for
example pytest-audioeval's English samples: `pip download --no-deps pytest-audioeval==0.1.3`,
unzip, then `--samples .../pytest_audioeval/samples/audio/en`). Each engine transcribes each
question once after a warm-up; per engine it prints the median latency, the real-time factor
(time / audio length, all questions) and the word error rate. Engines:

  faster-whisper            Whisper tiny.en, CTranslate2 int8, as the app runs it by default
  transformers              the same weights converted (tools/convert_ct2_whisper.py), float32
  transformers + assistant  the same, with its first decoder layer as assistant model
  transformers int8         torch dynamic int8 quantization of the Linear layers

Last comes the assistant's acceptance rate (the share of the main model's tokens it
predicts given the same prefix, which is what gets its proposals accepted) and one line:
whether every transcript with the assistant is identical to the one without, and the speed-up.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.browser import word_error_rate
from bench.latency import QUESTIONS
from pipelines import audio, vad
from pipelines.asr import (
    FasterWhisperTranscriber,
    TransformersWhisperTranscriber,
    tiny_en_model_dir,
)
from pipelines.tts import PiperSpeaker, joe_voice_path
from tools.convert_ct2_whisper import convert

SPEEDS = (0.8, 1.0, 1.3)
PROMPT_TOKENS = 2  # <|startoftranscript|><|notimestamps|> for an English-only Whisper


def spoken_questions(samples: Path | None) -> list[tuple[str, np.ndarray]]:
    """(reference text, 16 kHz speech trimmed by the app's VAD) for every question."""
    from piper import SynthesisConfig

    voice = PiperSpeaker(joe_voice_path()).loaded_voice()
    workdir = Path(tempfile.mkdtemp(prefix="magic8-asr-"))
    wavs: list[tuple[str, Path]] = []
    for index, text in enumerate(QUESTIONS):
        for speed in SPEEDS:
            chunks = voice.synthesize(text, SynthesisConfig(length_scale=speed))
            path = workdir / f"q{index}-{speed}.wav"
            sf.write(path, np.concatenate([c.audio_float_array for c in chunks]), 22_050)
            wavs.append((text, path))
    for transcript in sorted(samples.glob("*.txt")) if samples else ():
        wavs.append((transcript.read_text().strip(), transcript.with_suffix(".wav")))
    questions = []
    for text, path in wavs:
        speech = audio.decode_question(str(path), max_seconds=30)
        start, end = vad.speech_span(speech)
        questions.append((text, speech[start:end]))
    return questions


def agreement(engine: TransformersWhisperTranscriber, questions) -> tuple[int, int]:
    """How many of the main model's own tokens the assistant predicts, given the same text so
    far and the same encoder output (what decides how many of its proposals are accepted)."""
    import torch

    model, assistant, _tokenizer, extractor, _device = engine.models()
    agreed = total = 0
    for _text, speech in questions:
        ids, _ = engine.transcribe_tokens(speech, audio.ASR_SAMPLE_RATE)
        features = extractor(speech, sampling_rate=audio.ASR_SAMPLE_RATE, return_tensors="pt")
        with torch.inference_mode():
            encoded = model.model.encoder(features.input_features).last_hidden_state
            guesses = assistant(
                input_ids=torch.tensor([ids[:-1]]), encoder_outputs=(encoded,)
            ).logits[0].argmax(-1)
        wanted = torch.tensor(ids[1:])[PROMPT_TOKENS - 1 :]
        agreed += int((guesses[PROMPT_TOKENS - 1 :] == wanted).sum())
        total += wanted.numel()
    return agreed, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, help="WAVs with .txt transcripts beside them")
    args = parser.parse_args()

    questions = spoken_questions(args.samples)
    converted = convert(Path(tiny_en_model_dir()), Path(tempfile.mkdtemp()) / "tiny.en")
    engines = {
        "faster-whisper": FasterWhisperTranscriber(tiny_en_model_dir(), "tiny.en", threads=0),
        "transformers": TransformersWhisperTranscriber(str(converted), None, "en", "transcribe"),
        "transformers + assistant": TransformersWhisperTranscriber(
            str(converted), "layers:1", "en", "transcribe"
        ),
        "transformers int8": TransformersWhisperTranscriber(
            str(converted), None, "en", "transcribe", int8=True
        ),
    }
    seconds = sum(speech.size for _text, speech in questions) / audio.ASR_SAMPLE_RATE
    print(f"{len(questions)} questions, {seconds:.1f} s of speech\n")
    print(f"{'engine':<26} {'median':>8} {'RTF':>6} {'WER':>6}")
    transcripts: dict[str, list[str]] = {}
    medians: dict[str, float] = {}
    for name, engine in engines.items():
        engine.transcribe(questions[0][1], audio.ASR_SAMPLE_RATE)  # load and warm up
        times, texts = [], []
        for _text, speech in questions:
            started = time.perf_counter()
            text = engine.transcribe(speech, audio.ASR_SAMPLE_RATE)
            times.append(time.perf_counter() - started)
            texts.append(text)
        transcripts[name], medians[name] = texts, statistics.median(times)
        wer = word_error_rate([text for text, _speech in questions], texts)
        print(f"{name:<26} {medians[name]:7.3f}s {sum(times) / seconds:6.3f} {wer:6.3f}")

    agreed, total = agreement(engines["transformers + assistant"], questions)
    print(f"\nassistant acceptance: it predicts {agreed} of the main model's {total} tokens "
          f"({agreed / total:.0%})")
    same = sum(a == b for a, b in zip(transcripts["transformers"],
                                       transcripts["transformers + assistant"]))
    speed_up = medians["transformers"] / medians["transformers + assistant"]
    print(f"speculative decoding: identical {same}/{len(questions)}, speed-up {speed_up:.2f}x "
          f"(main whisper tiny.en, assistant its first decoder layer)")


if __name__ == "__main__":
    main()
