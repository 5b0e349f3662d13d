"""Another process reading definitions through its own two-layer cache (apps/definitions/tests/cache_reader.py),
and the node it reads: what the cache invalidation tests (SQLite, MariaDB, Redis Sentinel) change under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from devtools.testing.processes import database_url

TENANT = "acme"
NODE = {"id": "done", "name": "Completed", "type": "SUCCESS", "comment": "v0"}


class Reader:
    """The other process, reading through its own two-layer cache."""

    def __init__(self, **redis_env: str) -> None:
        redis_env = redis_env or {"REDIS_URL": settings.REDIS_URL}
        env = {**os.environ, "DATABASE_URL": database_url(), **redis_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "apps.definitions.tests.cache_reader"], cwd=settings.BASE_DIR, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self._line() == {"ready": True}

    def _line(self) -> dict:
        line = self.process.stdout.readline()
        assert line, f"reader exited with {self.process.poll()}"
        return json.loads(line)

    def read(self) -> dict:
        self.process.stdin.write(json.dumps({"tenant": TENANT, "key": "done"}) + "\n")
        self.process.stdin.flush()
        return self._line()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
