"""Time to first audio: spoken questions through gradio_client's `/ask_stream` (MP3 pieces)
and `/ask_hls` (an HLS playlist of AAC segments) against the app.

    python -m bench.latency [--url http://127.0.0.1:7860/] [--rounds 2]

Without --url it starts `python app.py` on a free loopback port itself. The questions are spoken
by Piper (2-4 s each) and each is asked of both endpoints in turn. Per question and endpoint it
prints the time from the request to the transcript, to the first audio (the first piece, or
the first segment in the playlist) and to the end of the stream; then median and p90 per
endpoint. The stage split comes from running the same stages in this process (Whisper, the
offline answer, Piper's first sentence, MP3 encoding).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import soundfile as sf
from gradio_client import Client, handle_file

from pipelines import audio
from pipelines.backends import embedded_backends
from pipelines.llm import answer_text
from pipelines.magic8 import Magic8Ball
from pipelines.settings import Settings
from tests.support.helpers import app_server

QUESTIONS = (
    "Will it snow on my birthday next month, or will it rain again?",
    "Should I buy a new bicycle before the summer holidays begin?",
    "Is my old cat secretly plotting against me and the dog?",
    "Will I get the job that I applied for last week?",
    "Should I finally learn to play the guitar this year?",
    "Is tomorrow a good day to start planting my vegetable garden?",
    "Will my favourite football team win the game on Sunday?",
    "Should I call my brother tonight and tell him the news?",
    "Am I going to travel abroad with my friends next summer?",
    "Is the answer to all my problems hidden in the stars?",
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


APIS = ("/ask_stream", "/ask_hls")


def has_audio(piece: str | None) -> bool:
    """Whether an update's third output holds speech: an MP3 piece, or a playlist that lists
    a segment."""
    if not piece:
        return False
    return not piece.endswith(".m3u8") or "#EXTINF" in Path(piece).read_text()


def time_stream(
    client: Client, wav: Path, api_name: str = "/ask_stream"
) -> tuple[float, float, float, str]:
    """(to transcript, to first audio, to end) in seconds, and the answer."""
    started = time.perf_counter()
    to_question = to_audio = None
    answer = ""
    job = client.submit(handle_file(str(wav)), api_name=api_name)
    for question, answer, piece in job:
        now = time.perf_counter() - started
        to_question = to_question or (now if question else None)
        if to_audio is None and has_audio(piece):
            to_audio = now
    job.result(timeout=60)
    return to_question, to_audio, time.perf_counter() - started, answer


def stage_split(ball: Magic8Ball, wavs: list[Path]) -> dict[str, float]:
    """Median seconds per stage, measured in this process on the same questions."""
    times: dict[str, list[float]] = {"transcribe": [], "answer": [], "first speech": [], "mp3": []}
    for wav in wavs:
        samples = audio.decode_question(str(wav), max_seconds=30)
        t0 = time.perf_counter()
        question = ball.backends.transcriber.transcribe(samples, audio.ASR_SAMPLE_RATE)
        t1 = time.perf_counter()
        answer = answer_text(ball.backends.answerer, question, seed=0)
        t2 = time.perf_counter()
        first = next(iter(ball.backends.speaker.stream(answer)))
        t3 = time.perf_counter()
        audio.encode_mp3(first, ball.backends.speaker.sample_rate)
        t4 = time.perf_counter()
        for name, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app; default: start one here")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions")
    args = parser.parse_args()

    settings = Settings.from_env({})
    ball = Magic8Ball(settings, embedded_backends(settings))
    workdir = Path(tempfile.mkdtemp(prefix="magic8-bench-"))
    wavs = []
    for index, text in enumerate(QUESTIONS):
        speech = np.concatenate(list(ball.backends.speaker.stream(text)))
        wavs.append(workdir / f"q{index}.wav")
        sf.write(wavs[-1], speech, ball.backends.speaker.sample_rate)

    server = nullcontext(args.url) if args.url else app_server({}, workdir / "app.log")
    with server as url:
        client = Client(url, verbose=False)
        time_stream(client, wavs[0])  # warm-up: models load on first use
        header = ("question", "api", "length", "text", "audio", "end")
        print("{:<62} {:<11} {:>6} {:>6} {:>6} {:>6}  answer".format(*header))
        times: dict[str, tuple[list[float], list[float], list[float]]] = {
            api: ([], [], []) for api in APIS
        }
        for _ in range(args.rounds):
            for wav, text in zip(wavs, QUESTIONS):
                length = sf.info(wav).duration
                for api in APIS:
                    to_text, to_audio, to_end, answer = time_stream(client, wav, api)
                    for values, seconds in zip(times[api], (to_text, to_audio, to_end)):
                        values.append(seconds)
                    print(
                        f"{text:<62} {api:<11} {length:5.1f}s {to_text:5.2f}s {to_audio:5.2f}s "
                        f"{to_end:5.2f}s  {answer}"
                    )
    split = stage_split(ball, wavs)
    print("\nstage split (median, in-process): " + ", ".join(
        f"{name} {seconds:.3f} s" for name, seconds in split.items()
    ))
    for api, (texts, firsts, ends) in times.items():
        for name, values in (("transcript", texts), ("first audio", firsts), ("end", ends)):
            print(
                f"{api}: time to {name} over {len(values)} requests: median "
                f"{statistics.median(values):.2f} s, p90 {percentile(values, 0.9):.2f} s"
            )

if __name__ == "__main__":
    main()
