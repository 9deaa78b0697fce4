"""The app's ears side by side on speech nobody here tuned on, and what speculative decoding buys.

    python -m bench.asr [--sets asterisk pocketsphinx piper espeak] [--asterisk 60]
    python -m bench.asr --speculative

Question sets (each trimmed by the app's VAD, as a question is):

  asterisk      Debian's recorded Asterisk prompts (apt install asterisk-core-sounds-en-g722
                asterisk-core-sounds-en; one professional voice, 16 kHz), the first --asterisk of
                them with three words or more, transcripts from core-sounds-en.txt.gz
  pocketsphinx  Debian's pocketsphinx-testdata: five LibriVox sentences and five card names
  piper         the ten questions of bench/latency.py spoken by Piper (joe)
  espeak        the same ten by espeak-ng at 175 and 130 words a minute (apt install espeak-ng)

Ears (MAGIC8_ASR): tiny.en and base (Whisper through faster-whisper, the app's 10 s window)
and moonshine (Moonshine base on onnxruntime). Per set and ear it prints the word error rate,
how many questions have their first two words right (both after Whisper's English text
normalizer, so "10" and "ten" are one word), and the seconds per question (median and worst,
after a warm-up); a set that is not installed is skipped with a note. Last, one line: the word
error rate of each ear over all sets, and the default the rule gives: the ear with the lowest
error among those that cost at most MOST_EXTRA_S more per question than tiny.en (median).

--speculative: the older comparison of Whisper tiny.en through transformers with and without an
assistant model (speculative decoding), on the Piper questions at three speeds: median latency,
real-time factor, word error rate, the assistant's acceptance rate, and whether every transcript
with the assistant is identical to the one without.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from bench.browser import first_words_right, word_error_rate
from bench.latency import QUESTIONS
from pipelines import audio, vad
from pipelines.asr import (
    FasterWhisperTranscriber,
    Transcriber,
    TransformersWhisperTranscriber,
    tiny_en_model_dir,
)
from pipelines.backends import embedded_backends
from pipelines.settings import Settings
from pipelines.tts import PiperSpeaker, joe_voice_path
from tests.support.page import words
from tools.convert_ct2_whisper import convert

SPEEDS = (0.8, 1.0, 1.3)
PROMPT_TOKENS = 2  # <|startoftranscript|><|notimestamps|> for an English-only Whisper
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
ESPEAK_WPM = (175, 130)
EARS = ("tiny.en", "base", "moonshine")
MOST_EXTRA_S = 0.1  # what a better ear may cost per question, over tiny.en, to be the default

Question = tuple[str, np.ndarray]  # reference text, 16 kHz speech trimmed by the app's VAD


def trimmed(text: str, speech: np.ndarray | Path) -> Question | None:
    """The question in an audio file (or 16 kHz samples), trimmed to its speech as the app
    trims one."""
    if isinstance(speech, Path):
        speech = audio.decode_question(str(speech), max_seconds=30)
    span = vad.speech_span(speech)
    return None if span is None else (text, speech[span[0] : span[1]])


def asterisk_speech(key: str, workdir: Path) -> np.ndarray:
    """An Asterisk prompt's recording (G.722, 16 kHz), as 16 kHz samples."""
    wav = workdir / f"{key}.wav"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "g722", "-i",
                    str(ASTERISK_SOUNDS / f"{key}.g722"), "-ar", "16000", str(wav)], check=True)
    return audio.decode_question(str(wav), max_seconds=600)


def asterisk(workdir: Path, count: int) -> list[Question]:
    """The first `count` Asterisk prompts of three words or more (their 16 kHz G.722 files)."""
    questions = []
    for line in gzip.open(ASTERISK_TEXTS, "rt", encoding="utf-8"):
        key, _, text = line.partition(":")
        text = text.strip()
        key = key.strip()
        if "[" in text or len(words(text)) < 3 or not (ASTERISK_SOUNDS / f"{key}.g722").is_file():
            continue
        if (question := trimmed(text, asterisk_speech(key, workdir))) is not None:
            questions.append(question)
        if len(questions) == count:
            break
    return questions


def pocketsphinx(_workdir: Path, _count: int) -> list[Question]:
    """pocketsphinx-testdata's LibriVox sentences and card names, with their transcripts."""
    questions = []
    for folder, listing in (("librivox", "transcription"), ("cards", "cards.transcription")):
        for line in (POCKETSPHINX / folder / listing).read_text().splitlines():
            found = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
            if found and (question := trimmed(found[1].strip(), POCKETSPHINX / folder /
                                              f"{found[2]}.wav")):
                questions.append(question)
    return questions


