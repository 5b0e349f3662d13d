"""Run search benchmark (spec §10): 1,000,000 Run rows, searches by customer id and by a params field.

    .venv/bin/python bench/search.py [--rows 1000000] [--engines sqlite,mysql] [--queries 200]

For each engine it makes a fresh database (a SQLite file; a throwaway MariaDB from devtools.services), migrates
it, bulk-inserts the rows (raw multi-row INSERTs: 20 tenants, ~5 runs per customer, every run with a unique
`orderId` and one of 10 `region` params, so 2 RunParam rows per run), runs ANALYZE, then times the search the
API runs (`selectors.run_search`: the first page of 50, serialised) and prints p50/p99 and the query plans.
Each engine runs in a child process of this script, so Django is configured for that database alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANTS = [f"tenant-{n:02d}" for n in range(20)]
REGIONS = [f"region-{n}" for n in range(10)]
RUNS_PER_CUSTOMER = 5
BATCH = 5000


def _customer(n: int) -> str:
    return f"cust-{n // RUNS_PER_CUSTOMER:07d}"


def _order(n: int) -> str:
    return f"o-{n:08d}"


def load(rows: int) -> float:
    """Insert `rows` runs and their params; returns the seconds it took."""
    from django.db import connection, transaction

    from apps.runs.models import Run, RunParam

    run_fields = [f for f in Run._meta.concrete_fields if not f.primary_key]
    base = {f.column: f.get_db_prep_save(f.get_default(), connection) for f in run_fields}
    columns = [f.column for f in run_fields]
    quote = connection.ops.quote_name
    run_sql = (f"INSERT INTO {quote(Run._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
               f"VALUES ({', '.join(['%s'] * len(columns))})")
    param_sql = f"INSERT INTO {quote(RunParam._meta.db_table)} (run_id, tenant, name, value) VALUES (%s, %s, %s, %s)"
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for first in range(0, rows, BATCH):
        numbers = range(first, min(first + BATCH, rows))
        run_rows, param_rows = [], []
        for n in numbers:
            tenant = TENANTS[n % len(TENANTS)]
            created = epoch + timedelta(seconds=n * 30)
            row = base | {
                "workflow_id": f"run-{n:08d}", "tenant": tenant, "client_id": "bench", "customer_id": _customer(n),
                "incident_id": f"inc-{n:08d}", "definition_key": f"flow-{n % 7}", "definition_version": 1,
                "status": "COMPLETED" if n % 10 else "FAILED", "created_at": created, "updated_at": created,
                "start_request": json.dumps({"start": {"params": {"orderId": _order(n), "region": REGIONS[n % 10]}}}),
            }
            run_rows.append([row[c] for c in columns])
            param_rows += [(n + 1, tenant, "orderId", _order(n)), (n + 1, tenant, "region", REGIONS[n % 10])]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(run_sql, run_rows)
            cursor.executemany(param_sql, param_rows)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
        else:
            cursor.execute(f"ANALYZE TABLE {quote(Run._meta.db_table)}, {quote(RunParam._meta.db_table)}")
            cursor.fetchall()
    return time.perf_counter() - started


def explain(filters: dict[str, str]) -> str:
    from django.db import connection

    from apps.runs.search import search_filter_parse
    from apps.runs.selectors import runs_matching

    tenant = TENANTS[0]
    query = runs_matching(search_filter_parse(filters), tenant=tenant)[:51]
    sql, params = query.query.sql_with_params()
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return "\n".join("    " + " | ".join(str(cell) for cell in row) for row in cursor.fetchall())


def measure(name: str, make_filters, queries: int) -> dict:
    from apps.runs.search import search_filter_parse
    from apps.runs.selectors import run_search

    timings, found = [], 0
    for _ in range(queries):
        n = random.randrange(ROWS)
        filters = make_filters(n)
        started = time.perf_counter()
        page = run_search(tenant=TENANTS[n % len(TENANTS)], run_filter=search_filter_parse(filters), after=None,
                          limit=50)
        timings.append((time.perf_counter() - started) * 1000)
        found += len(page["items"])
    timings.sort()
    return {"search": name, "p50_ms": round(statistics.median(timings), 2),
            "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2), "avg_items": round(found / queries, 1),
            "plan": explain(make_filters(0))}


SEARCHES = {
    "customerId": lambda n: {"customerId": _customer(n)},
    "param.orderId": lambda n: {"param.orderId": _order(n)},
    "param.region (10% of the tenant)": lambda n: {"param.region": REGIONS[n % 10]},
    "customerId + status": lambda n: {"customerId": _customer(n), "status": "COMPLETED"},
}
ROWS = 0


def child(rows: int, queries: int) -> None:
    """One engine: migrate, load, measure; prints one JSON line."""
    global ROWS
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    ROWS = rows
    seconds = load(rows)
    results = [measure(name, make, queries) for name, make in SEARCHES.items()]
    print(json.dumps({"engine": connection.vendor, "rows": rows, "load_seconds": round(seconds, 1),
                      "results": results}))


def _mariadb_url(data_dir: Path):
    import MySQLdb

    from devtools.services import start_mariadb

    service = start_mariadb(data_dir)
    connection = MySQLdb.connect(host="127.0.0.1", port=service.port, user="root")
    connection.cursor().execute("CREATE DATABASE drift CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    connection.close()
    return service, service.url


def run_engine(engine: str, rows: int, queries: int) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"drift-search-{engine}-"))
    service = None
    if engine == "sqlite":
        url = f"sqlite:///{data_dir / 'search.sqlite3'}"
    else:
        service, url = _mariadb_url(data_dir)
    env = os.environ | {"DATABASE_URL": url, "DRIFT_VAR_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "drift.settings",
                        "REDIS_URL": "", "DRIFT_LOG_LEVEL": "WARNING"}
    try:
        output = subprocess.run([sys.executable, __file__, "--child", "--rows", str(rows), "--queries", str(queries)],
                                env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    finally:
        if service is not None:
            service.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return json.loads(output.strip().splitlines()[-1])


def report(result: dict) -> None:
    print(f"\n== {result['engine']}: {result['rows']:,} runs loaded in {result['load_seconds']} s")
    for row in result["results"]:
        print(f"  {row['search']:<34} p50 {row['p50_ms']:>7} ms   p99 {row['p99_ms']:>7} ms   "
              f"({row['avg_items']} runs per page)")
    for row in result["results"]:
        print(f"  plan, {row['search']}:\n{row['plan']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,mysql")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.rows, args.queries)
        return
    for engine in args.engines.split(","):
        report(run_engine(engine, args.rows, args.queries))


if __name__ == "__main__":
    main()
