"""HTTP hardening around the Gradio app: security headers on every response, and two routes
closed that Gradio 6.17 opens with no setting to close them.

- `/gradio_api/file=http://…` answers 302 to any URL (an open redirect);
- `/gradio_api/run/…` (and its alias `/gradio_api/api/…`) runs any event by its index at once,
  bypassing the queue and its concurrency limits (the page and `gradio_client` use the queue,
  `/call/…` too).
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What Gradio's page needs: inline scripts and styles (its config is inlined per request),
# eval (event `js=` and `gr.HTML` scripts), blob: for the recorder's worklet and the audio.
# Hugging Face shows a Space inside a frame of huggingface.co.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'self' https://huggingface.co https://*.huggingface.co https://*.hf.space",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
CLOSED = re.compile(r"^/gradio_api/(?:file[=/]\s*https?:|run/|api/)", re.IGNORECASE)


class HttpGuard:
    """ASGI middleware: HEADERS on every HTTP response, 404 for the CLOSED routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if CLOSED.match(scope["path"]):
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
