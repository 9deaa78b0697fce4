"""Magic 8 Ball voice: the speech-to-answer-to-speech stages and their glue."""

import os

# onnxruntime (Piper, Silero VAD) sends usage telemetry to Microsoft, from Linux too: 1.31.1 was
# seen connecting to mobile.events.data.microsoft.com when a session loads. An app that runs
# offline and serves strangers sends nothing nobody asked for. onnxruntime reads this when it
# creates its environment (its disable_telemetry_events() did not stop the connection).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
