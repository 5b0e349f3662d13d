"""QUOTE, a test-only remote node type (the "remote with mocks" family): the whole type in one module.

`{"type": "QUOTE", "url": "http://host/quote", "symbol": "$.params.symbol"}` asks the URL for the symbol's price
(`GET url?symbol=...` answering `{"price": n}`); output `{"symbol", "price"}`. `remote`: the worker runs it as a
regular activity with retries; `must_mock`: a test case never calls out; `call`: how it runs under a test case's
response mock `{"status", "body"}` (the worker) and traced in a dry-run (apps/trials/dryrun.py)."""

from __future__ import annotations

from typing import Any

import requests

from apps.nodes import checks
from apps.nodes.base import NodeError, NodeType, Style
from apps.nodes.http_guard import BlockedAddress, guarded_session
from apps.nodes.scope import ScriptScope
from core.problems import Problem


def validate(node: dict, path: str) -> list[Problem]:
    return checks.string(node, "url", path, required=True) + checks.string(node, "symbol", path, required=True)


def call(node: dict, scope: ScriptScope, *, mock: dict | None = None, trace: dict | None = None) -> dict:
    symbol = scope.lookup(node["symbol"])
    request = {"method": "GET", "url": node["url"], "params": {"symbol": symbol}}
    if trace is not None:
        trace["request"] = request
    status, body = (int(mock.get("status", 200)), mock.get("body")) if mock is not None else _send(request)
    if trace is not None:
        trace["response"] = {"status": status, "body": body, "mocked": mock is not None}
    if status >= 400:
        raise NodeError(f"QUOTE {symbol}: the quote service answered {status}", retryable=status >= 500)
    if not isinstance(body, dict) or not isinstance(body.get("price"), int | float):
        raise NodeError(f"QUOTE {symbol}: no price in {body!r}")
    return {"output": {"symbol": symbol, "price": body["price"]}}  # parsed the same for a mock and a real answer


def _send(request: dict[str, Any]) -> tuple[int, Any]:
    try:
        with guarded_session() as session:  # the SSRF guard, as for HTTP nodes
            response = session.request(timeout=5, **request)
    except BlockedAddress as exc:
        raise NodeError(str(exc)) from None
    except requests.RequestException as exc:
        raise NodeError(f"QUOTE {request['url']}: {exc}", retryable=True) from None
    return response.status_code, response.json() if response.content else None


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    return call(node, scope)


NODE_TYPE = NodeType("QUOTE", validate, execute, remote=True, must_mock=True, call=call,
                     style=Style("box", "#e8f5e9"))
