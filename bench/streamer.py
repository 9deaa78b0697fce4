"""Parler-TTS streaming cost: our streamer against the upstream one, on the same tokens.

    python -m bench.streamer [--seconds 10] [--chunk 0.5]

A tiny random Parler-TTS (real-width DAC 44 kHz codec, so decoding costs what it costs with real
weights) generates the tokens of `--seconds` of audio once. Both streamers then receive exactly
those token columns, as `generate` would hand them over, with `--chunk` seconds per chunk. Prints
the decode time of each streamer's first and last chunk and the total, and the speed-up.
"""

from __future__ import annotations

import argparse
import time

import torch
from parler_tts import ParlerTTSStreamer as UpstreamStreamer

from streamer import ParlerTTSStreamer
from tests.support.tiny_parler import generate_kwargs, tiny_parler


class TokenRecorder:
    """Keeps the token columns `generate` hands to a streamer."""

    def __init__(self) -> None:
        self.columns: list[torch.Tensor] = []

    def put(self, value: torch.Tensor) -> None:
        self.columns.append(value.clone())

    def end(self) -> None:
        pass


@torch.inference_mode()
def replay(streamer, columns: list[torch.Tensor]) -> tuple[list[float], float, float]:
    """Feed `columns` to `streamer`; (seconds of each put that made a chunk, total, audio s)."""
    chunk_costs, total = [], 0.0
    for column in columns:
        before = streamer_queue(streamer).qsize()
        started = time.perf_counter()
        streamer.put(column)
        spent = time.perf_counter() - started
        total += spent
        if streamer_queue(streamer).qsize() > before:
            chunk_costs.append(spent)
    started = time.perf_counter()
    streamer.end()
    total += time.perf_counter() - started
    samples = sum(chunk.size for chunk in drain(streamer))
    return chunk_costs, total, samples / 44_100


def streamer_queue(streamer):
    if isinstance(streamer, UpstreamStreamer):
        return streamer.audio_queue
    return streamer._queue  # noqa: SLF001 (the bench times what each put adds to the queue)


def drain(streamer):
    queue = streamer_queue(streamer)
    while not queue.empty():
        item = queue.get()
        if hasattr(item, "size"):
            yield item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--chunk", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    model = tiny_parler(codec_channels=None)
    frame_rate = model.audio_encoder.config.frame_rate
    frames = round(args.seconds * frame_rate)
    play_steps = round(args.chunk * frame_rate)
    recorder = TokenRecorder()
    torch.manual_seed(0)
    model.generate(streamer=recorder, **generate_kwargs(frames))

    rows = []
    for name, streamer in (
        ("ours", ParlerTTSStreamer(model, play_steps=play_steps, first_play_steps=play_steps)),
        ("upstream", UpstreamStreamer(model, play_steps=play_steps)),
    ):
        costs, total, seconds = replay(streamer, recorder.columns)
        rows.append((name, costs, total, seconds))
        print(
            f"{name:<9} chunks {len(costs):3d}  first {costs[0]:6.3f} s  last {costs[-1]:6.3f} s"
            f"  last/first {costs[-1] / costs[0]:5.2f}x  total {total:7.2f} s"
            f"  audio {seconds:5.2f} s"
        )
        print("          per chunk: " + " ".join(f"{cost:.2f}" for cost in costs))
    ours, upstream = rows
    print(
        f"streamer: {args.seconds:g} s of audio in {args.chunk:g} s chunks: ours {ours[2]:.2f} s"
        f" (last/first {ours[1][-1] / ours[1][0]:.2f}x), upstream {upstream[2]:.2f} s"
        f" (last/first {upstream[1][-1] / upstream[1][0]:.2f}x),"
        f" {upstream[2] / ours[2]:.1f}x faster"
    )


if __name__ == "__main__":
    main()
