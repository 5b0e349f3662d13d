"""Liveness and readiness: /readyz checks the database, Redis and Temporal on every call."""

import asyncio

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django_redis import get_redis_connection


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    if settings.REDIS_URL:
        get_redis_connection("default").ping()


def _check_temporal() -> None:
    from drift.temporal import temporal_client

    async def probe() -> None:
        client = await temporal_client()
        await asyncio.wait_for(client.service_client.check_health(), timeout=2)

    from drift.temporal import run_async

    run_async(probe())


CHECKS = {"database": _check_database, "redis": _check_redis, "temporal": _check_temporal}


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a readiness probe reports every failure, whatever its type
            results[name] = f"down: {type(exc).__name__}: {exc}"[:300]
    ready = all(value == "ok" for value in results.values())
    return JsonResponse({"ready": ready, "checks": results}, status=200 if ready else 503)
