"""A real HTTP endpoint on loopback for the black-box target tests: a stdlib server in a
thread that serves a fitted scikit-learn model (JSON rows in, probabilities out) and can
be told to fail a few times, answer garbage or drop rows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

__all__ = ["Endpoint", "serve"]


@dataclass
class Endpoint:
    """What the server does; tests flip these fields between requests."""

    model: Any
    mode: str = "probabilities"  # probabilities | labels | not-json | short | 3-classes
    fail_next: int = 0  # answer 503 (with Retry-After: 0) this many times first
    requests: int = 0
    rows: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def answer(self, body: dict[str, Any]) -> tuple[int, bytes]:
        self.requests += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, b'{"error": "busy"}'
        rows = np.asarray(body["inputs"], dtype=np.float64)
        self.rows += len(rows)
        if self.mode == "not-json":
            return 200, b"<html>hello</html>"
        if self.mode == "labels":
            return 200, json.dumps({"labels": self.model.predict(rows).tolist()}).encode()
        p = self.model.predict_proba(rows)
        if self.mode == "short":
            p = p[:-1]
        if self.mode == "3-classes":
            p = np.hstack([p * 0.5, 0.5 * np.ones((len(p), 1))])
        return 200, json.dumps({"probabilities": p.tolist()}).encode()


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            endpoint.seen_headers.append(dict(self.headers))
            size = int(self.headers.get("Content-Length", 0))
            status, payload = endpoint.answer(json.loads(self.rfile.read(size)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if status == 503:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler


@contextmanager
def serve(model: Any) -> Iterator[Endpoint]:
    """Serve ``model`` on 127.0.0.1 (a free port) for the duration of the block."""
    endpoint = Endpoint(model)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/predict"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
