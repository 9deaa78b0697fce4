"""Offline answers as people hear them: the app's offline answerer (the proverb bank) over the
questions of bench/questions.py, and the bank itself."""

from __future__ import annotations

import re

import pytest

from bench.questions import FOOLISH, PROFANITY, REAL
from pipelines.llm import EXAMPLES, MAX_WORDS, answer_text, local_answerer
from pipelines.proverbs import FOOLISH_ANSWER, LEANINGS, ProverbBank


@pytest.fixture(scope="module")
def answerer(ball):
    return ball.backends.answerer


@pytest.mark.parametrize("question", FOOLISH)
def test_a_nonsense_or_factual_question_gets_the_foolish_line(answerer, question):
    assert answer_text(answerer, question, seed=1) == FOOLISH_ANSWER


def test_no_real_question_is_dismissed_as_foolish(answerer):
    dismissed = [q for q in REAL if answer_text(answerer, q, seed=1) == FOOLISH_ANSWER]
    assert dismissed == []


@pytest.mark.parametrize(
    "question",
    ["Is he the one?", "Is it worth it?", "Is this the right choice?", "Will the Lakers win?",
     "How many children will I have?", "What should I cook tonight?",
     "Should I go running three times a week?", "Is a 3-day trip to Rome a good idea?",
     "Should I work 24/7 on my startup?", "She's the one?", "We'll be fine?",
     "Is Bitcoin a good investment?", "Is this job offer worth taking?"],
)
def test_short_and_impersonal_real_questions_are_not_dismissed(answerer, question):
    assert answer_text(answerer, question, seed=2) != FOOLISH_ANSWER


@pytest.mark.parametrize(
    "question", ["What is 5+5?", "Will two plus two be four?", "Should 12 * 12 be 144?"]
)
def test_arithmetic_is_foolish_even_about_the_future(answerer, question):
    assert answer_text(answerer, question, seed=2) == FOOLISH_ANSWER


def test_no_answer_to_any_rated_question_is_profane(answerer):
    for seed in range(3):
        for question in REAL + FOOLISH:
            words = set(re.findall(r"[a-z]+", answer_text(answerer, question, seed).lower()))
            assert not words & PROFANITY, question


def test_the_same_seed_gives_the_same_answer_and_others_vary(answerer):
    question = "Should I ask my boss for a raise?"
    assert answer_text(answerer, question, 5) == answer_text(answerer, question, 5)
    assert len({answer_text(answerer, question, seed) for seed in range(20)}) >= 10


def test_answers_fit_the_question_topic(answerer):
    bank = ProverbBank.load()
    weather = {s.text for t in bank.topics if t.name == "weather" for s in t.sayings}
    answers = {answer_text(answerer, "Will it rain tomorrow?", seed) for seed in range(10)}
    assert answers <= weather


def test_most_real_questions_get_different_answers(answerer):
    answers = [answer_text(answerer, q, seed) for seed, q in enumerate(REAL)]
    assert len(set(answers)) >= 0.85 * len(answers)
    assert max(answers.count(a) for a in answers) <= 3


def test_the_bank_is_made_of_distinct_short_sayings_that_can_answer_every_way():
    bank = ProverbBank.load()
    sayings = [s.text for t in bank.topics for s in t.sayings]
    assert len(sayings) >= 300 and len(set(sayings)) == len(sayings)
    assert not {a for _, a in EXAMPLES} & set(sayings)  # the chat prompt's examples
    assert FOOLISH_ANSWER not in sayings
    for saying in sayings:
        assert saying[-1] in ".!?" and len(saying.split()) <= MAX_WORDS, saying
    for topic in bank.topics:
        assert {s.leaning for s in topic.sayings} == set(LEANINGS), topic.name


def test_questions_in_another_language_are_never_foolish():
    answerer = local_answerer(None, threads=1, english=False)
    assert answer_text(answerer, "Quelle est la capitale de la France ?", 1) != FOOLISH_ANSWER
