"""The page in a real browser as a person uses it: headless Chromium, a fake microphone, talking
from the moment of the Record click.

    python -m bench.browser [--url http://127.0.0.1:7860/] [--questions 10]
                            [--lead 0 0.15 0.3] [--stop-after 0.4]
    python -m bench.browser --hands-free

Without --url it starts `python app.py` on a free loopback port itself. For each spoken question
(Piper, as in bench/latency.py) a fresh Chromium plays it into the page's microphone, starting
`--lead` seconds after the Record click (default 0).

Default: Stop is clicked `--stop-after` seconds after the last word. Per lead it prints each
question with the time from the Stop click to the first sound (page-side timestamps), then the
word error rate of the page's transcripts next to one-shot transcription of the same files, how
many first words are right in each, the median and worst Stop-to-first-sound, and the CPU-seconds
Chromium used per question (from just before the Record click until the answer shows, after
its first sound).

--hands-free: nobody clicks Stop; "Answer when I pause" ends the recording. Over the ten
questions plus five with a pause of 0.4 s inside and the same five with 0.6 s, it prints the
time from the last word to the first sound (median, worst), how many questions were cut off
(recording stopped before the question's last word) at each inner pause, how many have their
first two words right, and the word error rate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.latency import QUESTIONS
from pipelines.backends import embedded_backends
from pipelines.magic8 import Magic8Ball
from pipelines.settings import Settings
from tests.support.helpers import app_server
from tests.support.page import (
    STOP_AFTER_S,
    AskedAloud,
    ask_out_loud,
    microphone_file,
    open_page,
    spoken,
    words,
)

INNER_PAUSES_S = (0.4, 0.6)
PAUSED_QUESTIONS = (  # asked with each of INNER_PAUSES_S of silence between the two parts
    ("Should I move", "to Berlin next year?"),
    ("Will my sister", "like the present I bought her?"),
    ("Is it time to", "look for a new job?"),
    ("Should I paint the kitchen", "blue or green?"),
    ("Will the weather be nice", "for our picnic on Saturday?"),
)


def word_error_rate(references: list[str], transcripts: list[str]) -> float:
    """Word error rate over all questions, ignoring case and punctuation (jiwer)."""
    import jiwer

    return jiwer.wer(
        [" ".join(words(t)) for t in references], [" ".join(words(t)) for t in transcripts]
    )


@dataclass(frozen=True)
class Question:
    parts: tuple[str, ...]
    pause_s: float = 0.0  # the silence between the parts


@dataclass(frozen=True)
class Asked:
    reference: str
    pause_s: float
    aloud: AskedAloud
    one_shot: str
    chromium_cpu_s: float  # from before the Record click until the answer shows


def chromium_cpu_s() -> float:
    """The CPU-seconds the Chromium processes under this benchmark have used so far."""
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def ask_all(
    url: str, ball: Magic8Ball, workdir: Path, questions: list[Question], lead_s: float,
    stop_after_s: float | None,
) -> list[Asked]:
    """Each question asked on a fresh page; printed as it goes."""
    speaker = ball.backends.speaker
    results = []
    for index, question in enumerate(questions):
        speech = spoken(speaker, question.parts, question.pause_s)
        path = workdir / f"mic{index}.wav"
        microphone = microphone_file(speech, speaker.sample_rate, path, lead_s)
        with open_page(url, microphone) as page:
            cpu_before = chromium_cpu_s()
            aloud = ask_out_loud(page, microphone, stop_after_s)
            cpu_s = chromium_cpu_s() - cpu_before
        reference = " ".join(question.parts)
        one_shot = ball.transcribe(str(microphone.path)).question
        asked = Asked(reference, question.pause_s, aloud, one_shot, cpu_s)
        results.append(asked)
        print(
            f"stop→sound {aloud.stop_to_sound_s:5.2f} s  last word→sound "
            f"{aloud.last_word_to_sound_s:5.2f} s  Chromium {cpu_s:4.2f} CPU-s  "
            f"{aloud.question!r} -> {aloud.answer!r}"
        )
    return results


def first_words_right(references: list[str], transcripts: list[str], count: int = 1) -> int:
    """How many transcripts start with their reference's first `count` words."""
    return sum(words(t)[:count] == words(r)[:count] for r, t in zip(references, transcripts))


