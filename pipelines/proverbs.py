"""The offline Magic 8 Ball's answers: real sayings from a bank (`proverbs.toml`), chosen for
the question's topic, and the foolish line for questions that are not about the asker's life.

A question that is arithmetic, or about nothing in the asker's life (no "I", "my" or "she", no
"will" or "should", no "is it a good idea to": capitals, definitions, nonsense), is foolish.
Otherwise its words point it to a topic (the one with the most matching words; `life`, for
questions that name none, only when no other matches), and a saying of that topic is drawn
from the question and the seed: the same question and seed always give the same answer,
different questions most often different ones. The sayings are grouped by leaning (yes, no,
wait, beware) so that every topic can answer every way; the draw is over all of them.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

FOOLISH_ANSWER = "Foolish questions get foolish answers."
LEANINGS = ("yes", "no", "wait", "beware")
FALLBACK_TOPIC = "life"  # counts only where no other topic matches
BANK_PATH = Path(__file__).with_name("proverbs.toml")

# What makes a question one about the asker's life: the asker or someone close ("I", "my",
# "she"), the future ("will", "should", "going to"), or a judgement asked for ("is it a good
# idea to", "worth it", "is he the one"). Words are split at apostrophes: "she's" is "she s".
PEOPLE = frozenset(
    "i me my mine myself we us our ours ourselves he him his she her hers they them their".split()
)
FUTURE = frozenset("will should shall would could going gonna ought might".split())
ADVICE = re.compile(
    r"\b(?:good|bad|right|wrong|best|better|wise|smart|safe|worth|lucky|successful|okay|ok)\b|"
    r"\btime to\b|\bthe one\b"
)
NUMBER = (
    r"\d+(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million"
)
# Arithmetic: a number, an operator, a number ("two plus two", "12 * 12"; not "three times a
# week", "a 3-day trip" or "24/7").
OPERATOR = r"plus|minus|times|multiplied by|divided by|[+*×÷^=]"
ARITHMETIC = re.compile(rf"\b(?:{NUMBER})\s*(?:{OPERATOR})\s*(?:{NUMBER})\b")


@dataclass(frozen=True)
class Saying:
    """One entry of the bank."""

    text: str
    leaning: str


@dataclass(frozen=True)
class Topic:
    """A section of the bank: the words that point a question to it, and its sayings."""

    name: str
    words: frozenset[str]  # whole words
    stems: tuple[str, ...]  # word beginnings ("marr" for "marr*")
    sayings: tuple[Saying, ...]

    def hits(self, words: list[str]) -> int:
        """How many of `words` point to this topic."""
        return sum(w in self.words or w.startswith(self.stems) for w in words)


def _words(question: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", question.lower())


def _draw(key: str, count: int) -> int:
    """A number in [0, count) that depends only on `key` (stable across runs and machines)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count


@dataclass(frozen=True)
class ProverbBank:
    """The bank's topics, in file order."""

    topics: tuple[Topic, ...]

    @classmethod
    def load(cls, path: Path = BANK_PATH) -> "ProverbBank":
        """Read the bank from its TOML file."""
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        topics = []
        for name, section in data.items():
            words = section["words"]
            sayings = tuple(
                Saying(text, leaning) for leaning in LEANINGS for text in section.get(leaning, ())
            )
            topics.append(
                Topic(
                    name,
                    frozenset(w for w in words if not w.endswith("*")),
                    tuple(w[:-1] for w in words if w.endswith("*")),
                    sayings,
                )
            )
        return cls(tuple(topics))

    def answers(self, judge: bool = True) -> tuple[str, ...]:
        """Every answer `answer` gives: the foolish line (where `judge` is on), then each saying
        once."""
        sayings = [saying.text for topic in self.topics for saying in topic.sayings]
        return tuple(dict.fromkeys([FOOLISH_ANSWER] * judge + sayings))

    def topics_of(self, question: str) -> list[Topic]:
        """The topics the question's words point to most (several on a tie; none when no
        topic's words are in it)."""
        words = _words(question)
        counted = [(topic.hits(words), topic) for topic in self.topics]
        specific = [(hits, topic) for hits, topic in counted if topic.name != FALLBACK_TOPIC]
        if any(hits for hits, _ in specific):
            counted = specific
        best = max(hits for hits, _ in counted)
        return [topic for hits, topic in counted if hits == best] if best else []

    def is_foolish(self, question: str) -> bool:
        """Whether the question deserves the foolish line: arithmetic, or nothing in it is
        about the asker's life (a factual or nonsense question)."""
        text = question.lower()
        words = set(_words(question))
        about_life = words & PEOPLE or words & FUTURE or ADVICE.search(text)
        return bool(ARITHMETIC.search(text)) or not about_life

    def answer(self, question: str, seed: int, judge: bool = True) -> str:
        """The Magic 8 Ball's answer to `question`: the foolish line (where `judge` is on), or
        a saying drawn from the question's topic (`life`, where it names none) by question and
        seed."""
        if judge and self.is_foolish(question):
            return FOOLISH_ANSWER
        key = f"{seed}:{' '.join(_words(question))}"
        topics = self.topics_of(question) or [t for t in self.topics if t.name == FALLBACK_TOPIC]
        topic = topics[_draw(key + ":topic", len(topics))]
        return topic.sayings[_draw(key + ":saying", len(topic.sayings))].text


@lru_cache(maxsize=1)
def proverb_bank() -> ProverbBank:
    """The bank shipped with the app (read once)."""
    return ProverbBank.load()


class ProverbAnswerer:
    """The offline answerer (no chat model): a saying from the bank for the question's topic,
    or the foolish line (see the module). The rules read English: for questions in another
    language (`english` False) there is no foolish line, and most get a `life` saying."""

    name = "proverb bank"
    remote = False

    def __init__(self, english: bool = True) -> None:
        self._bank = proverb_bank()
        self._english = english
        self.answers = self._bank.answers(judge=english)

    def sentences(self, question: str, seed: int) -> Iterator[str]:
        """The bank's answer, as one sentence."""
        yield self._bank.answer(question, seed, judge=self._english)
