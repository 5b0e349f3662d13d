"""HTTP node `auth`: credentials from the tenant's secrets, applied inside the HTTP activity only.

```
{"type": "BASIC", "username": "svc" | "{{secret:u}}", "password": "{{secret:p}}"}
{"type": "BEARER", "token": "{{secret:t}}"}
{"type": "API_KEY", "header": "X-Api-Key", "value": "{{secret:k}}"}
{"type": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": "https://idp/token", "clientId": "crm" | "{{secret:id}}",
 "clientSecret": "{{secret:cs}}", "scope": "orders.read", "audience": "..."}
```
OAuth2 tokens are fetched once and shared by every run through the cache (Redis, encrypted) until shortly
before they expire; a 401 from the target drops the cached token and the call is retried once with a new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from apps.nodes import settings
from apps.nodes.base import NodeError
from apps.nodes.extensions import secret_store
from apps.nodes.http_client import send
from core.problems import Problem
from core.secret_references import SecretResolver, bad_reference_names, find_references, is_reference

AUTH_TYPES = {
    "BASIC": {"username": False, "password": True},
    "BEARER": {"token": True},
    "API_KEY": {"header": False, "value": True},
    "OAUTH2_CLIENT_CREDENTIALS": {"tokenUrl": False, "clientId": False, "clientSecret": True},
}
OPTIONAL = {"OAUTH2_CLIENT_CREDENTIALS": ("scope", "audience")}
_locks_guard = threading.Lock()
_fetch_locks: dict[str, threading.Lock] = {}


def _fetch_lock(key: str) -> threading.Lock:
    """One lock per token: concurrent nodes of this process wait for one fetch instead of each fetching."""
    with _locks_guard:
        return _fetch_locks.setdefault(key, threading.Lock())


# --- validate -------------------------------------------------------------------------------


def validate_auth(auth: Any, path: str) -> list[Problem]:
    """Problems of an `auth` object; credentials must be `{{secret:name}}` references, never clear text."""
    if auth is None:
        return []
    if not isinstance(auth, dict):
        return [Problem(path, "must be an object {type, ...}")]
    kind = auth.get("type")
    if kind not in AUTH_TYPES:
        return [Problem(f"{path}.type", f"must be one of {', '.join(AUTH_TYPES)}")]
    problems = []
    for name, must_be_secret in AUTH_TYPES[kind].items():
        value = auth.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(f"{path}.{name}", "is required (a string)"))
        elif must_be_secret and not is_reference(value):
            problems.append(Problem(f"{path}.{name}", "must be a secret reference {{secret:name}}"))
        problems += [Problem(f"{path}.{name}", f"invalid secret name {bad!r}") for bad in bad_reference_names(value)]
    for name in OPTIONAL.get(kind, ()):
        if auth.get(name) is not None and not isinstance(auth.get(name), str):
            problems.append(Problem(f"{path}.{name}", "must be a string"))
    token_url = auth.get("tokenUrl")
    if kind == "OAUTH2_CLIENT_CREDENTIALS" and isinstance(token_url, str) and urlsplit(token_url).scheme not in (
            "http", "https"):
        problems.append(Problem(f"{path}.tokenUrl", "must be an http(s) URL"))
    return problems


# --- apply ----------------------------------------------------------------------------------


def auth_headers(auth: dict | None, secrets: SecretResolver, *, fresh: bool = False) -> dict[str, str]:
    """The headers `auth` adds; `fresh` forces a new OAuth2 token (after a 401)."""
    if not auth:
        return {}
    kind = auth["type"]
    if kind == "BASIC":
        pair = f"{secrets.resolve(auth['username'])}:{secrets.resolve(auth['password'])}"
        return {"Authorization": "Basic " + secrets.derive(base64.b64encode(pair.encode()).decode())}
    if kind == "BEARER":
        return {"Authorization": f"Bearer {secrets.resolve(auth['token'])}"}
    if kind == "API_KEY":
        return {auth["header"]: secrets.resolve(auth["value"])}
    return {"Authorization": f"Bearer {oauth2_token(auth, secrets, fresh=fresh)}"}


def credential_names(auth: dict | None) -> list[str]:
    return find_references(auth or {})


def _cache_key(auth: dict, secrets: SecretResolver, client_id: str, client_secret: str) -> str:
    # The secret's hash is part of the key: a changed client secret never reuses the old token.
    material = json.dumps([secrets.tenant, auth["tokenUrl"], client_id, auth.get("scope"), auth.get("audience"),
                           hashlib.sha256(client_secret.encode()).hexdigest()])
    return "drift:oauth2:" + hashlib.sha256(material.encode()).hexdigest()


def oauth2_token(auth: dict, secrets: SecretResolver, *, fresh: bool = False) -> str:
    client_id, client_secret = secrets.resolve(auth["clientId"]), secrets.resolve(auth["clientSecret"])
    key = _cache_key(auth, secrets, client_id, client_secret)
    cache = settings.shared_cache()
    with _fetch_lock(key):  # other processes share the cached result
        cached = None if fresh else cache.get(key)
        if cached is None:
            token, lifetime = _fetch_token(auth, client_id, client_secret)
            cache.set(key, secret_store().encrypt(token.encode()), timeout=lifetime)
        else:
            token = secret_store().decrypt(cached).decode()
    return secrets.derive(token)  # masked in traces, errors and log lines like the secrets it came from


def _fetch_token(auth: dict, client_id: str, client_secret: str) -> tuple[str, int]:
    form = {"grant_type": "client_credentials", "scope": auth.get("scope"), "audience": auth.get("audience")}
    request = {
        "method": "POST", "url": auth["tokenUrl"], "auth": (client_id, client_secret),
        "data": {name: value for name, value in form.items() if value},
        "headers": {"Accept": "application/json"},
    }
    names = ", ".join(f"'{name}'" for name in credential_names(auth))
    response = send(request, settings.http_default_timeout_seconds())
    if response.status_code >= 400:
        raise NodeError(f"OAuth2 token request to {auth['tokenUrl']} returned {response.status_code} "
                        f"(credentials from secret {names})", retryable=response.status_code >= 500)
    try:
        body = response.json()
        token, expires_in = body["access_token"], int(body.get("expires_in") or 300)
    except (ValueError, KeyError, TypeError):
        raise NodeError(f"OAuth2 token response of {auth['tokenUrl']} has no access_token") from None
    if not isinstance(token, str) or not token:
        raise NodeError(f"OAuth2 token response of {auth['tokenUrl']} has no access_token")
    return token, max(1, expires_in - settings.oauth_expiry_margin_seconds())