def report_stop(lead_s: float, stop_after_s: float, results: list[Asked]) -> None:
    references = [asked.reference for asked in results]
    page = [asked.aloud.question for asked in results]
    one_shot = [asked.one_shot for asked in results]
    times = [asked.aloud.stop_to_sound_s for asked in results]
    opening = statistics.median(asked.aloud.click_to_capture_s for asked in results)
    print(
        f"lead {lead_s:.2f} s (microphone open {opening:.2f} s after the click, median): "
        f"word error rate, page {word_error_rate(references, page):.3f}, "
        f"one-shot of the same files {word_error_rate(references, one_shot):.3f}; first word "
        f"right, page {first_words_right(references, page)}/{len(results)}, one-shot "
        f"{first_words_right(references, one_shot)}/{len(results)}; Stop ({stop_after_s} s "
        f"after the last word) to first sound: median {statistics.median(times):.2f} s, "
        f"worst {max(times):.2f} s; Chromium {median_cpu_s(results):.2f} CPU-seconds per "
        f"question (median, Record click until the answer shows)"
    )


def median_cpu_s(results: list[Asked]) -> float:
    """Chromium's CPU-seconds per question, the median."""
    return statistics.median(asked.chromium_cpu_s for asked in results)


def report_hands_free(results: list[Asked]) -> None:
    times = [asked.aloud.last_word_to_sound_s for asked in results]
    cut = ", ".join(
        f"{sum(a.aloud.last_word_to_stop_s < 0 for a in paused)} of {len(paused)} at {pause} s"
        for pause in INNER_PAUSES_S
        for paused in [[a for a in results if a.pause_s == pause]]
    )
    references = [asked.reference for asked in results]
    page = [asked.aloud.question for asked in results]
    print(
        f"hands-free over {len(results)} questions: last word to first sound median "
        f"{statistics.median(times):.2f} s, worst {max(times):.2f} s; cut off early {cut}; "
        f"stopped by the pause {sum(a.aloud.stopped_by_pause for a in results)}; first two "
        f"words right {first_words_right(references, page, 2)}/{len(results)}; word error "
        f"rate {word_error_rate(references, page):.3f}; Chromium "
        f"{median_cpu_s(results):.2f} CPU-seconds per question (median)"
    )


def wait_for_speech_ahead(log_path: Path, timeout_s: float = 600) -> None:
    """Wait until the app has spoken its answers ahead, which takes both cores for a minute or
    two after start-up (measuring then would measure that)."""
    deadline = time.monotonic() + timeout_s
    while "speech made ahead" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app; default: start one here")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument(
        "--lead", type=float, nargs="+", default=[0.0],
        help="seconds from the Record click to the first word (default 0; several: each)",
    )
    parser.add_argument(
        "--stop-after", type=float, default=STOP_AFTER_S,
        help="seconds from the last word to the Stop click (default %(default)s)",
    )
    parser.add_argument(
        "--hands-free", action="store_true",
        help="no Stop click: the page answers at the pause (questions with inner pauses too)",
    )
    args = parser.parse_args()

    settings = Settings.from_env()  # the same settings checks as the app
    ball = Magic8Ball(settings, embedded_backends(settings))
    workdir = Path(tempfile.mkdtemp(prefix="magic8-browser-"))
    log_path = workdir / "app.log"
    # As the app runs by default: the proverb bank's answers spoken ahead.
    server = nullcontext(args.url) if args.url else app_server(
        {"MAGIC8_SPEECH_AHEAD_MB": None}, log_path
    )
    questions = [Question((text,)) for text in QUESTIONS[: args.questions]]
    with server as url:
        if not args.url:
            wait_for_speech_ahead(log_path)
        if args.hands_free:
            paused = [Question(parts, pause) for pause in INNER_PAUSES_S
                      for parts in PAUSED_QUESTIONS]
            results = ask_all(url, ball, workdir, questions + paused, 0.0, None)
            report_hands_free(results)
            return
        reports = []
        for lead_s in args.lead:
            results = ask_all(url, ball, workdir, questions, lead_s, args.stop_after)
            reports.append((lead_s, results))
        for lead_s, results in reports:
            report_stop(lead_s, args.stop_after, results)


if __name__ == "__main__":
    main()
