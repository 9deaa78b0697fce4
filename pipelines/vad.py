"""Where the speech is: Silero VAD (the `silero-vad` package, its ONNX model on onnxruntime).

`speech_span` trims a whole recording to its speech; `EndOfSpeech` follows a live recording
window by window and says when the person has stopped talking. Both use the same model and
the same thresholds, so a live recording and the same recording uploaded are trimmed alike.
"""

from __future__ import annotations

import copy
import threading

import numpy as np

from pipelines.audio import ASR_SAMPLE_RATE

THRESHOLD = 0.5  # speech probability above which a 32 ms window is speech
END_SILENCE_MS = 150  # this much silence after speech ends an utterance
PAD_MS = 200  # kept on both sides of the speech (Whisper wants a little room)

_shared_model = None
_shared_lock = threading.Lock()


def _model():
    """The model for one reader: its own state, on the one ONNX session all readers share
    (a session is stateless and may run in several threads at once; one per live recording
    cost memory that was not given back)."""
    global _shared_model
    with _shared_lock:
        if _shared_model is None:
            from silero_vad import load_silero_vad

            _shared_model = load_silero_vad(onnx=True)
        model = copy.copy(_shared_model)
    model.reset_states()
    return model


def speech_span(audio: np.ndarray) -> tuple[int, int] | None:
    """First and last sample of the speech in `audio` (16 kHz mono float32), padded by PAD_MS;
    None when none of it is speech."""
    from silero_vad import get_speech_timestamps

    stamps = get_speech_timestamps(
        audio,
        _model(),
        threshold=THRESHOLD,
        sampling_rate=ASR_SAMPLE_RATE,
        min_silence_duration_ms=END_SILENCE_MS,
        speech_pad_ms=PAD_MS,
    )
    if not stamps:
        return None
    return stamps[0]["start"], min(stamps[-1]["end"], audio.size)


class EndOfSpeech:
    """Follows one live recording: `feed` it the new samples as they arrive; it answers True
    when an utterance has just ended (END_SILENCE_MS of silence after speech), and
    `silence_s` says how long the person has been quiet since.

    Each live recording has its own model state (see `_model`).
    """

    WINDOW = 512  # samples per model call at 16 kHz
    # Two windows later than `speech_span` would close the utterance (they count the silence
    # from different ends of a window), so that `speech_span` of the recording at this moment
    # has closed it too and the span stays the same after it.
    SILENCE_MS = END_SILENCE_MS + 2 * WINDOW * 1000 // ASR_SAMPLE_RATE

    def __init__(self) -> None:
        from silero_vad import VADIterator

        self._iterator = VADIterator(
            _model(),
            threshold=THRESHOLD,
            sampling_rate=ASR_SAMPLE_RATE,
            min_silence_duration_ms=self.SILENCE_MS,
            speech_pad_ms=PAD_MS,
        )
        self._pending = np.zeros(0, np.float32)
        self._windows_since_end: int | None = None  # None: no utterance has ended yet
        self.speaking = False

    def feed(self, samples: np.ndarray) -> bool:
        """Read `samples` (16 kHz mono float32, following the last ones); True when speech
        ended within them and did not start again."""
        ended = False
        pending = np.concatenate([self._pending, samples])
        whole = pending.size - pending.size % self.WINDOW
        for start in range(0, whole, self.WINDOW):
            event = self._iterator(pending[start : start + self.WINDOW])
            if event and "start" in event:
                self.speaking, ended = True, False
                self._windows_since_end = None
            elif event and "end" in event:
                self.speaking, ended = False, True
                self._windows_since_end = 0
            elif self._windows_since_end is not None:
                self._windows_since_end += 1
        self._pending = pending[whole:]
        return ended

    @property
    def silence_s(self) -> float:
        """Seconds of silence since the last utterance ended (0 while speaking or before any
        speech)."""
        if self._windows_since_end is None:
            return 0.0
        return self.SILENCE_MS / 1000 + self._windows_since_end * self.WINDOW / ASR_SAMPLE_RATE
