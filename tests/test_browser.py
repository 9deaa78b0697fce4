"""The whole loop as a person does it: the page in Chromium, a fake microphone, talking from the
moment of the Record click, the answer heard."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack

import pytest

from tests.conftest import QUESTION, QUESTION_WORDS
from tests.support.page import (
    INNER_PAUSE_S,
    ask_out_loud,
    microphone_file,
    open_page,
    spoken,
    words,
)

# A question with a pause inside it, as people ask: it must not be cut off at the pause.
PAUSED_QUESTION = ("Should I move", "to Berlin next year?")


def word_edits(reference: str, hypothesis: str) -> int:
    """Words substituted, deleted or inserted between two transcripts (jiwer)."""
    import jiwer

    out = jiwer.process_words(" ".join(words(reference)), " ".join(words(hypothesis)))
    return out.substitutions + out.deletions + out.insertions


@pytest.fixture
def page_for(server):
    """Opens the page with a fake microphone that plays a question (see `tests.support.page`)."""
    with ExitStack() as pages:
        yield lambda microphone: pages.enter_context(open_page(server[0], microphone))


def test_question_from_the_record_click_is_heard_whole(ball, page_for, tmp_path):
    speaker = ball.backends.speaker
    speech = spoken(speaker, (QUESTION,), 0)
    microphone = microphone_file(speech, speaker.sample_rate, tmp_path / "mic.wav")
    uploaded = ball.transcribe(str(microphone.path)).question
    page = page_for(microphone)

    aloud = ask_out_loud(page, microphone)  # talking at the click, Stop 0.4 s after

    print(f"\npage {aloud.question!r}, uploaded {uploaded!r}; "
          f"Stop to first sound {aloud.stop_to_sound_s:.2f} s; recorded {aloud.recorded_s:.2f} s "
          f"by the audio clock, {aloud.captured_s:.2f} s by the wall clock")
    assert words(aloud.question)[:2] == words(QUESTION)[:2]  # the first words are not lost
    # Every chunk the microphone gave up to the Stop reached the server. (Compared by the audio
    # clock: on a starved machine Chromium's fake microphone and audio clock fall behind the wall
    # clock, so the file has played less than the wall-clock time; CI once saw 1.61 s of 1.98.)
    assert abs(aloud.sent_s - aloud.recorded_s) < 0.05
    # Chromium's audio path changes a word for Whisper tiny.en now and then.
    assert word_edits(uploaded, aloud.question) <= 1
    assert any(word in aloud.question.lower() for word in QUESTION_WORDS)
    assert 1 <= len(aloud.answer.split()) <= 30
    assert not aloud.stopped_by_pause
    assert "first sound" in page.inner_text("#backends")  # the timings are shown
    time.sleep(0.5)
    played = page.evaluate("document.getElementById('magic8-speech').currentTime")
    assert played > 0.2  # the answer is really sounding, not just started
    # A second question on the same page, Stop clicked late this time, is heard whole too.
    again = ask_out_loud(page, microphone, stop_after_s=1.5)
    assert words(again.question)[:2] == words(QUESTION)[:2] and again.answer


def test_hands_free_answers_at_the_pause_after_the_question(ball, page_for, tmp_path):
    speaker = ball.backends.speaker
    speech = spoken(speaker, PAUSED_QUESTION, INNER_PAUSE_S)
    microphone = microphone_file(speech, speaker.sample_rate, tmp_path / "paused.wav")
    page = page_for(microphone)

    aloud = ask_out_loud(page, microphone, stop_after_s=None)  # no Stop click

    print(f"\nhands-free {aloud.question!r} -> {aloud.answer!r}; "
          f"last word to first sound {aloud.last_word_to_sound_s:.2f} s")
    assert aloud.stopped_by_pause
    assert "move" in aloud.question.lower() and "berlin" in aloud.question.lower()  # not cut
    assert aloud.answer
    assert "prepared while you paused" in page.inner_text("#backends")
    time.sleep(0.5)
    assert page.evaluate("document.getElementById('magic8-speech').currentTime") > 0.2
    if os.environ.get("MAGIC8_SCREENSHOT"):
        page.screenshot(path=os.environ["MAGIC8_SCREENSHOT"], full_page=True)
