"""Where a REST sync start spends its time: the API side in this process, under cProfile.

    .venv/bin/python bench/profile_start.py [--starts 40]

Brings up the stack like bench/api.py (Temporal, Redis, worker, the sample definitions), then serves
`POST /v3/workflow/start` in this process through Django's test client (the whole DRF stack, same database,
same worker), so cProfile sees auth, parsing, the Run row, definition resolution and the wait on Temporal.
Prints the SQL statements of one start, the wall and CPU time per start of an unprofiled pass (CPU of this
process: the API side and its Temporal client thread; the worker runs in its own process), and the functions
with the most cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import Stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=40)
    args = parser.parse_args()
    stack = Stack(threads=4)
    try:
        stack.setup_django_here()
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client(HTTP_AUTHORIZATION=f"Api-Key {stack.key}", HTTP_X_TENANT_ID="demo", HTTP_X_CLIENT_ID="demo")
        body = {"issueDetail": {"issueId": "order_status"}, "params": {"orderId": "42"}}

        timeouts = []

        def start() -> None:
            response = client.post("/v3/workflow/start", body, content_type="application/json")
            assert response.status_code in (200, 202), response.content
            if response.status_code == 202:  # past the sync timeout on an overloaded machine: counted
                timeouts.append(response.json()["workflowId"])

        for _ in range(3):
            start()
        with CaptureQueriesContext(connection) as queries:
            start()
        print(f"SQL statements of one start (API side): {len(queries.captured_queries)}")
        for query in queries.captured_queries:
            print(f"  {query['time']}s  {query['sql'][:110]}")
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.starts):
            start()
        print(f"{args.starts} starts unprofiled: {(time.perf_counter() - started) / args.starts * 1000:.1f} ms each,"
              f" {(time.process_time() - cpu) / args.starts * 1000:.2f} ms CPU of this process each")
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(args.starts):
            start()
        profiler.disable()
        print(f"{args.starts} starts in process: {(time.perf_counter() - started) / args.starts * 1000:.1f} ms each"
              f" ({len(timeouts)} answered 202 past the sync timeout)")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
