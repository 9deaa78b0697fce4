"""Parler-TTS streaming in constant time per chunk.

`ParlerTTSStreamer` receives Parler-TTS codebook tokens from `generate(streamer=...)` and turns them
into playable float32 audio while generation runs. Unlike the upstream streamer, which re-decodes
every token generated so far for each chunk (chunk k costs k times the first), it:

- undoes the codebook delay pattern incrementally: after column t arrives, frame t - num_codebooks
  is complete (codebook k of frame f sits at column f + k + 1);
- decodes only a sliding window of codec frames: the new frames, `left_context` frames before them
  and `lookahead` frames after them. The DAC decoder is convolutional and non-causal, so samples
  near either edge of a window are slightly off; the last `lookahead` frames of a window are held
  back and emitted with the next chunk, once their right context exists;
- joins chunks with a short linear crossfade (`stride` samples): the new chunk fades in over the
  previous window's decode of the same samples, so seams do not click;
- emits a shorter first chunk (`first_play_steps`) for a fast first sound;
- stops generation within one step when the consumer goes away (`cancel()` and the stopping
  criterion in `stopping_criteria`).

`stream_generate(model, streamer, **kwargs)` runs `generate` in a background thread and yields the
chunks; an exception raised inside `generate` reaches the consumer as soon as it happens, and the
thread always ends, also when the consumer stops early.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np
import torch
from transformers.generation.stopping_criteria import StoppingCriteria, StoppingCriteriaList

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _StopWhenCancelled(StoppingCriteria):
    def __init__(self, cancelled: threading.Event) -> None:
        self._cancelled = cancelled

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        return torch.full(
            (input_ids.shape[0],),
            self._cancelled.is_set(),
            dtype=torch.bool,
            device=input_ids.device,
        )


class ParlerTTSStreamer:
    """Streams Parler-TTS audio as float32 numpy chunks in constant time per chunk.

    Args:
        model: a `ParlerTTSForConditionalGeneration`.
        device: where the codec decodes; default the codec's own device.
        play_steps: codec frames per chunk (a frame is 1/frame_rate s, ~11.6 ms for DAC 44 kHz).
        stride: crossfade length in samples between chunks (default half a frame).
        timeout: seconds the consumer waits for the next chunk before `queue.Empty` is raised.
        first_play_steps: frames in the first chunk (default half of `play_steps`).
        left_context: frames decoded before each chunk for the decoder's receptive field.
        lookahead: frames held back at the right edge of each window until their context exists.
    """

    def __init__(
        self,
        model,
        device: str | torch.device | None = None,
        play_steps: int = 10,
        stride: int | None = None,
        timeout: float | None = None,
        *,
        first_play_steps: int | None = None,
        left_context: int = 16,
        lookahead: int = 8,
    ) -> None:
        self.codec = model.audio_encoder
        self.num_codebooks = model.decoder.num_codebooks
        self.codebook_size = self.codec.config.codebook_size
        self.sampling_rate = self.codec.config.sampling_rate
        self.hop = self.sampling_rate // self.codec.config.frame_rate
        self.device = device if device is not None else self.codec.device
        self.use_4dim_audio_codes = getattr(model, "use_4dim_audio_codes", True)
        self.play_steps = play_steps
        self.first_play_steps = first_play_steps or max(1, play_steps // 2)
        self.stride = self.hop // 2 if stride is None else stride
        self.timeout = timeout
        self.left_context = left_context
        self.lookahead = lookahead

        self._columns: list[torch.Tensor] = []  # token columns, (num_codebooks,) each
        self._frames: list[torch.Tensor] = []  # complete, valid codec frames
        self._next_frame = 0  # index of the next frame to take from the columns
        self._emitted = 0  # frames already played out
        self._tail = np.zeros(0, np.float32)  # last window's decode just past _emitted
        self._queue: queue.Queue = queue.Queue()
        self._cancelled = threading.Event()
        self.stopping_criteria = StoppingCriteriaList([_StopWhenCancelled(self._cancelled)])

    # -- the generate() side ------------------------------------------------------------------

    def put(self, value: torch.Tensor) -> None:
        """Take new token columns: first the decoder's start ids, then one column per step."""
        if self._cancelled.is_set():
            return
        if value.shape[0] != self.num_codebooks:
            raise ValueError("ParlerTTSStreamer only supports batch size 1")
        columns = value if value.ndim == 2 else value[:, None]
        self._columns.extend(columns.T.cpu())
        self._collect_frames()
        while True:
            target = self.first_play_steps if self._emitted == 0 else self.play_steps
            if len(self._frames) - self.lookahead - self._emitted < target:
                break
            self._emit(self._emitted + target, final=False)

    def end(self) -> None:
        """Flush what is left (no lookahead to wait for any more) and close the stream."""
        if not self._cancelled.is_set() and len(self._frames) > self._emitted:
            self._emit(len(self._frames), final=True)
        self._queue.put(_END)

    def fail(self, error: BaseException) -> None:
        """Hand an exception from the generating thread to the consumer."""
        self._queue.put(_Failed(error))

    def cancel(self) -> None:
        """The consumer has gone: generation stops at its next step, nothing more is decoded."""
        self._cancelled.set()

    def _collect_frames(self) -> None:
        # Codebook k of frame f is column f + k + 1 (column 0 is the start token for all).
        while self._next_frame + self.num_codebooks < len(self._columns):
            f = self._next_frame
            frame = torch.stack([self._columns[f + k + 1][k] for k in range(self.num_codebooks)])
            self._next_frame += 1
            if bool((frame < self.codebook_size).all()):  # skip EOS/BOS/pad frames
                self._frames.append(frame)

    @torch.inference_mode()
    def _decode(self, start: int, stop: int) -> np.ndarray:
        codes = torch.stack(self._frames[start:stop], dim=-1)[None]  # (1, codebooks, frames)
        if self.use_4dim_audio_codes:
            codes = codes[None]
        codes = codes.to(self.device)
        audio = self.codec.decode(audio_codes=codes, audio_scales=[None]).audio_values
        return audio.reshape(-1).float().cpu().numpy()

    def _emit(self, upto: int, final: bool) -> None:
        """Put the audio of frames [_emitted, upto) in the queue, crossfaded onto the last chunk."""
        start = max(0, self._emitted - self.left_context)
        stop = len(self._frames) if final else min(len(self._frames), upto + self.lookahead)
        window = self._decode(start, stop)
        offset = (self._emitted - start) * self.hop
        chunk = window[offset : (upto - start) * self.hop].copy()
        fade = min(self.stride, self._tail.size, chunk.size)
        if fade:
            ramp = np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)
            chunk[:fade] = self._tail[:fade] * (1.0 - ramp) + chunk[:fade] * ramp
        self._tail = window[(upto - start) * self.hop :]
        self._emitted = upto
        self._queue.put(chunk, timeout=self.timeout)

    # -- the consumer side ----------------------------------------------------------------------

    def __iter__(self) -> "ParlerTTSStreamer":
        return self

    def __next__(self) -> np.ndarray:
        item = self._queue.get(timeout=self.timeout)
        if item is _END:
            raise StopIteration
        if isinstance(item, _Failed):
            raise item.error
        return item


def stream_generate(model, streamer: ParlerTTSStreamer, **generate_kwargs) -> Iterator[np.ndarray]:
    """Run `model.generate(streamer=streamer, **generate_kwargs)` in a background thread and
    yield the streamer's chunks.

    An exception inside `generate` is raised here as soon as it happens. When the consumer stops
    early (closes this generator), generation is cancelled and the thread is joined.
    """
    criteria = StoppingCriteriaList(generate_kwargs.pop("stopping_criteria", None) or [])
    criteria.extend(streamer.stopping_criteria)

    def run() -> None:
        try:
            model.generate(streamer=streamer, stopping_criteria=criteria, **generate_kwargs)
        except BaseException as error:  # noqa: BLE001 (handed to the consumer)
            streamer.fail(error)

    thread = threading.Thread(target=run, name="parler-generate", daemon=True)
    thread.start()
    try:
        yield from streamer
    finally:
        streamer.cancel()
        thread.join()
