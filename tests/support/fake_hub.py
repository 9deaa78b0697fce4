"""Loopback stand-ins for what the app reaches with only HF_TOKEN set, as huggingface_hub 0.36
reaches them, with no change to the library:

- `FakeHub`: the Hub's model API (`GET /api/models/{id}`, with `?expand[]=...`), which
  huggingface_hub calls at HF_ENDPOINT: each model's pipeline tag and Inference Provider
  mapping, or the Hub's answer for a model that is gone (404) or a token it refuses (401).
- `RouterProxy`: the app's HTTPS_PROXY. huggingface_hub calls the providers at
  `https://router.huggingface.co/{provider}/...`, a constant; the proxy answers a CONNECT to
  that host itself, with TLS (a certificate from a test CA that the app trusts through
  REQUESTS_CA_BUNDLE), by a `FakeInferenceApi`'s handler. Every host the app asked to reach is
  recorded; CONNECTs to other hosts are refused.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme

from tests.support.fake_inference import FakeInferenceApi, LoopbackServer, Recorded

ROUTER_HOST = "router.huggingface.co"


@dataclass
class HubModel:
    """How the Hub answers for one model. `providers`: the `inferenceProviderMapping` it
    lists (provider -> {"status", "providerId", "task"}), None for none at all; `refusal`:
    "gone" (404 RepoNotFound), "token" (401, invalid credentials), "down" (503) or "hang" (no
    answer until the hub stops) instead of an answer."""

    pipeline_tag: str
    tags: tuple[str, ...] = ()
    providers: dict[str, dict[str, str]] | None = None
    refusal: str | None = None


def mapping(provider: str, task: str, provider_id: str, status: str = "live") -> dict:
    """One provider's entry in a model's `inferenceProviderMapping`."""
    return {provider: {"status": status, "providerId": provider_id, "task": task}}


@dataclass
class FakeHub(LoopbackServer):
    """The Hub API stand-in; set `models` per test. Unknown models are 404s."""

    models: dict[str, HubModel] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.stopping.set()  # requests that hang end now
        super().stop()

    def start(self) -> str:
        """Serve in a background thread; returns the URL to set as HF_ENDPOINT."""
        return self.serve(self._handler())

    def _answer(self, path: str) -> tuple[int, dict[str, str], dict]:
        url = urlsplit(path)
        model_id = url.path.removeprefix("/api/models/")
        model = self.models.get(model_id)
        if model is None or model.refusal == "gone":
            headers = {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}
            return 404, headers, {"error": "Repository not found"}
        if model.refusal == "token":
            message = "Invalid credentials in Authorization header"
            return 401, {"X-Error-Message": message}, {"error": message}
        if model.refusal == "hang":
            self.stopping.wait()
        if model.refusal in ("down", "hang"):
            return 503, {}, {"error": "Service Unavailable"}
        query = parse_qs(url.query)
        expanded = query.get("expand", []) + query.get("expand[]", [])
        info = {"_id": f"id-{model_id}", "id": model_id}
        full = {"pipeline_tag": model.pipeline_tag, "tags": list(model.tags), "private": False}
        if not expanded:
            return 200, {}, {**info, "modelId": model_id, **full}
        for name in expanded:
            if name == "inferenceProviderMapping":
                if model.providers is not None:
                    info[name] = model.providers
            elif name in full:
                info[name] = full[name]
        return 200, {}, info

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                headers = {name.lower(): value for name, value in self.headers.items()}
                hub.requests.append(Recorded("hub", self.path, headers, b""))
                status, extra, body = hub._answer(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        return Handler


@dataclass
class RouterProxy(LoopbackServer):
    """The HTTP(S) proxy stand-in for Hugging Face's router (see the module docstring). Set
    `reachable` False to refuse every CONNECT (the router out of reach)."""

    router: FakeInferenceApi
    folder: Path
    reachable: bool = True
    hosts: list[str] = field(default_factory=list)  # every host the app asked to reach

    def start(self) -> str:
        """Serve in a background thread; returns the URL to set as HTTPS_PROXY."""
        authority = trustme.CA()
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(ROUTER_HOST).configure_cert(self._tls)
        self.ca_bundle = self.folder / "test-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_bundle))
        return self.serve(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        answer_as_router = self.router.handler()

        class Handler(BaseHTTPRequestHandler):
            def do_CONNECT(self) -> None:  # noqa: N802 (http.server's naming)
                host = self.path.rsplit(":", 1)[0]
                proxy.hosts.append(host)
                if host != ROUTER_HOST or not proxy.reachable:
                    self.send_error(502, "unreachable")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                try:
                    tls = proxy._tls.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    self.close_connection = True
                    return
                answer_as_router(tls, self.client_address, self.server)
                self.close_connection = True

            def _plain(self) -> None:  # a plain-HTTP request through the proxy
                proxy.hosts.append(urlsplit(self.path).hostname or self.path)
                self.send_error(502, "unreachable")

            do_GET = do_POST = do_PUT = do_HEAD = _plain  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        return Handler
