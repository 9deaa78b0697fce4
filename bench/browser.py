"""Stop-to-first-sound in a real browser: the page in headless Chromium, a fake microphone.

    python bench/browser.py [--url http://127.0.0.1:7860/] [--questions 10]

Without --url it starts `python app.py` on a free loopback port itself. For each spoken question
(Piper, as in bench/latency.py) a fresh Chromium plays it into the page's microphone; the page
records, and the time from the Stop click to the first `playing` event of the answer is taken
from page-side timestamps. Prints each, the word error rate of the transcripts made from the
page's microphone stream next to one-shot transcription of the same question files, then the
median and the worst time.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import QUESTIONS  # noqa: E402
from pipelines.magic8 import Magic8Ball, embedded_backends  # noqa: E402
from pipelines.settings import Settings  # noqa: E402
from tests.helpers import app_server  # noqa: E402
from tests.page import STOP_AFTER_S, ask_out_loud, microphone_file, open_page  # noqa: E402


def word_error_rate(references: list[str], transcripts: list[str]) -> float:
    """Word error rate over all questions, ignoring case and punctuation (jiwer)."""
    import jiwer

    def words(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())

    return jiwer.wer([words(t) for t in references], [words(t) for t in transcripts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app; default: start one here")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument(
        "--stop-after", type=float, default=STOP_AFTER_S,
        help="seconds from the last word to the Stop click (default %(default)s)",
    )
    args = parser.parse_args()

    settings = Settings.from_env()  # the same settings checks as the app
    ball = Magic8Ball(settings, embedded_backends(settings))
    speaker = ball.backends.speaker
    workdir = Path(tempfile.mkdtemp(prefix="magic8-browser-"))
    server = nullcontext(args.url) if args.url else app_server({}, workdir / "app.log")
    times, live, one_shot = [], [], []
    with server as url:
        for index, text in enumerate(QUESTIONS[: args.questions]):
            mic = workdir / f"mic{index}.wav"
            speech = np.concatenate(list(speaker.stream(text)))
            record = microphone_file(speech, 22_050, mic, args.stop_after)
            with open_page(url, mic) as page:
                heard = ask_out_loud(page, record)
            times.append(heard["stop_to_sound_s"])
            live.append(heard["question"])
            one_shot.append(ball.transcribe(str(mic)).question)
            seconds, question, answer = heard["stop_to_sound_s"], heard["question"], heard["answer"]
            print(f"{seconds:5.2f} s  {question!r} -> {answer!r}")
    references = list(QUESTIONS[: args.questions])
    print(
        f"word error rate: streamed from the page {word_error_rate(references, live):.3f}, "
        f"one-shot of the same question files {word_error_rate(references, one_shot):.3f}"
    )
    print(
        f"browser: Stop to first sound over {len(times)} questions, Stop {args.stop_after} s"
        f" after the last word: median "
        f"{statistics.median(times):.2f} s, worst {max(times):.2f} s"
    )


if __name__ == "__main__":
    main()
