"""Text made fit to speak, and how much speech it makes.

Every Speaker reads out what it is given: emoji by their long Unicode names, digits one by one,
control characters as errors. So text is normalised before any Speaker sees it, and its length
is counted in words as they will be spoken, which bounds the speech (and so the CPU) it costs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Iterator

from pipelines.errors import UserFacingError

KEPT_SYMBOLS = "$€£¥%&+=@#°"  # said in a word each ("dollar", "percent", ...)
LETTERS_PER_WORD = 6  # a long word takes as long to say as several short ones
NOTHING_TO_SAY = "There is nothing in that text I can say. Please write a few words."

_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_REPEATED_MARK = re.compile(r"([^\w\s])\1+")
_LONG_NUMBER = re.compile(r"\d{5,}")
_SPOKEN_UNITS = re.compile(rf"\d|[^\W\d_]+|[{re.escape(KEPT_SYMBOLS)}]")


def _in_groups(digits: str) -> str:
    """A long number in groups of three digits: read whole, a long number is one long piece
    of speech, whose memory Piper's ONNX runtime kept for good (docs/limits.md)."""
    return " ".join(digits[start : start + 3] for start in range(0, len(digits), 3))


def _speakable_char(char: str) -> str:
    category = unicodedata.category(char)
    if category[0] in "LNP" or category in ("Mn", "Mc") or char in KEPT_SYMBOLS:
        return char
    return " "  # emoji and other symbols, control and format characters, separators


def speakable(text: str) -> str:
    """`text` with only what a voice should say: compatibility forms unified (NFKC), emoji,
    symbols (but KEPT_SYMBOLS), control and format characters dropped, numbers of more than
    four digits read in groups of three, runs of one punctuation mark made one, spaces
    collapsed. Raises UserFacingError when no letter or digit is left."""
    text = _VARIATION_SELECTORS.sub("", unicodedata.normalize("NFKC", text))
    text = "".join(_speakable_char(char) for char in text)
    text = _LONG_NUMBER.sub(lambda number: _in_groups(number.group()), text)
    text = " ".join(_REPEATED_MARK.sub(r"\1", text).split())
    if not any(char.isalnum() for char in text):
        raise UserFacingError(NOTHING_TO_SAY)
    return text


def spoken_words(text: str) -> int:
    """About how many words saying `text` takes: a word per digit and per kept symbol, and a
    word per LETTERS_PER_WORD letters of a longer word."""
    return sum(
        -(-len(unit) // LETTERS_PER_WORD) if unit.isalpha() else 1
        for unit in _SPOKEN_UNITS.findall(text)
    )


def within_words(sentences: Iterable[str], max_words: int) -> Iterator[str]:
    """The speakable part of each sentence, until `max_words` spoken words are said: the
    sentence that reaches the limit is cut there and is the last. Sentences with nothing to
    say are left out."""
    left = max_words
    for sentence in sentences:
        try:
            text = speakable(sentence)
        except UserFacingError:
            continue
        words = text.split()
        kept = []
        for word in words:
            cost = spoken_words(word)
            if cost > left:
                break
            kept.append(word)
            left -= cost
        if kept:
            yield " ".join(kept)
        if len(kept) < len(words) or not left:
            return
