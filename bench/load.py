"""Many people at once: N concurrent gradio_client users asking through `/ask_stream`.

    python -m bench.load [--users 1 4 8] [--rounds 3] [--latency 0.3]

Two set-ups, each on a fresh `python app.py` on a loopback port:
  served    transcription and answer on a loopback server (tests/support/fake_inference.py)
            that takes `--latency` seconds per call; speech with Piper here
  embedded  every stage on this machine's CPU
Each user asks the spoken questions of bench/latency.py one after another, `--rounds` times
over; every request's time to first audio (client side, as in bench/latency.py) is collected.
Prints p50 / p95 per N and set-up, then the ratio of the served p95 at the most users to one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf
from gradio_client import Client

from bench.latency import QUESTIONS, percentile, time_stream
from pipelines.tts import PiperSpeaker, joe_voice_path
from tests.support.fake_inference import FakeInferenceApi
from tests.support.helpers import app_server


def load(url: str, users: int, wavs: list[Path], rounds: int) -> list[float]:
    """Times to first audio of every request, `users` clients asking at once."""
    clients = [Client(url, verbose=False) for _ in range(users)]
    times: list[float] = []
    lock = threading.Lock()

    def user(client: Client, offset: int) -> None:
        for index in range(rounds * len(wavs)):
            wav = wavs[(offset + index) % len(wavs)]
            _text, first_audio, _end, _answer = time_stream(client, wav)
            with lock:
                times.append(first_audio)

    threads = [threading.Thread(target=user, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rounds", type=int, default=1, help="passes over the questions per user")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per served call")
    parser.add_argument("--setups", nargs="+", default=["served", "embedded"])
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="magic8-load-"))
    speaker = PiperSpeaker(joe_voice_path())
    wavs = []
    for index, text in enumerate(QUESTIONS):
        wavs.append(workdir / f"q{index}.wav")
        sf.write(wavs[-1], np.concatenate(list(speaker.stream(text))), speaker.sample_rate)

    fake = FakeInferenceApi(slow_s=args.latency)
    fake.reset(asr="slow", llm="slow")
    fake_url = fake.start()
    setups = {
        "served": {"MAGIC8_ASR_URL": f"{fake_url}/asr", "MAGIC8_LLM_URL": fake_url},
        "embedded": {},
    }
    results: dict[tuple[str, int], tuple[float, float]] = {}
    try:
        for name in args.setups:
            env = setups[name]
            with app_server({**env, "HF_TOKEN": None}, workdir / f"{name}.log") as url:
                time_stream(Client(url, verbose=False), wavs[0])  # warm-up
                for users in args.users:
                    times = load(url, users, wavs, args.rounds)
                    p50, p95 = statistics.median(times), percentile(times, 0.95)
                    results[name, users] = (p50, p95)
                    print(
                        f"{name:<9} {users:>2} users  {len(times):>3} requests  time to first "
                        f"audio p50 {p50:.2f} s, p95 {p95:.2f} s",
                        flush=True,
                    )
    finally:
        fake.stop()
    most, fewest = max(args.users), min(args.users)
    ratio = results["served", most][1] / results["served", fewest][1]
    print(
        f"load: served stages at {args.latency * 1000:.0f} ms, p95 time to first audio at {most} "
        f"users is {ratio:.2f}x the {fewest}-user figure "
        f"({results['served', most][1]:.2f} s vs {results['served', fewest][1]:.2f} s)"
    )


if __name__ == "__main__":
    main()
