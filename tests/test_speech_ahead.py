"""The proverb bank's answers spoken ahead (MAGIC8_SPEECH_AHEAD_MB): a chosen answer's speech is
ready at once, it is the audio the answer would have had anyway, and it stays within the memory
given."""

from __future__ import annotations

import logging
import re

from pipelines.backends import embedded_backends
from pipelines.magic8 import Magic8Ball
from pipelines.proverbs import FOOLISH_ANSWER
from pipelines.settings import Settings
from pipelines.turn import Turn

FOOLISH_QUESTION = "What is the capital of France?"  # the bank's first answer is spoken first


def new_ball(env: dict[str, str]) -> Magic8Ball:
    settings = Settings.from_env({"MAGIC8_TTS": "piper", **env})
    return Magic8Ball(settings, embedded_backends(settings))


def spoken_answer(ball: Magic8Ball, question: str) -> tuple[str, bytes]:
    """The answer to a written question, and its speech as one MP3."""
    backends = ball.backends
    turn = Turn(backends.transcriber, backends.answerer, backends.speaker)
    turn.question = question
    speech = b"".join(ball.answer_aloud(turn))
    return turn.answer, speech


def speak_ahead(ball: Magic8Ball, caplog) -> tuple[int, float]:
    """Speak ahead and wait for it; how many answers were kept, and their megabytes."""
    with caplog.at_level(logging.INFO, logger="magic8"):
        ball.speak_ahead().join(timeout=120)
    kept = re.search(r"speech made ahead for (\d+) answers \(([\d.]+) MB\)", caplog.text)
    assert kept, caplog.text
    return int(kept[1]), float(kept[2])


def test_an_answer_spoken_ahead_sounds_as_it_would_have_anyway(caplog):
    ahead = new_ball({"MAGIC8_SEED": "7", "MAGIC8_SPEECH_AHEAD_MB": "0.3"})
    answers, megabytes = speak_ahead(ahead, caplog)
    assert 1 <= answers < 10 and megabytes <= 0.3  # within the memory given, then it stopped
    when_asked = new_ball({"MAGIC8_SEED": "7", "MAGIC8_SPEECH_AHEAD_MB": "0"})
    assert when_asked.speak_ahead() is None

    answer, speech = spoken_answer(ahead, FOOLISH_QUESTION)
    assert answer == FOOLISH_ANSWER
    assert speech == spoken_answer(when_asked, FOOLISH_QUESTION)[1]  # MAGIC8_SEED's promise
    # An answer that did not fit (the bank's 346th) is spoken when asked, as before.
    other = spoken_answer(ahead, "Will my cat be happy?")
    assert other == spoken_answer(when_asked, "Will my cat be happy?")


def test_without_a_seed_a_kept_answer_is_one_take_played_at_once(caplog):
    ball = new_ball({"MAGIC8_SPEECH_AHEAD_MB": "0.3"})
    speak_ahead(ball, caplog)
    # Piper's sampling noise makes each take differ; the kept take is the one every asker hears.
    assert spoken_answer(ball, FOOLISH_QUESTION) == spoken_answer(ball, FOOLISH_QUESTION)
