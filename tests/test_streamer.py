"""Our Parler-TTS streamer on a tiny random Parler-TTS built in the test (no downloads)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import LogitsProcessor, LogitsProcessorList

from streamer import ParlerTTSStreamer, stream_generate
from tests.support.tiny_parler import generate_kwargs, tiny_parler

HOP = 512  # DAC 44.1 kHz: samples per codec frame


@pytest.fixture(scope="module")
def model():
    return tiny_parler()


def one_shot(model, frames: int, seed: int) -> np.ndarray:
    """Parler's own decode of the whole generation, as `generate` returns it."""
    torch.manual_seed(seed)
    return model.generate(**generate_kwargs(frames)).reshape(-1).numpy()


def streamed(model, frames: int, seed: int, **streamer_kwargs) -> list[np.ndarray]:
    torch.manual_seed(seed)
    streamer = ParlerTTSStreamer(model, **streamer_kwargs)
    return list(stream_generate(model, streamer, **generate_kwargs(frames)))


@pytest.mark.parametrize("play_steps", [10, 43])
def test_streamed_audio_is_the_one_shot_decode(model, play_steps):
    reference = one_shot(model, 120, seed=3)
    chunks = streamed(model, 120, seed=3, play_steps=play_steps)
    audio = np.concatenate(chunks)
    assert audio.dtype == np.float32
    assert audio.size == reference.size == 120 * HOP
    assert np.linalg.norm(audio - reference) / np.linalg.norm(reference) < 0.05
    # Away from the crossfades at the seams, the samples are the same.
    seams = np.cumsum([chunk.size for chunk in chunks])[:-1]
    outside = np.ones(audio.size, bool)
    for seam in seams:
        outside[seam : seam + HOP // 2] = False
    assert np.max(np.abs(audio - reference)[outside]) < 0.01 * np.max(np.abs(reference))


def test_chunk_sizes_are_as_configured(model):
    chunks = streamed(model, 100, seed=4, play_steps=20, first_play_steps=6)
    sizes = [chunk.size // HOP for chunk in chunks]
    assert sizes == [6, 20, 20, 20, 20, 14]


class _Boom(LogitsProcessor):
    """Fails at a given generation step; counts the steps it saw."""

    def __init__(self, at_step: int | None = None) -> None:
        self.at_step = at_step
        self.steps = 0

    def __call__(self, input_ids, scores):
        self.steps += 1
        if self.steps == self.at_step:
            raise RuntimeError("the GPU caught fire")
        return scores


def generate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "parler-generate"]


def test_an_exception_in_generate_reaches_the_consumer(model):
    # timeout=2: were the error not handed over, the consumer would get queue.Empty instead.
    streamer = ParlerTTSStreamer(model, play_steps=10, timeout=2)
    kwargs = generate_kwargs(200)
    chunks = stream_generate(
        model, streamer, logits_processor=LogitsProcessorList([_Boom(at_step=60)]), **kwargs
    )
    received = []
    with pytest.raises(RuntimeError, match="caught fire"):
        for chunk in chunks:
            received.append(chunk)
    assert received  # audio made before the failure was delivered
    assert not generate_threads()


def test_stopping_the_consumer_stops_generation(model):
    counter = _Boom()
    streamer = ParlerTTSStreamer(model, play_steps=10)
    chunks = stream_generate(
        model, streamer, logits_processor=LogitsProcessorList([counter]), **generate_kwargs(400)
    )
    next(chunks)
    next(chunks)
    steps_when_stopped = counter.steps
    chunks.close()  # the client went away
    assert not generate_threads()
    assert counter.steps <= steps_when_stopped + 10  # within one chunk, not the 400 asked for
