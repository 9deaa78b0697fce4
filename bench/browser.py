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
many first words are right in each, and the median and worst Stop-to-first-sound.

--hands-free: nobody clicks Stop; "Answer when I pause" ends the recording. Over the ten
questions plus five with a pause of 0.4 s inside, it prints the time from the last word to the
first sound (median, worst) and how many questions were cut off (recording stopped before the
question's last word).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from bench.latency import QUESTIONS
from pipelines.backends import embedded_backends
from pipelines.magic8 import Magic8Ball
from pipelines.settings import Settings
from tests.support.helpers import app_server
from tests.support.page import (
    INNER_PAUSE_S,
    STOP_AFTER_S,
    AskedAloud,
    ask_out_loud,
    microphone_file,
    open_page,
    spoken,
    words,
)

PAUSED_QUESTIONS = (  # asked with INNER_PAUSE_S of silence between the two parts
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
class Asked:
    reference: str
    aloud: AskedAloud
    one_shot: str


def ask_all(
    url: str, ball: Magic8Ball, workdir: Path, questions: list[tuple[str, ...]], lead_s: float,
    stop_after_s: float | None,
) -> list[Asked]:
    """Each question (parts joined by INNER_PAUSE_S) asked on a fresh page; printed as it goes."""
    speaker = ball.backends.speaker
    results = []
    for index, parts in enumerate(questions):
        speech = spoken(speaker, parts, INNER_PAUSE_S)
        path = workdir / f"mic{index}.wav"
        microphone = microphone_file(speech, speaker.sample_rate, path, lead_s)
        with open_page(url, microphone) as page:
            aloud = ask_out_loud(page, microphone, stop_after_s)
        asked = Asked(" ".join(parts), aloud, ball.transcribe(str(microphone.path)).question)
        results.append(asked)
        print(
            f"stop→sound {aloud.stop_to_sound_s:5.2f} s  last word→sound "
            f"{aloud.last_word_to_sound_s:5.2f} s  {aloud.question!r} -> {aloud.answer!r}"
        )
    return results


def first_words_right(references: list[str], transcripts: list[str]) -> int:
    return sum(words(t)[:1] == words(r)[:1] for r, t in zip(references, transcripts))


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
        f"worst {max(times):.2f} s"
    )


def report_hands_free(results: list[Asked]) -> None:
    times = [asked.aloud.last_word_to_sound_s for asked in results]
    cut = [asked for asked in results if asked.aloud.last_word_to_stop_s < 0]
    references = [asked.reference for asked in results]
    page = [asked.aloud.question for asked in results]
    print(
        f"hands-free over {len(results)} questions ({len(PAUSED_QUESTIONS)} with a "
        f"{INNER_PAUSE_S} s pause inside): last word to first sound median "
        f"{statistics.median(times):.2f} s, worst {max(times):.2f} s; cut off early {len(cut)}; "
        f"stopped by the pause {sum(a.aloud.stopped_by_pause for a in results)}; word error "
        f"rate {word_error_rate(references, page):.3f}"
    )


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
    server = nullcontext(args.url) if args.url else app_server({}, workdir / "app.log")
    questions = [(text,) for text in QUESTIONS[: args.questions]]
    with server as url:
        if args.hands_free:
            results = ask_all(url, ball, workdir, questions + list(PAUSED_QUESTIONS), 0.0, None)
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
