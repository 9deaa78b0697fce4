"""The JavaScript client: `@gradio/client` from npm (installed by `make test`) asks `/ask` as the
README's line shows, on Node, against the real app."""

from __future__ import annotations

import json
import subprocess

import httpx
import numpy as np

from tests.conftest import QUESTION_WORDS
from tests.support.helpers import ROOT, ffmpeg_decode


def test_the_javascript_client_gets_the_transcript_and_the_mp3(server, question_wav):
    script = ROOT / "tests" / "js" / "ask.mjs"
    run = subprocess.run(
        ["node", str(script), server[0], str(question_wav)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    result = json.loads(run.stdout)
    assert all(word in result["question"].lower() for word in QUESTION_WORDS)
    assert result["answer"] and "proverb bank" in result["backends"]
    spoken = ffmpeg_decode(httpx.get(result["mp3_url"], timeout=30).content)
    assert spoken.size / 22_050 >= 0.5 and np.sqrt(np.mean(spoken**2)) > 0.01
