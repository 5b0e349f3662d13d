"""A tiny demo "order service" so the sample workflow works end to end on a fresh machine (development only).

Its own process, never the API's: `python -m drift.demo --port 8010` (devtools.up starts it). The sample's HTTP
node calls it; served from the API's own request threads, concurrent starts starved the API (every thread
waiting on a call that needed a thread: issue 8.8). `load_samples --oms-base-url http://127.0.0.1:8010/demo/oms`
points the enum store's `oms.base_url` at it. `GET /demo/oms/orders/<id>`: even ids DELIVERED, odd SHIPPED.
"""

from __future__ import annotations

import argparse
import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ORDER_PATH = re.compile(r"^/demo/oms/orders/([^/?]+)$")


def demo_order(order_id: str) -> dict:
    try:
        number = int(order_id)
    except ValueError:
        number = sum(map(ord, order_id))
    return {
        "id": order_id,
        "status": "DELIVERED" if number % 2 == 0 else "SHIPPED",
        "returnable": True,
        "items": [{"sku": f"SKU-{number % 1000:03d}", "quantity": 1}],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        match = ORDER_PATH.match(self.path.split("?", 1)[0])
        status, body = (200, demo_order(match.group(1))) if match else (404, {"message": "unknown order path"})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        return


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m drift.demo", description="Demo order service (dev only).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    opts = parser.parse_args(argv)
    server = DemoServer((opts.host, opts.port), _Handler)
    print(f"demo order service on http://{opts.host}:{opts.port}/demo/oms", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
