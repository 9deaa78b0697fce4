"""Driving the real page in headless Chromium (Debian's) with a fake microphone, as a person does:
talking from the moment they click Record."""

from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

LEAD_S = 0.0  # from the Record click to the first word: people start talking at once
STOP_AFTER_S = 0.4  # from the last word to the Stop click (a quick person)
TAIL_S = 3.0  # the fake microphone's silence after the question
INNER_PAUSE_S = 0.6  # a pause inside a question ("Should I move … to Berlin?"), a long one

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
RECORD_BUTTON = "#magic8-recorder .magic8-record"
RECORDER = "#magic8-recorder .magic8-recorder"
BALL = "#magic8-ball .magic8-view"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# Every state the ball shows, in order, kept in `window.magic8States` from the page's opening.
WATCH_STATES_JS = f"""() => {{
  const view = document.querySelector('{BALL}');
  window.magic8States = [view.dataset.state];
  new MutationObserver(() => window.magic8States.push(view.dataset.state))
    .observe(view, {{attributes: true, attributeFilter: ['data-state']}});
}}"""


def chromium_path() -> str:
    """Debian's Chromium; `make test` installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Chromium is missing: run `make test`, or apt-get install chromium")
    return path


@dataclass(frozen=True)
class Spoken:
    """What the fake microphone plays: `lead_s` of silence, the question, then silence."""

    path: Path
    lead_s: float
    speech_s: float

    @property
    def last_word_s(self) -> float:
        """When the question ends, from the start of the recording."""
        return self.lead_s + self.speech_s


def words(text: str) -> list[str]:
    """A transcript's words, lower case, without punctuation (for comparing transcripts)."""
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def spoken(speaker, parts: tuple[str, ...], pause_s: float) -> np.ndarray:
    """`parts` of a question spoken by `speaker` (Piper), joined by `pause_s` of silence. Each
    part is cut to its sound (Piper adds about 0.15 s of near-silence after a sentence), so
    that the pause is `pause_s` from one word to the next and the question ends at its last
    word's sound."""
    gap = np.zeros(int(pause_s * speaker.sample_rate), np.float32)
    pieces = [sounding(np.concatenate(list(speaker.stream(part)))) for part in parts]
    return np.concatenate([piece for part in pieces for piece in (part, gap)][:-1])


def sounding(audio: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """`audio` from its first to its last sample above `floor_db` dBFS."""
    loud = np.flatnonzero(np.abs(audio) > 10 ** (floor_db / 20))
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def microphone_file(
    speech: np.ndarray, sample_rate: int, path: Path, lead_s: float = LEAD_S
) -> Spoken:
    """Write the fake microphone's file. Chromium starts playing it when the page opens the
    microphone, at the Record click, and starts again at each new recording."""
    lead, tail = np.zeros(int(lead_s * sample_rate)), np.zeros(int(TAIL_S * sample_rate))
    sf.write(path, np.concatenate([lead, speech, tail]), sample_rate, subtype="PCM_16")
    return Spoken(path, lead_s, speech.size / sample_rate)


@contextmanager
def open_page(url: str, microphone: Spoken, phone: bool = False) -> Iterator:
    """The app's page in headless Chromium whose microphone plays `microphone`; with `phone`, on
    a phone's screen (390 px wide, touch)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={microphone.path}"],
        )
        try:
            page = browser.new_page(**(PHONE if phone else {}))
            page.goto(url)
            page.wait_for_selector("#magic8-speech", state="attached", timeout=30_000)
            page.wait_for_selector(RECORD_BUTTON, timeout=30_000)
            page.evaluate(WATCH_STATES_JS)
            yield page
        finally:
            browser.close()


def shown_in_ball(page) -> tuple[str, str]:
    """The question and the answer the ball shows, once it shows both (as text: the ball shows
    the answer in capitals)."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{BALL} :is(.magic8-question, .magic8-answer)')]"
        ".every(e => e.textContent.length > 0)"
    )
    question = page.text_content(f"{BALL} .magic8-question")
    return question, page.text_content(f"{BALL} .magic8-answer")


