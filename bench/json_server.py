"""A local threaded HTTP server answering every GET with JSON, for the benchmarks' HTTP nodes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def json_server(answer: Callable[[str], Any]) -> ThreadingHTTPServer:
    """Serve `answer(path)` as JSON on 127.0.0.1 (a free port: `server.server_port`) from a daemon thread."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            body = json.dumps(answer(self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def with_json_server(answer: Callable[[str], Any], path: str, bench: Callable[[str], None]) -> None:
    """Run `bench(url)` with a `json_server(answer)` at `url` (its `path`), which HTTP nodes may call."""
    os.environ.setdefault("DRIFT_HTTP_ALLOWED_NETWORKS", "127.0.0.0/8")
    server = json_server(answer)
    try:
        bench(f"http://127.0.0.1:{server.server_port}{path}")
    finally:
        server.shutdown()
