"""Authentication of inbound hooks (spec §13): HMAC-SHA256 over the raw body (GitHub's and Stripe's shape) or
a bearer token, each from a tenant secret. Checked before the body is parsed; every comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any

from apps.secrets.selectors import SecretUnavailable, secret_list, secret_value
from core.problems import Problem

HMAC, TOKEN = "HMAC_SHA256", "TOKEN"
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
_FIELDS = {HMAC: {"kind", "header", "secret", "prefix", "timestampHeader", "toleranceSeconds"},
           TOKEN: {"kind", "secret"}}
DEFAULT_TOLERANCE_SECONDS = 300


def auth_problems(auth: Any, *, tenant: str, where: str = "$.auth") -> list[Problem]:
    """What is wrong with a trigger's `auth` (the secret must exist for the tenant)."""
    if not isinstance(auth, dict):
        return [Problem(where, "must be a JSON object")]
    kind = auth.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        return [Problem(f"{where}.kind", f"must be {HMAC} or {TOKEN}")]
    problems = [Problem(f"{where}.{name}", "is not a field of this kind") for name in sorted(set(auth) - _FIELDS[kind])]
    secret = auth.get("secret")
    if not isinstance(secret, str) or not secret:
        problems.append(Problem(f"{where}.secret", "must name a secret"))
    elif not secret_list(tenant=tenant).filter(name=secret).exists():
        problems.append(Problem(f"{where}.secret", f"no secret '{secret[:100]}' for this tenant"))
    if kind == HMAC:
        for name in ("header", "timestampHeader"):
            value = auth.get(name)
            if (name == "header" or value is not None) and not (isinstance(value, str) and _HEADER.fullmatch(value)):
                problems.append(Problem(f"{where}.{name}", "must be an HTTP header name"))
        prefix = auth.get("prefix", "")
        if not isinstance(prefix, str) or len(prefix) > 50 or not prefix.isascii():
            problems.append(Problem(f"{where}.prefix", "must be a short ASCII string (e.g. 'sha256=')"))
        tolerance = auth.get("toleranceSeconds", DEFAULT_TOLERANCE_SECONDS)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 1 <= tolerance <= 86_400:
            problems.append(Problem(f"{where}.toleranceSeconds", "must be an integer from 1 to 86400"))
    return problems


def hmac_hex(secret: str, raw: bytes, timestamp: str | None = None) -> str:
    """Lower-case hex HMAC-SHA256 of the raw body; with a timestamp scheme, of `<timestamp>.<body>`."""
    signed = raw if timestamp is None else timestamp.encode() + b"." + raw
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def authentic(auth: dict[str, Any], *, tenant: str, raw: bytes, headers: Mapping[str, str],
              query: Mapping[str, str], now: float | None = None) -> bool:
    """Whether the request carries the trigger's signature or token. A secret that vanished refuses all."""
    try:
        secret = secret_value(tenant=tenant, name=auth["secret"])
    except SecretUnavailable:
        return False
    if auth["kind"] == TOKEN:
        scheme, _, bearer = headers.get("Authorization", "").partition(" ")
        given = (bearer.strip() if scheme.lower() == "bearer" else "") or query.get("token", "")
        return bool(given) and hmac.compare_digest(given.encode(), secret.encode())
    timestamp = None
    if auth.get("timestampHeader"):
        timestamp = headers.get(auth["timestampHeader"], "")
        tolerance = auth.get("toleranceSeconds", DEFAULT_TOLERANCE_SECONDS)
        # A replayed request (an old timestamp, its signature still valid) is refused like a wrong signature.
        if not timestamp.isascii() or not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > tolerance:
            return False
    expected = (auth.get("prefix") or "") + hmac_hex(secret, raw, timestamp)
    return hmac.compare_digest(headers.get(auth["header"], "").encode(), expected.encode())
