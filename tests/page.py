"""Driving the real page in headless Chromium (Debian's) with a fake microphone."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

LEAD_S = 1.0  # from Record to the first word
STOP_AFTER_S = 0.4  # from the last word to the Stop click (a quick person)

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


def chromium_path() -> str:
    """Debian's Chromium; `make test` installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Chromium is missing: run `make test`, or apt-get install chromium")
    return path


def microphone_file(
    speech: np.ndarray, sample_rate: int, path: Path, stop_after_s: float = STOP_AFTER_S
) -> float:
    """Write what the fake microphone plays: a pause, the question, a longer pause.

    The fake microphone starts playing when the page opens it, at the first Record click; the
    page streams to the server from when the server has opened the stream (chunks before that
    are dropped, and the Record button shows it is waiting). The pause first is how long a
    person waits for that. Returns how long to record, in seconds: until `stop_after_s` after
    the question.
    """
    lead, tail = np.zeros(int(LEAD_S * sample_rate)), np.zeros(int(2.5 * sample_rate))
    sf.write(path, np.concatenate([lead, speech, tail]), sample_rate, subtype="PCM_16")
    return LEAD_S + speech.size / sample_rate + stop_after_s


@contextmanager
def open_page(url: str, microphone_wav: Path) -> Iterator:
    """The app's page in headless Chromium whose microphone plays `microphone_wav`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={microphone_wav}"],
        )
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#magic8-speech", state="attached", timeout=30_000)
            yield page
        finally:
            browser.close()


def ask_out_loud(page, record_seconds: float, timeout_ms: int = 60_000) -> dict:
    """Press Record, wait, press Stop, and wait until the answer is playing.

    Returns the page-side time from the Stop click to the first `playing` event of the answer,
    the question and answer shown, and the player's audio element state.
    """
    heard_before = page.evaluate("window.magic8Timing.playing.length")
    clear = page.locator("button[aria-label='Clear']")
    if clear.count():  # the last recording is still there: drop it to record anew
        clear.first.click()
    page.get_by_role("button", name="Record", exact=True).click()
    time.sleep(record_seconds)
    page.locator("button.stop-button").first.click()
    page.wait_for_function(
        f"() => window.magic8Timing.playing.length > {heard_before}", timeout=timeout_ms
    )
    timing = page.evaluate("window.magic8Timing")
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].every(t => t.value.length > 0)"
    )
    question, answer = page.eval_on_selector_all("textarea", "els => els.map(e => e.value)")
    return {
        "stop_to_sound_s": (timing["playing"][-1] - timing["stops"][-1]) / 1000,
        "question": question,
        "answer": answer,
    }