@dataclass(frozen=True)
class AskedAloud:
    """One question asked on the page: what it showed, and page-side times in seconds."""

    question: str
    answer: str
    stop_to_sound_s: float  # the Stop click (or the pause heard) to the first sound
    last_word_to_sound_s: float  # the end of the question to the first sound
    last_word_to_stop_s: float  # below 0: the recording stopped before the question ended
    click_to_capture_s: float  # the Record click to the first audio the page received
    captured_s: float  # the first audio the page received to the end of the recording (wall clock)
    recorded_s: float  # the same by the audio clock: the audio the microphone gave up to the stop
    sent_s: float  # the audio the server confirmed having
    stopped_by_pause: bool
    states: tuple[str, ...]  # the ball's states from the Record click to the first sound


def states_in_order(states: list[str]) -> tuple[str, ...]:
    """The states without repeats of the one before (a message changed, not the state)."""
    return tuple(s for i, s in enumerate(states) if i == 0 or s != states[i - 1])


def press(page, selector: str, touch: bool) -> None:
    """Click, or with `touch` tap, the element."""
    if touch:
        page.locator(selector).tap()
    else:
        page.locator(selector).click()


def record_question(
    page, microphone: Spoken, stop_after_s: float | None = STOP_AFTER_S, touch: bool = False
) -> None:
    """Press Record and talk (the fake microphone plays from when the browser has opened it);
    press Stop `stop_after_s` after the last word (None: never, the page stops at the pause
    with "Answer when I pause" on)."""
    captured_before = page.evaluate("window.magic8Timing.captures.length")
    page.locator(".magic8-hands-free input").set_checked(stop_after_s is None)
    press(page, RECORD_BUTTON, touch)
    if stop_after_s is None:
        return
    # The fake microphone starts playing when the browser has opened it (usually at once;
    # seconds later on a starved machine), as a person starts talking at "Listening…". It
    # plays by the audio clock, which falls behind the wall clock on a starved machine (CI
    # once had 1.6 s of audio in 2.0 s), so the person's time is the audio clock's.
    page.wait_for_function(f"() => window.magic8Timing.captures.length > {captured_before}")
    page.wait_for_function(
        f"() => window.magic8Timing.recording >= {microphone.last_word_s + stop_after_s}",
        timeout=60_000,
    )
    press(page, RECORD_BUTTON, touch)


def ask_out_loud(
    page, microphone: Spoken, stop_after_s: float | None = STOP_AFTER_S, touch: bool = False
) -> AskedAloud:
    """Ask the question (`record_question`) and wait until the answer is playing."""
    heard_before, states_before = page.evaluate(
        "[window.magic8Timing.playing.length, window.magic8States.length]"
    )
    record_question(page, microphone, stop_after_s, touch)
    page.wait_for_function(
        f"() => window.magic8Timing.playing.length > {heard_before}", timeout=60_000
    )
    timing, states = page.evaluate("[window.magic8Timing, window.magic8States]")
    question, answer = shown_in_ball(page)
    sound, stop = timing["playing"][-1], timing["stops"][-1]
    last_word = timing["captures"][-1] + 1000 * microphone.last_word_s
    return AskedAloud(
        question=question,
        answer=answer,
        stop_to_sound_s=(sound - stop) / 1000,
        last_word_to_sound_s=(sound - last_word) / 1000,
        last_word_to_stop_s=(stop - last_word) / 1000,
        click_to_capture_s=(timing["captures"][-1] - timing["clicks"][-1]) / 1000,
        captured_s=(stop - timing["captures"][-1]) / 1000,
        recorded_s=timing["recorded"][-1],
        sent_s=timing["sent"][-1],
        stopped_by_pause=bool(timing["pauses"]) and timing["pauses"][-1] == timing["stops"][-1],
        states=states_in_order(states[states_before:]),
    )
