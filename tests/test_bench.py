"""The benchmarks run as `make bench` and the docs run them: as modules from the repository's
root; and bench/gpu.py's dry run, the GPU benchmark's own code on tiny configs on the CPU, so
the command a GPU machine runs is known to work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.helpers import ROOT

NOT_BENCHMARKS = ("__init__", "questions")  # the package, and the questions bench/answers asks
BENCHMARKS = sorted(
    path.stem for path in (ROOT / "bench").glob("*.py") if path.stem not in NOT_BENCHMARKS
)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_runs_as_a_module(name):
    run = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage:")


def test_the_gpu_bench_dry_run_prints_its_table():
    run = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--dry-run", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # the CPU, also on a GPU machine
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    measured = {tuple(cell.strip() for cell in row.split("|")[1:4]) for row in rows[1:]}
    assert measured == {
        ("Parler-TTS", "float16", "first MP3 chunk, s"),
        ("Parler-TTS", "float16", "real-time factor"),
        ("Parler-TTS", "bfloat16", "first MP3 chunk, s"),
        ("Parler-TTS", "bfloat16", "real-time factor"),
        ("Whisper", "float32", "s per 5 s of audio"),
        ("Whisper", "float32", "tokens generated"),
        ("Whisper + assistant", "float32", "s per 5 s of audio"),
        ("Whisper + assistant", "float32", "tokens generated"),
    }
    assert run.stdout.splitlines()[-1].startswith("summary: Parler-TTS first chunk")
