"""Many people at once: N concurrent gradio_client users asking through `/ask_stream`.

    python -m bench.load [--users 1 4 8 16] [--rounds 1] [--latency 0.3]
                         [--setups served engines embedded]

Each set-up on a fresh `python app.py` on a loopback port, speech with Piper here:
  served    transcription and answer on a loopback server (tests/support/fake_inference.py)
            that takes `--latency` seconds per call
  engines   transcription and answer on real serving engines started on this machine
            (tests/support/engines.py): faster-whisper-server with Whisper tiny.en and
            llama-cpp-python's server with SmolLM2-135M (one thread)
  embedded  every stage in the app, on this machine's CPU
Each user asks the spoken questions of bench/latency.py one after another, `--rounds` times
over; every request's time to first audio (client side, as in bench/latency.py) is collected,
and the app's log says how many stages fell back to the offline models (an engine too slow for
MAGIC8_API_TIMEOUT, say). Prints p50 / p95 and the fallbacks per N and set-up, then per set-up
the ratio of the p95 at the most users to the p95 at the fewest.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
from gradio_client import Client

from bench.latency import QUESTIONS, percentile, time_stream
from pipelines.tts import PiperSpeaker, joe_voice_path
from tests.support.engines import ChatServer, TranscriptionServer, engines_env
from tests.support.fake_inference import FakeInferenceApi
from tests.support.helpers import app_server

SETUPS = ("served", "engines", "embedded")


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


def fallbacks(log_path: Path) -> int:
    """How many stages the app has answered offline so far (its log's notices)."""
    return sum(" offline: " in line for line in log_path.read_text().splitlines())


@contextmanager
def stages_for(setup: str, latency_s: float, workdir: Path) -> Iterator[dict[str, str]]:
    """The app's settings for `setup`, with its servers running (see the module's docstring)."""
    if setup == "served":
        fake = FakeInferenceApi(slow_s=latency_s)
        fake.reset(asr="slow", llm="slow")
        url = fake.start()
        try:
            yield {"MAGIC8_ASR_URL": f"{url}/asr", "MAGIC8_LLM_URL": url}
        finally:
            fake.stop()
    elif setup == "engines":
        with ChatServer.started(workdir / "chat.log") as chat, TranscriptionServer.started(
            workdir / "transcription.log"
        ) as transcription:
            yield engines_env(chat, transcription)
    else:
        yield {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=1, help="passes over the questions per user")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per served call")
    parser.add_argument("--setups", nargs="+", default=["served", "engines"], choices=SETUPS)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="magic8-load-"))
    speaker = PiperSpeaker(joe_voice_path())
    wavs = []
    for index, text in enumerate(QUESTIONS):
        wavs.append(workdir / f"q{index}.wav")
        sf.write(wavs[-1], np.concatenate(list(speaker.stream(text))), speaker.sample_rate)

    p95s: dict[tuple[str, int], float] = {}
    for setup in args.setups:
        log_path = workdir / f"{setup}.log"
        with stages_for(setup, args.latency, workdir) as env:
            with app_server({**env, "HF_TOKEN": None}, log_path) as url:
                time_stream(Client(url, verbose=False), wavs[0])  # warm-up
                for users in args.users:
                    fallbacks_before = fallbacks(log_path)
                    times = load(url, users, wavs, args.rounds)
                    p50, p95s[setup, users] = statistics.median(times), percentile(times, 0.95)
                    print(
                        f"{setup:<9} {users:>2} users  {len(times):>3} requests  time to first "
                        f"audio p50 {p50:.2f} s, p95 {p95s[setup, users]:.2f} s  "
                        f"{fallbacks(log_path) - fallbacks_before} stages answered offline",
                        flush=True,
                    )
    most, fewest = max(args.users), min(args.users)
    ratios = [
        f"{setup} {p95s[setup, most] / p95s[setup, fewest]:.2f}x "
        f"({p95s[setup, most]:.2f} s vs {p95s[setup, fewest]:.2f} s)"
        for setup in args.setups
    ]
    print(
        f"load: p95 time to first audio at {most} users against {fewest} (served stages at "
        f"{args.latency * 1000:.0f} ms): " + "; ".join(ratios)
    )


if __name__ == "__main__":
    main()
