"""The `retry` field of HTTP nodes and its defaults (the worker maps it to a Temporal RetryPolicy).

Plain Python: workflow code imports `retry_policy_fields`.
"""

from __future__ import annotations

from typing import Any

from apps.nodes import checks
from core.problems import Problem

RETRY_DEFAULTS: dict[str, Any] = {
    "maxAttempts": 3,
    "initialIntervalSeconds": 1.0,
    "backoffCoefficient": 2.0,
    "maximumIntervalSeconds": 30.0,
    "retryOn4xx": False,
}


MAX_ATTEMPTS = 1000


def validate_retry(retry: Any, path: str) -> list[Problem]:
    if retry is None:
        return []
    if not isinstance(retry, dict):
        return [Problem(path, "must be an object")]
    valid = ", ".join(RETRY_DEFAULTS)
    problems = [Problem(f"{path}.{key}", f"is not a retry setting; valid keys: {valid}")
                for key in retry if key not in RETRY_DEFAULTS]
    attempts = retry.get("maxAttempts")
    if attempts is not None and (not isinstance(attempts, int) or isinstance(attempts, bool)
                                 or not 1 <= attempts <= MAX_ATTEMPTS):  # Temporal holds it in an int32
        problems.append(Problem(f"{path}.maxAttempts", f"must be an integer from 1 to {MAX_ATTEMPTS}"))
    problems += checks.number(retry, "initialIntervalSeconds", path, positive=True)
    problems += checks.number(retry, "backoffCoefficient", path, minimum=1)
    problems += checks.number(retry, "maximumIntervalSeconds", path, positive=True)
    if retry.get("retryOn4xx") is not None and not isinstance(retry.get("retryOn4xx"), bool):
        problems.append(Problem(f"{path}.retryOn4xx", "must be true or false"))
    return problems


def retry_policy_fields(node: dict) -> dict[str, Any]:
    """The node's retry settings with defaults filled in (keys as in the DSL)."""
    retry = found if isinstance(found := node.get("retry"), dict) else {}
    return {key: retry.get(key, default) if retry.get(key) is not None else default
            for key, default in RETRY_DEFAULTS.items()}
