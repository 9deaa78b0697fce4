"""Would a turn model end the pause early? Smart Turn v3.2 on real human speech, and on Piper's.

    python -m bench.turn

Smart Turn v3.2 (`smart-turn-v3.2-cpu.onnx`, BSD-2-Clause, in the `pipecat-ai` 1.14.0 wheel:
`pip install --no-deps pipecat-ai==1.14.0`) reads the last 8 s of a turn, as the app would hand
it over at a pause (the speech as the VAD trims it, with 0.2 s after), and gives the
probability that the turn is complete. It runs on onnxruntime with transformers' Whisper
feature extractor (8 s window), as pipecat feeds it.

Real speech: Debian's recorded Asterisk prompts (apt install asterisk-core-sounds-en-g722
asterisk-core-sounds-en; one professional voice). Unfinished turns, labelled by hand from
their transcripts: the prompts recorded to be joined to what follows ("To leave the
conference...", "You are entering conference number", "Press 1 for"); complete turns: the
prompts of three words or more that end a sentence ("Please enter your password followed by
the pound key."). Piper's: the five questions with a pause inside of bench/browser.py, their
first parts (unfinished) and whole (complete).

Per set it prints how many turns of each kind it judges complete (probability above 0.5, as
pipecat reads it, and above stricter THRESHOLDS), the median probability, the area under the
ROC curve (the chance that a complete turn scores above an unfinished one) and the time per
call. A turn model that ends the pause early helps where it judges most complete turns
complete and few unfinished ones: each unfinished turn judged complete is a question cut off.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import importlib.metadata
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.asr import ASTERISK_SOUNDS, ASTERISK_TEXTS, asterisk_speech
from bench.browser import PAUSED_QUESTIONS
from pipelines import audio, vad
from pipelines.tts import PiperSpeaker, joe_voice_path
from tests.support.page import words

WINDOW_S = 8
THRESHOLDS = (0.5, 0.9, 0.99)
# Prompts recorded to be followed by a number, a name or a menu choice, besides those whose
# transcript ends in "...": read by hand from core-sounds-en.txt.
UNFINISHED = (
    "conf-enteringno", "conf-thereare", "queue-holdtime", "queue-thereare", "vm-from-extension",
    "vm-from-phonenumber", "vm-num-i-have", "vm-onefor", "vm-savedto", "vm-theperson",
    "vm-youhave", "priv-callpending",
)


def smart_turn():
    """Smart Turn v3.2's ONNX session (from the pipecat-ai wheel, found without importing it)."""
    import onnxruntime

    try:
        files = importlib.metadata.distribution("pipecat-ai").files or []
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit("Smart Turn comes in pipecat-ai: pip install --no-deps pipecat-ai==1.14.0")
    model = next(f for f in files if f.name == "smart-turn-v3.2-cpu.onnx")
    return onnxruntime.InferenceSession(
        str(model.locate()), providers=["CPUExecutionProvider"]
    )


@functools.cache
def _extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(chunk_length=WINDOW_S)


def completeness(session, speech: np.ndarray) -> float:
    """The probability that `speech` (16 kHz, the turn so far) is a complete turn."""
    size = WINDOW_S * audio.ASR_SAMPLE_RATE
    window = np.zeros(size, np.float32)  # the last 8 s, silence before a shorter turn
    window[size - min(size, speech.size) :] = speech[-size:]
    features = _extractor()(
        window, sampling_rate=audio.ASR_SAMPLE_RATE, return_tensors="np", do_normalize=True
    ).input_features
    return float(session.run(None, {"input_features": features.astype(np.float32)})[0].ravel()[0])


def at_the_pause(speech: np.ndarray) -> np.ndarray:
    """The turn as the app has it at a pause: trimmed by the VAD (0.2 s kept after)."""
    span = vad.speech_span(speech)
    return speech if span is None else speech[: span[1]]


def asterisk_turns(workdir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(unfinished, complete) Asterisk prompts."""
    unfinished, complete = [], []
    for line in gzip.open(ASTERISK_TEXTS, "rt", encoding="utf-8"):
        key, _, text = (part.strip() for part in line.partition(":"))
        if "[" in text or "/" in key or not (ASTERISK_SOUNDS / f"{key}.g722").is_file():
            continue
        if key in UNFINISHED or text.endswith("..."):
            unfinished.append(at_the_pause(asterisk_speech(key, workdir)))
        elif text.endswith((".", "?", "!")) and len(words(text)) >= 3:
            complete.append(at_the_pause(asterisk_speech(key, workdir)))
    return unfinished, complete


def piper_turns(workdir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(first parts, whole questions) of the questions with a pause inside, spoken by Piper."""
    speaker = PiperSpeaker(joe_voice_path())

    def speech(text: str) -> np.ndarray:
        wav = workdir / "piper.wav"
        sf.write(wav, np.concatenate(list(speaker.stream(text))), speaker.sample_rate)
        return at_the_pause(audio.decode_question(str(wav), max_seconds=30))

    firsts = [speech(first) for first, _rest in PAUSED_QUESTIONS]
    wholes = [speech(" ".join(parts)) for parts in PAUSED_QUESTIONS]
    return firsts, wholes


def roc_area(low: list[float], high: list[float]) -> float:
    """The chance that a score of `high` is above one of `low` (ties count half)."""
    pairs = [(h > lo) + 0.5 * (h == lo) for h in high for lo in low]
    return sum(pairs) / len(pairs)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    session = smart_turn()
    workdir = Path(tempfile.mkdtemp(prefix="magic8-turn-"))
    sets = {"asterisk (real)": asterisk_turns(workdir), "piper": piper_turns(workdir)}
    above = " ".join(f"{f'p > {t}':>9}" for t in THRESHOLDS)
    print(f"{'speech':<16} {'kind':<11} {'turns':>5} {above} {'median p':>8}")
    times: list[float] = []
    for name, (unfinished, complete) in sets.items():
        scores = []
        for kind, turns in (("unfinished", unfinished), ("complete", complete)):
            probabilities = []
            for turn in turns:
                started = time.perf_counter()
                probabilities.append(completeness(session, turn))
                times.append(time.perf_counter() - started)
            scores.append(probabilities)
            judged = " ".join(
                f"{sum(p > t for p in probabilities):>5}/{len(turns):<3}" for t in THRESHOLDS
            )
            print(f"{name:<16} {kind:<11} {len(turns):>5} {judged} "
                  f"{statistics.median(probabilities):8.2f}")
        print(f"{name:<16} area under the ROC curve {roc_area(*scores):.2f}")
    print(f"\nSmart Turn v3.2: {statistics.median(times) * 1000:.0f} ms per call (median)")


if __name__ == "__main__":
    main()
