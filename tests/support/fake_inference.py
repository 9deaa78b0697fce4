"""A real HTTP server on 127.0.0.1 that speaks the two Inference API wire formats the app uses.

- ASR: the audio is the request body (Inference Endpoints), or a multipart form's `file` at
  `.../audio/transcriptions` (OpenAI's API); the answer is `{"text": ...}` either way.
- Chat: OpenAI-compatible `POST .../v1/chat/completions`, streamed as server-sent events
  (`data: {chunk}` lines, then `data: [DONE]`) when the request asks for `"stream": true`.

Each stage has a switchable failure mode: ok, slow, 503, 429, 401, 402, 403, 404, hang,
malformed. Every request is recorded (path, headers, body) for the tests to inspect. The same
handler answers behind `fake_hub.RouterProxy` as Hugging Face's router.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "slow", "503", "429", "401", "402", "403", "404", "hang", "malformed")
REFUSALS = ("503", "429", "401", "402", "403", "404")


@dataclass
class Recorded:
    stage: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def _chat_object(kind: str, content: dict, finish_reason: str | None) -> dict:
    """An OpenAI-style chat completion (or streamed chunk) with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": kind,
        "created": int(time.time()),
        "model": "fake",
        "choices": [{"index": 0, **content, "finish_reason": finish_reason}],
    }


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1, serving in a background thread."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        """Start serving with `handler`; returns the base URL."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class FakeInferenceApi(LoopbackServer):
    """Start with `start()`, stop with `stop()`; set `modes["asr"]` / `modes["llm"]` per test."""

    transcript: str = "Will the sun shine tomorrow?"
    reply: str = "Magic 8 Ball: The sun shines on those who wait."
    slow_s: float = 1.0
    hang_s: float = 60.0
    modes: dict[str, str] = field(default_factory=lambda: {"asr": "ok", "llm": "ok"})
    requests: list[Recorded] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> str:
        """Serve in a background thread; returns the base URL."""
        return self.serve(self.handler())

    def stop(self) -> None:
        self.stopping.set()  # requests that hang end now
        super().stop()

    def reset(self, asr: str = "ok", llm: str = "ok") -> None:
        """Set both modes and forget the recorded requests."""
        assert asr in MODES and llm in MODES
        self.modes = {"asr": asr, "llm": llm}
        self.requests.clear()

    def of(self, stage: str) -> list[Recorded]:
        return [request for request in self.requests if request.stage == stage]

    def _respond(self, stage: str, stream: bool = False) -> tuple[int, bytes]:
        mode = self.modes[stage]
        if mode == "hang":
            self.stopping.wait(self.hang_s)
            return 504, b"{}"
        if mode == "slow":
            time.sleep(self.slow_s)
        if mode in REFUSALS:
            return int(mode), json.dumps({"error": f"fake failure {mode}"}).encode()
        if mode == "malformed":
            if stage == "asr":
                return 200, b"<html>upstream proxy error</html>"
            return 200, b'data: {"choices": []}\n\n' if stream else b'{"choices": []}'
        if stage == "asr":
            return 200, json.dumps({"text": self.transcript}).encode()
        if stream:
            return 200, self._events()
        message = {"role": "assistant", "content": self.reply}
        completion = _chat_object("chat.completion", {"message": message}, "stop")
        completion["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return 200, json.dumps(completion).encode()

    def _events(self) -> bytes:
        """The reply as a stream of chat completion chunks, a word at a time."""
        words = self.reply.split(" ")
        pieces = [f"{word} " for word in words[:-1]] + words[-1:]
        events = []
        for index, piece in enumerate(pieces):
            delta = {"delta": {"role": "assistant", "content": piece}}
            finish = "stop" if index + 1 == len(pieces) else None
            chunk = _chat_object("chat.completion.chunk", delta, finish)
            events.append(f"data: {json.dumps(chunk)}\n\n")
        events.append("data: [DONE]\n\n")
        return "".join(events).encode()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class (one instance per connection, as http.server makes)."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stage = "llm" if self.path.endswith("/chat/completions") else "asr"
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorded = Recorded(stage, self.path, headers, body)
                api.requests.append(recorded)
                stream = stage == "llm" and recorded.json().get("stream") is True
                status, payload = api._respond(stage, stream)
                try:
                    self.send_response(status)
                    events = stream and status == 200
                    kind = "text/event-stream" if events else "application/json"
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timed out) first

            def log_message(self, *args) -> None:
                pass

        return Handler
