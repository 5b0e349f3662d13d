"""Inbound hook benchmark (spec §13, issue 24): signed events to `POST /v3/hooks/{tenant}/{id}` versus plain ASYNC
starts (`POST /v3/workflow/start`), same stack, same run.

    .venv/bin/python bench/hooks.py [--events 1000] [--concurrent 50] [--duplicates 0.1]

Brings up the whole stack with `devtools.up` (gunicorn API, Temporal, worker, Celery, Redis; `bench/api.py`'s
Stack). Prints p50/p99 to the 202 and requests/s for each side at `--concurrent` senders, the hook/start ratio
(the target: a trigger costs at most 1.2x a direct start), then waits for the runs the events started and counts
them by search (`param.source=`), with every event's outcome (from the stack's database); exits non-zero when a
count is wrong (runs, duplicates, events, outcomes).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import Stack, percentile  # noqa: E402

SECRET = "bench-hook-secret"
WARM = 20  # direct starts before the timed ones (connections, caches); the timed sides send --events each


def timed_posts(url_of, bodies: list[tuple[bytes, dict]], concurrent: int) -> tuple[list[float], float, list[dict]]:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrent))

    def post(item: tuple[bytes, dict]) -> tuple[float, dict]:
        raw, headers = item
        started = time.perf_counter()
        reply = session.post(url_of, data=raw, headers=headers, timeout=60)
        elapsed = time.perf_counter() - started
        assert reply.status_code in (200, 202), reply.text[:300]
        return elapsed, reply.json()

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrent) as pool:
        results = list(pool.map(post, bodies))
    return [r[0] for r in results], time.perf_counter() - began, [r[1] for r in results]


def report(name: str, latencies: list[float], wall: float) -> float:
    p50 = percentile(latencies, 0.5)
    print(f"{name:>14}: p50 {p50:7.1f} ms  p99 {percentile(latencies, 0.99):7.1f} ms  "
          f"{len(latencies) / wall:7.1f} req/s  ({len(latencies)} requests)")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--duplicates", type=float, default=0.1)
    args = parser.parse_args()
    stack = Stack(threads=args.concurrent)
    try:
        run(stack, args)
    finally:
        stack.stop()


def run(stack: Stack, args: argparse.Namespace) -> None:
    api = {"Authorization": f"Api-Key {stack.key}", "X-Tenant-Id": "demo", "X-Client-Id": "demo"}
    tag = uuid.uuid4().hex[:8]
    assert requests.put(f"{stack.url}/secrets/bench_hook", json={"value": SECRET}, headers=api).status_code == 200
    trigger = {"id": f"bench-{tag}", "action": "START", "workflow": {"issueId": "order_status"},
               "mapping": {"params.orderId": "$.body.order", "params.source": f"hook-{tag}"},
               "dedupeKey": "$.headers.x-event-id",
               "auth": {"kind": "HMAC_SHA256", "header": "X-Signature", "prefix": "sha256=", "secret": "bench_hook"}}
    created = requests.post(f"{stack.url}/v3/triggers/", json=trigger, headers=api)
    assert created.status_code == 201, created.text

    distinct = round(args.events * (1 - args.duplicates))
    event_ids = [f"e-{n}" for n in range(distinct)]
    event_ids += [f"e-{n % distinct}" for n in range(args.events - distinct)]
    hooks = []
    for event_id in event_ids:
        raw = json.dumps({"order": "1", "id": event_id}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        hooks.append((raw, {"Content-Type": "application/json", "X-Signature": signature, "X-Event-Id": event_id}))
    starts = [(json.dumps({"issueDetail": {"issueId": "order_status"}, "mode": "ASYNC",
                           "params": {"orderId": "1", "source": f"start-{tag}"}}).encode(),
               {**api, "Content-Type": "application/json"}) for _ in range(args.events + WARM)]

    timed_posts(f"{stack.url}/v3/workflow/start", starts[:WARM], args.concurrent)
    start_latencies, start_wall, _ = timed_posts(f"{stack.url}/v3/workflow/start", starts[WARM:], args.concurrent)
    hook_latencies, hook_wall, replies = timed_posts(f"{stack.url}/v3/hooks/demo/bench-{tag}", hooks,
                                                     args.concurrent)
    start_p50 = report("direct start", start_latencies, start_wall)
    hook_p50 = report("inbound hook", hook_latencies, hook_wall)
    cost = (hook_wall / len(hook_latencies)) / (start_wall / len(start_latencies))
    print(f"hook / start: p50 {hook_p50 / start_p50:.2f}x, time per request {cost:.2f}x (target <= 1.2x)")
    print(f"duplicates answered: {sum(1 for r in replies if r.get('duplicate'))} of {args.events - distinct} sent")

    deadline = time.monotonic() + 600
    while True:
        counted = count_runs(stack, api, f"hook-{tag}")
        if counted >= distinct or time.monotonic() > deadline:
            break
        time.sleep(2)
    outcomes = event_outcomes(stack, f"bench-{tag}")
    print(f"runs started by the events (search): {counted}, expected {distinct}; "
          f"every event's outcome: {dict(outcomes)}")
    wrong = [what for what, ok in (
        ("runs counted by search", counted == distinct),
        ("duplicates answered", sum(1 for r in replies if r.get("duplicate")) == args.events - distinct),
        ("events stored", sum(outcomes.values()) == args.events),
        ("outcomes", outcomes == Counter({"DONE": distinct, "DUPLICATE": args.events - distinct})),
    ) if not ok]
    if wrong:
        sys.exit(f"WRONG: {', '.join(wrong)}")


def event_outcomes(stack: Stack, trigger_id: str) -> Counter:
    """Every event of the trigger by outcome, read from the stack's database (the API lists the latest 500)."""
    stack.setup_django_here()
    from apps.triggers.models import TriggerEvent

    statuses = TriggerEvent.objects.filter(tenant="demo", trigger__trigger_id=trigger_id).values_list("status",
                                                                                                      flat=True)
    return Counter(statuses)


def count_runs(stack: Stack, api: dict, source: str) -> int:
    total, cursor = 0, None
    while True:
        params = {"param.source": source, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{stack.url}/v3/workflow", params=params, headers=api).json()
        total += len(page["items"])
        cursor = page.get("nextCursor")
        if not cursor:
            return total


if __name__ == "__main__":
    main()
