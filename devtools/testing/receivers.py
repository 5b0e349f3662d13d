"""Webhook receivers on local HTTP servers (SlowReceiver, which answers byte by byte, is in slow_receiver.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class Receiver:
    """A webhook endpoint on the test HTTP server; `fail_first` answers 500 that many times first."""

    def __init__(self, httpserver, path: str, fail_first: int = 0) -> None:
        self.url = httpserver.url_for(path)
        self.fail_first = fail_first
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        httpserver.expect_request(path, method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.calls.append((request.get_data(), dict(request.headers)))
        return Response("no", status=500) if len(self.calls) <= self.fail_first else Response("ok", status=200)

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for body, _ in self.calls]


@pytest.fixture
def threaded_httpserver() -> Iterator[HTTPServer]:
    """Its own server: the shared `httpserver` fixture answers one request at a time, and `/slow` holds three."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()
