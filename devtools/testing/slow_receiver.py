"""A webhook receiver that answers byte by byte: a real threaded TCP server on loopback.

`drip="body"` answers its status at once, then a chunked body one byte per `interval`; `drip="headers"`
sends the status line, then a header one byte per `interval` (each read arrives well within any per-read
timeout). Both drip `total` bytes or until `release()`, then finish the answer at once. Each connection ends "complete"
(the whole answer was sent) or "cut" (the caller hung up first); `max_open` counts concurrent connections.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading


class SlowReceiver:
    def __init__(self, *, status: int = 200, drip: str = "body", total: int = 40, interval: float = 0.25) -> None:
        self.status, self.drip, self.total, self.interval = status, drip, total, interval
        self.outcomes: list[str] = []
        self.requests: list[bytes] = []
        self.open = self.max_open = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.receiver = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _dripped(self, send, piece: bytes) -> None:
        for _ in range(self.total):
            if self._released.is_set():  # answer at once from now on
                return
            send(piece)
            self._released.wait(self.interval)

    def serve(self, connection) -> None:
        self.requests.append(_read_request(connection))
        send = connection.sendall
        reason = b"OK" if self.status < 400 else b"Nope"
        if self.drip == "headers":
            send(b"HTTP/1.1 %d %s\r\nX-Slow: " % (self.status, reason))
            self._dripped(send, b"a")
            send(b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        else:
            send(b"HTTP/1.1 %d %s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % (self.status, reason))
            self._dripped(send, b"1\r\nx\r\n")
            send(b"0\r\n\r\n")


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        receiver: SlowReceiver = self.server.receiver
        with receiver._lock:
            receiver.open += 1
            receiver.max_open = max(receiver.max_open, receiver.open)
        outcome = "cut"
        try:
            receiver.serve(self.request)
            outcome = "complete"
        except OSError:  # BrokenPipe / ConnectionReset: the caller hung up
            pass
        finally:
            with receiver._lock:
                receiver.open -= 1
                receiver.outcomes.append(outcome)


def _read_request(connection) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before the request was complete")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            with contextlib.suppress(ValueError):
                length = int(value)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return body