def piper(workdir: Path, _count: int) -> list[Question]:
    """The ten questions spoken by Piper (joe)."""
    speaker = PiperSpeaker(joe_voice_path())
    questions = []
    for index, text in enumerate(QUESTIONS):
        wav = workdir / f"piper{index}.wav"
        sf.write(wav, np.concatenate(list(speaker.stream(text))), speaker.sample_rate)
        questions.append(trimmed(text, wav))
    return questions


def espeak(workdir: Path, _count: int) -> list[Question]:
    """The ten questions spoken by espeak-ng at ESPEAK_WPM words a minute."""
    questions = []
    for wpm in ESPEAK_WPM:
        for index, text in enumerate(QUESTIONS):
            wav = workdir / f"espeak{wpm}-{index}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(wpm), "-w", str(wav), text],
                           check=True)
            questions.append(trimmed(text, wav))
    return questions


SETS: dict[str, tuple[Callable[[Path, int], list[Question]], Path | str]] = {
    "asterisk": (asterisk, ASTERISK_TEXTS),
    "pocketsphinx": (pocketsphinx, POCKETSPHINX),
    "piper": (piper, ""),
    "espeak": (espeak, "espeak-ng"),
}


def installed(need: Path | str) -> bool:
    """Whether what a question set is made from is on this machine."""
    if isinstance(need, Path):
        return need.exists()
    return not need or shutil.which(need) is not None


@functools.cache
def _normalizer():
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer({})


def normalized(text: str) -> str:
    """Whisper's English text normalizer (numbers as digits, spellings and contractions made
    one), so that only what was heard differently counts."""
    return _normalizer()(text)


def ears() -> dict[str, Transcriber]:
    """The app's local ears, as MAGIC8_ASR names them and the app builds them."""
    return {
        ear: embedded_backends(Settings.from_env({"MAGIC8_ASR": ear})).transcriber
        for ear in EARS
    }


def compare_ears(sets: list[str], count: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="magic8-asr-"))
    questions: dict[str, list[Question]] = {}
    for name in sets:
        make, need = SETS[name]
        if not installed(need):
            print(f"{name}: skipped ({need} is not installed)")
            continue
        questions[name] = make(workdir, count)
    transcribers = ears()
    for transcriber in transcribers.values():  # load and warm up
        transcriber.transcribe(np.zeros(audio.ASR_SAMPLE_RATE, np.float32), audio.ASR_SAMPLE_RATE)
    print(f"{'set':<13} {'questions':>9} {'ear':<10} {'WER':>6} {'first words':>11} "
          f"{'median':>7} {'worst':>6}")
    errors = {ear: [] for ear in transcribers}  # (reference, transcript) over all sets
    seconds: dict[str, list[float]] = {ear: [] for ear in transcribers}
    for name, asked in questions.items():
        length = sum(speech.size for _text, speech in asked) / audio.ASR_SAMPLE_RATE
        for ear, transcriber in transcribers.items():
            texts, times = [], []
            for _text, speech in asked:
                started = time.perf_counter()
                texts.append(transcriber.transcribe(speech, audio.ASR_SAMPLE_RATE))
                times.append(time.perf_counter() - started)
            references = [normalized(text) for text, _speech in asked]
            texts = [normalized(text) for text in texts]
            errors[ear] += list(zip(references, texts))
            seconds[ear] += times
            right = first_words_right(references, texts, count=2)
            print(f"{name:<13} {len(asked):>9} {ear:<10} "
                  f"{word_error_rate(references, texts):6.3f} {right:>6}/{len(asked):<4} "
                  f"{statistics.median(times):6.2f}s {max(times):5.2f}s")
        print(f"{'':<13} {length:8.0f}s of speech")
    if not questions:
        return
    overall = {ear: word_error_rate(*zip(*pairs)) for ear, pairs in errors.items()}
    extra = {ear: statistics.median(times) - statistics.median(seconds["tiny.en"])
             for ear, times in seconds.items()}
    default = min((ear for ear in overall if extra[ear] <= MOST_EXTRA_S), key=overall.get)
    summary = ", ".join(f"{ear} {overall[ear]:.3f} ({extra[ear]:+.2f} s)" for ear in overall)
    print(f"\nword error rate over all sets (cost per question against tiny.en, median): "
          f"{summary}; default by the rule: {default}")


def piper_speeds() -> list[Question]:
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
    return [trimmed(text, path) for text, path in wavs]


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


def compare_speculative() -> None:
    questions = piper_speeds()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--asterisk", type=int, default=60, help="Asterisk prompts (default 60)")
    parser.add_argument("--speculative", action="store_true",
                        help="transformers Whisper with and without an assistant model instead")
    args = parser.parse_args()
    if args.speculative:
        compare_speculative()
    else:
        compare_ears(args.sets, args.asterisk)


if __name__ == "__main__":
    main()
