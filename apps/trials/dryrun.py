"""Dry-run one node (spec §9): run it once outside any run and report what it did.

The node executes exactly as in a run (same node type code, the real script sandbox, the HTTP SSRF guard);
a remote type's traced call (`NodeType.call`: HTTP) reports the request and response, and given a `mock`
answers from it instead of calling out. No type is named here.
"""

from __future__ import annotations

import re
from typing import Any

from apps.definitions.models import Kind
from apps.definitions.selectors import definition_get, enum_store_for
from apps.definitions.versions import VersionSpec
from apps.nodes.base import NodeError
from apps.nodes.registry import execute_node, kind_of, types_where
from apps.nodes.scope import ScriptScope
from apps.secrets.selectors import secret_values
from apps.trials.masking import mask_secrets
from core.problems import Problem
from core.redaction import redacting
from drift.errors import InvalidInput

_LINE = re.compile(r"\b[Ll]ine (\d+)\b")


def script_line(message: str) -> int | None:
    """The script line a sandbox error names ("... (line 3)" at run time, "Line 3: ..." at compile time)."""
    found = _LINE.search(message)
    return int(found.group(1)) if found else None


def node_dry_run(*, tenant: str, key: str, version: VersionSpec, context: dict[str, Any],
                 parameters: dict[str, Any] | None = None, mock: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report of one execution: `{ok, node, version, type, outcome | error, request?, response?}`."""
    node = definition_get(tenant=tenant, kind=Kind.NODE, key=key, version=version)
    scope = ScriptScope(context=context, enum_store=enum_store_for(tenant=tenant), node_parameters=parameters,
                        tenant=tenant)
    if mock is not None and not kind_of(node).response_mocks:
        needed = " or ".join(types_where("response_mocks"))
        raise InvalidInput(f"Only an {needed} node takes a mock.", [Problem("$.mock", f"a {node.get('type')} node "
                                                                                      "makes no call to mock")])
    report: dict[str, Any] = {"node": key, "version": node.get("version"), "type": node.get("type")}
    # As in the worker: log lines written meanwhile (urllib3's request line, a URL with a key) are scrubbed of
    # the tenant's secrets and of every credential the call derives from them.
    with redacting(secret_values(tenant=tenant)):
        report |= _execute(node, scope, mock)
    return mask_secrets(report, tenant=tenant)


def _execute(node: dict[str, Any], scope: ScriptScope, mock: dict[str, Any] | None) -> dict[str, Any]:
    trace: dict[str, Any] = {}
    try:
        # A type with a call is traced: the report shows the request made and the response seen (or mocked).
        call = kind_of(node).call
        outcome = call(node, scope, mock=mock, trace=trace) if call is not None else execute_node(node, {}, scope)
        return {"ok": True, "outcome": outcome, **trace}
    except NodeError as error:
        return {"ok": False, "error": {"message": error.message, "line": script_line(error.message),
                                       "retryable": error.retryable}, **trace}
