"""HTTP: resolve the components, call the URL through the SSRF guard, parse, transform."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit

import requests

from apps.nodes import checks, invocation
from apps.nodes.base import NodeError, NodeType, Schema, Style, schema_ref
from apps.nodes.extensions import secret_value, token_provider
from apps.nodes.http_auth import auth_headers, credential_names, validate_auth
from apps.nodes.http_client import limited_send
from apps.nodes.retry import retry_policy_fields, validate_retry
from apps.nodes.scope import ScriptScope
from apps.nodes.values import resolve_value, validate_value_component
from core.problems import Problem
from core.redaction import redact
from core.secret_references import SecretResolver, SecretUnavailable, bad_reference_names, find_references

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
COMPONENTS = ("url", "headers", "queryParams", "body")
DEFAULT_CONTENT_TYPE = "application/json"


# --- validate -------------------------------------------------------------------------------


def validate(node: dict, path: str) -> list[Problem]:
    problems = checks.obj(node, "httpComponents", path, required=True)
    components = found if isinstance(found := node.get("httpComponents"), dict) else {}
    at = f"{path}.httpComponents"
    if not problems:
        for key in COMPONENTS:
            problems += validate_value_component(components.get(key), f"{at}.{key}", required=key == "url")
            problems += [Problem(f"{at}.{key}", f"invalid secret name {name!r} in {{{{secret:...}}}}")
                         for name in bad_reference_names(components.get(key))]
        problems += checks.one_of(components, "method", at, METHODS)
        problems += checks.string(components, "contentType", at)
    problems += checks.obj(node, "transformerComponents", path)
    transformers = node.get("transformerComponents")
    if isinstance(transformers, dict):
        problems += validate_value_component(transformers.get("transformer"),
                                             f"{path}.transformerComponents.transformer", required=False)
    problems += checks.number(node, "timeoutSeconds", path, positive=True)
    if "idempotencyKey" in node and not isinstance(node["idempotencyKey"], bool):
        problems.append(Problem(f"{path}.idempotencyKey", "must be true or false"))
    problems += validate_retry(node.get("retry"), f"{path}.retry")
    return problems + validate_auth(node.get("auth"), f"{path}.auth")


# --- execute --------------------------------------------------------------------------------


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    return call(node, scope)


def call(node: dict, scope: ScriptScope, *, mock: dict | None = None, trace: dict | None = None) -> dict:
    """Build, send (or answer from `mock`, a `{"status", "body"}` outcome) and transform.

    `{{secret:name}}` references and `auth` are resolved here and nowhere else; whatever leaves (output, error
    message, `trace`) has the resolved values masked, and a missing secret fails the node naming it. A mocked
    call resolves no secret: the request it reports keeps the references as written.
    `trace`, when given, receives the request made and the response seen (dry runs and test runs report them).
    """
    secrets = SecretResolver(scope.tenant, secret_value)
    try:
        return redact(_call(node, scope, secrets if mock is None else None, mock, trace), secrets.secrets)
    except SecretUnavailable as exc:
        raise NodeError(str(exc), retryable=False) from None
    except NodeError as exc:
        message = redact(exc.message, secrets.secrets)
        if message == exc.message:
            raise
        raise NodeError(message, retryable=exc.retryable) from None
    finally:
        if trace is not None:
            trace.update(redact(dict(trace), secrets.secrets))


def _call(node: dict, scope: ScriptScope, secrets: SecretResolver | None, mock: dict | None,
          trace: dict | None) -> dict:
    request = build_request(node, scope, secrets)
    auth = node.get("auth")
    if secrets is not None:
        request["headers"].update(auth_headers(auth, secrets))
    if node.get("idempotencyKey") and "idempotency-key" not in {name.lower() for name in request["headers"]}:
        request["headers"]["Idempotency-Key"] = _idempotency_key()  # a header the node sets itself wins
    if trace is not None:
        trace["request"] = request
    if mock is not None:
        response = mocked_response(request, mock)
    else:
        response = limited_send(request, _timeout(node))
        if response.status_code == 401 and auth and auth["type"] == "OAUTH2_CLIENT_CREDENTIALS" and secrets:
            request["headers"].update(auth_headers(auth, secrets, fresh=True))  # expired or revoked: once more
            response = limited_send(request, _timeout(node))
    if trace is not None:
        trace["response"] = {"status": response.status_code, "headers": dict(response.headers),
                             "body": parse_body(response), "mocked": mock is not None}
    _raise_for_status(response, node)
    parsed = parse_body(response)
    transformer = (node.get("transformerComponents") or {}).get("transformer")
    if transformer is None:
        return {"output": parsed}
    names = {"_response": redact(parsed, secrets.secrets) if secrets is not None else parsed,
             "_status_code": response.status_code, "_headers": {k.lower(): v for k, v in response.headers.items()}}
    return {"output": resolve_value(transformer, scope, field="transformer", extra=names)}


def build_request(node: dict, scope: ScriptScope, secrets: SecretResolver | None = None) -> dict[str, Any]:
    """The request the node would send. Without `secrets`, `{{secret:name}}` references stay as written
    (what a preview such as a dry-run shows); `auth` headers are added by the caller."""
    resolve = secrets.resolve if secrets is not None else (lambda value: value)
    if secrets is not None:
        scope = _shielded(scope, secrets)
    components = node.get("httpComponents") or {}
    url = resolve(resolve_value(components.get("url"), scope, field="httpComponents.url"))
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise NodeError(f"httpComponents.url: {url!r} is not an http(s) URL")
    content_type = components.get("contentType") or DEFAULT_CONTENT_TYPE
    headers = _string_map(resolve(resolve_value(components.get("headers"), scope, field="httpComponents.headers")),
                          "headers")
    headers.setdefault("Content-Type", content_type)
    headers.update(token_provider().headers(node, scope) or {})
    params = _string_map(resolve(resolve_value(components.get("queryParams"), scope,
                                               field="httpComponents.queryParams")), "queryParams")
    body = resolve(resolve_value(components.get("body"), scope, field="httpComponents.body"))
    return {"method": (components.get("method") or "GET").upper(), "url": url, "headers": headers,
            "params": params, "data": _encode_body(body, content_type)}


def _shielded(scope: ScriptScope, secrets: SecretResolver) -> ScriptScope:
    """The scope with run data's `{{secret:...}}` text made inert: only the definition's text references secrets."""
    return dataclasses.replace(scope, context=secrets.shield(scope.context),
                               node_parameters=secrets.shield(scope.parameters()))


def _string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NodeError(f"httpComponents.{field}: must resolve to an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items() if v is not None}


def _encode_body(body: Any, content_type: str) -> bytes | str | None:
    if body is None or isinstance(body, bytes | str):
        return body
    if "json" in content_type.lower():
        return json.dumps(body)
    if isinstance(body, dict) and "x-www-form-urlencoded" in content_type.lower():
        from urllib.parse import urlencode

        return urlencode(body)
    return json.dumps(body)


def _timeout(node: dict) -> float:
    from apps.nodes import settings

    return float(node.get("timeoutSeconds") or settings.http_default_timeout_seconds())


def _idempotency_key() -> str:
    """Derived from the original run, the state and its execution ordinal (apps/nodes/invocation.py); outside an
    activity (a dry run's preview) there is no run: a placeholder says what would be sent."""
    current = invocation.current()
    return current.idempotency_key() if current is not None and current.original_workflow_id else "<per run>"


def mocked_response(request: dict[str, Any], mock: dict) -> requests.Response:
    """A response built from a mock outcome, as if the server had sent it (JSON unless the body is text)."""
    response = requests.Response()
    response.status_code = int(mock.get("status", 200))
    body = mock.get("body")
    text = isinstance(body, str)
    response._content = b"" if body is None else (body if text else json.dumps(body)).encode()
    response.headers["Content-Type"] = "text/plain" if text else "application/json"
    response.url = request["url"]
    response.request = requests.Request(request["method"], request["url"]).prepare()
    return response


def _raise_for_status(response: requests.Response, node: dict) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"HTTP {response.request.method} {response.url} returned {status}: {response.text[:500]}"
    used = credential_names(node.get("auth")) + find_references(node.get("httpComponents"))
    if status in (401, 403) and used:
        message += f" (credentials from secret {', '.join(repr(name) for name in used)})"
    if status >= 500:
        raise NodeError(message, retryable=True)
    raise NodeError(message, retryable=bool(retry_policy_fields(node)["retryOn4xx"]))


def parse_body(response: requests.Response) -> Any:
    """JSON when the response says so (or when it has no content type and parses), else text."""
    if not response.content:
        return None
    content_type = response.headers.get("Content-Type", "").lower()
    if "json" in content_type or not content_type:
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


# I/O: a regular activity with the node's retry policy; a test case must mock it (it would call out).
SCHEMA = Schema("Calls a URL; output = the transformer's result (or the parsed response).", {
    "httpComponents": {"type": "object", "required": ["url"], "properties": {
        **{key: schema_ref("ValueComponent") for key in COMPONENTS},
        "method": {"enum": list(METHODS)}, "contentType": {"type": "string"}}},
    "transformerComponents": {"type": "object", "properties": {"transformer": schema_ref("ValueComponent")}},
    "timeoutSeconds": {"type": "number", "exclusiveMinimum": 0},
    "retry": schema_ref("Retry"),
    "idempotencyKey": {"type": "boolean", "description": "Send an Idempotency-Key header, the same across the "
                       "activity's retries and a redrive from this node."},
}, ("httpComponents",))
NODE_TYPE = NodeType("HTTP", validate, execute, remote=True, disconnectable=True, after_completion=True,
                     must_mock=True, call=call, style=Style("box", "#e3f2fd"), schema=SCHEMA)
