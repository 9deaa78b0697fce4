"""Offline answers as a person hears them: every question of bench/questions.py asked as text of
the app's offline answerer (the proverb bank), or of a GGUF chat model through llama.cpp.

    python -m bench.answers [--gguf PATH] [--rounds N] [--quiet]

Prints every answer, then: the share of distinct answers to real questions (with several
rounds, its range over them), the most repeated answer in a round and its count, answers that
copy the chat prompt's examples, real questions dismissed with the foolish line, foolish
questions that got it, profanity, and the median time to the first sentence. Each question gets
its own seed (its number, plus 1000 per round), as each visitor gets a fresh one. `--gguf`
with SmolLM2's file (`python -c "from pipelines.llm import smollm2_gguf; print(smollm2_gguf())"`)
gives the answers before the bank.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from bench.questions import FOOLISH, PROFANITY, REAL
from pipelines.llm import EXAMPLES, local_answerer
from pipelines.proverbs import FOOLISH_ANSWER
from pipelines.settings import Settings


def first_and_whole(answerer, question: str, seed: int) -> tuple[float, str]:
    """Seconds to the first sentence, and the whole answer."""
    started = time.perf_counter()
    sentences = answerer.sentences(question, seed)
    first = next(sentences)
    elapsed = time.perf_counter() - started
    return elapsed, " ".join([first, *sentences])


def profane(text: str) -> bool:
    """Whether `text` has a word of the profanity list."""
    words = set(text.lower().replace(".", " ").replace(",", " ").split())
    return bool(words & PROFANITY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, help="a GGUF chat model instead of the bank")
    parser.add_argument("--rounds", type=int, default=1, help="times each question is asked")
    parser.add_argument("--quiet", action="store_true", help="the summary line only")
    args = parser.parse_args()
    answerer = local_answerer(args.gguf, Settings.from_env().threads)
    first_and_whole(answerer, "Will this work?", 0)  # loads the model, if any
    examples = {answer for _, answer in EXAMPLES if answer != FOOLISH_ANSWER}
    times: list[float] = []
    shares: list[float] = []
    most: tuple[int, str] = (0, "")
    dismissed = foolish_hits = copied = rude = 0
    for round_ in range(args.rounds):
        real_answers: list[str] = []
        for kind, questions in (("real", REAL), ("foolish", FOOLISH)):
            for number, question in enumerate(questions):
                seconds, answer = first_and_whole(answerer, question, 1000 * round_ + number)
                times.append(seconds)
                if not args.quiet:
                    print(f"{kind:<7} {seconds:5.3f}s  {question}  ->  {answer}", flush=True)
                copied += answer in examples
                rude += profane(answer)
                if kind == "real":
                    real_answers.append(answer)
                    dismissed += answer == FOOLISH_ANSWER
                else:
                    foolish_hits += answer == FOOLISH_ANSWER
        shares.append(len(set(real_answers)) / len(real_answers))
        top, count = Counter(real_answers).most_common(1)[0]
        most = max(most, (count, top))
    asked_foolish = len(FOOLISH) * args.rounds
    distinct = f"{shares[0]:.2f}" if len(shares) == 1 else (
        f"{min(shares):.2f}–{max(shares):.2f} (median {statistics.median(shares):.2f}, "
        f"{sum(share >= 0.9 for share in shares)} of {len(shares)} rounds at 0.9 or more)"
    )
    print(
        f"answers ({answerer.name}): distinct {distinct} of {len(REAL)} real; most repeated "
        f"{most[0]}x in a round ({most[1]!r}); {copied} copy a prompt example; {dismissed} real "
        f"dismissed as foolish; foolish line for {foolish_hits} of {asked_foolish} foolish "
        f"({foolish_hits / asked_foolish:.0%}); {rude} profane; median first sentence "
        f"{statistics.median(times) * 1000:.2f} ms"
    )

if __name__ == "__main__":
    main()
