"""Bad input over every runtime endpoint: always a 4xx with a clear JSON error, never a 500."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from devtools.testing.rest import client_for, start_order

pytestmark = pytest.mark.temporal


@dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    body: Any = None
    raw: bytes | None = None  # sent as-is (malformed JSON, oversized)
    content_type: str = "application/json"
    client: str = "api"  # which client of `clients` sends it
    path_in_details: str | None = None  # a details[].path the error must name
    message_has: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _corpus(waiting: str, ended: str) -> list[Case]:
    start, resume = "/v3/workflow/start", f"/v3/workflow/resume/{waiting}"
    order = {"issueDetail": {"issueId": "order_status"}, "params": {"orderId": "1"}}
    return [
        # body shape
        Case("malformed json", "post", start, 400, raw=b'{"issueDetail": ', message_has="JSON"),
        Case("body is a list", "post", start, 400, body=[1, 2], path_in_details="$"),
        Case("params not an object", "post", start, 400, body={**order, "params": "x"}, path_in_details="$.params"),
        Case("customer not an object", "post", start, 400, body={**order, "customer": [1]},
             path_in_details="$.customer"),
        Case("unknown mode", "post", start, 400, body={**order, "mode": "FAST"}, path_in_details="$.mode"),
        Case("bad workflowId", "post", start, 400, body={**order, "workflowId": "a b/c"},
             path_in_details="$.workflowId"),
        Case("non-http callback", "post", start, 400, body={**order, "callbackUrl": "ftp://x.example/h"},
             path_in_details="$.callbackUrl"),
        Case("misspelt field", "post", start, 400, body={**order, "worklowId": "x"}, path_in_details="$.worklowId"),
        Case("neither issue nor workflow", "post", start, 400, body={"params": {"orderId": 1}},
             path_in_details="$.issueDetail.issueId"),
        Case("issueId wrong type", "post", start, 400, body={"issueDetail": {"issueId": ["x"]}},
             path_in_details="$.issueDetail.issueId"),
        Case("SNAPSHOT cannot run", "post", start, 400,
             body={"params": {"workflowId": "order_status", "version": "SNAPSHOT"}},
             path_in_details="$.params.version"),
        Case("non-ASCII version digits", "post", start, 400,
             body={"params": {"workflowId": "order_status", "version": "\u00b2"}}, path_in_details="$.params.version"),
        Case("oversized body", "post", start, 413,
             raw=json.dumps({**order, "config": {"x": "y" * 1_100_000}}).encode()),
        Case("wrong content type", "post", start, 415, raw=b"issueId=x", content_type="text/plain"),
        Case("GET on start", "get", start, 405),
        # unknown things
        Case("unknown workflow", "post", start, 404, body={"params": {"workflowId": "nope"}}, message_has="nope"),
        Case("unknown version", "post", start, 404, body={"params": {"workflowId": "order_status", "version": 99}}),
        Case("unknown issue", "post", start, 404, body={"issueDetail": {"issueId": "nope"}}, message_has="nope"),
        Case("get unknown run", "get", "/v3/workflow/nope", 404, message_has="nope"),
        Case("resume unknown run", "put", "/v3/workflow/resume/nope", 404, body={"viewResponse": {}}),
        Case("terminate unknown run", "delete", "/v3/workflow/terminate/nope", 404),
        Case("event to unknown run", "post", "/v3/workflow/nope/event/paid", 404, body={}),
        Case("disconnected on unknown run", "post", "/v3/workflow/nope/disconnected-node/execute", 404,
             body={"node": "x"}),
        Case("event the workflow never waits for", "post", f"/v3/workflow/{waiting}/event/nope", 404, body={},
             message_has="nope"),
        Case("unknown disconnected node", "post", f"/v3/workflow/{waiting}/disconnected-node/execute", 404,
             body={"node": "nope"}, message_has="nope"),
        # state conflicts
        Case("resume a finished run", "put", f"/v3/workflow/resume/{ended}", 409,
             body={"viewResponse": {"selectedOptions": {}}}, message_has="COMPLETED"),
        Case("terminate a finished run", "delete", f"/v3/workflow/terminate/{ended}", 409),
        Case("event to a finished run", "post", f"/v3/workflow/{ended}/event/paid", 409, body={"a": 1}),
        # per-endpoint body checks
        Case("resume without viewResponse", "put", resume, 400, body={"params": {}}, path_in_details="$.viewResponse"),
        Case("selectedOptions not an object", "put", resume, 400, body={"viewResponse": {"selectedOptions": [1]}},
             path_in_details="$.viewResponse.selectedOptions"),
        Case("resume body malformed", "put", resume, 400, raw=b"{]"),
        Case("terminate reason wrong type", "delete", f"/v3/workflow/terminate/{waiting}", 400,
             body={"reason": ["x"]}, path_in_details="$.reason"),
        Case("disconnected without node", "post", f"/v3/workflow/{waiting}/disconnected-node/execute", 400,
             body={"parameters": {}}, path_in_details="$.node"),
        Case("disconnected parameters wrong type", "post", f"/v3/workflow/{waiting}/disconnected-node/execute", 400,
             body={"node": "x", "parameters": "qty=1"}, path_in_details="$.parameters"),
        Case("event body malformed", "post", f"/v3/workflow/{waiting}/event/paid", 400, raw=b"{x"),
        Case("includeContext not a boolean", "get", f"/v3/workflow/{waiting}?includeContext=maybe", 400,
             path_in_details="$.query.includeContext"),
        # auth, scope, headers
        Case("no credentials", "get", f"/v3/workflow/{waiting}", 401, client="anonymous"),
        Case("unknown key", "get", f"/v3/workflow/{waiting}", 401, client="bad_key"),
        Case("malformed authorization", "get", f"/v3/workflow/{waiting}", 401, client="malformed_auth"),
        Case("definitions-only key", "post", start, 403, body=order, client="definitions_only", message_has="runtime"),
        Case("runtime key on the definition API", "get", "/workflowDefinition/order_status", 403,
             client="runtime_only"),
        Case("another tenant's header", "get", f"/v3/workflow/{waiting}", 403, client="foreign_tenant_header"),
        Case("another client's header", "get", f"/v3/workflow/{waiting}", 403, client="foreign_client_header"),
        Case("missing tenant header", "post", start, 400, body=order, client="no_tenant_header",
             path_in_details="X-Tenant-Id"),
        Case("missing client header", "get", f"/v3/workflow/{waiting}", 400, client="no_client_header",
             path_in_details="X-Client-Id"),
        Case("unknown extra headers are ignored", "get", f"/v3/workflow/{waiting}", 200,
             extra={"HTTP_X_SOMETHING_ELSE": "1", "HTTP_X_TENANT_NAME": "zzz"}),
    ]


def _clients(api: APIClient, tenant: str) -> dict[str, APIClient]:
    def raw(**credentials: str) -> APIClient:
        client = APIClient()
        client.credentials(**credentials)
        return client

    key = api._credentials["HTTP_AUTHORIZATION"]
    headers = {"HTTP_X_TENANT_ID": tenant, "HTTP_X_CLIENT_ID": "tests"}
    return {
        "api": api,
        "anonymous": raw(**headers),
        "bad_key": raw(HTTP_AUTHORIZATION="Api-Key drift_000000000000.nope", **headers),
        "malformed_auth": raw(HTTP_AUTHORIZATION="Api-Key", **headers),
        "definitions_only": client_for(tenant, "defs", scopes=("definitions",)),
        "runtime_only": client_for(tenant, "rt", scopes=("runtime",)),
        "foreign_tenant_header": raw(HTTP_AUTHORIZATION=key, HTTP_X_TENANT_ID=f"{tenant}-x", HTTP_X_CLIENT_ID="tests"),
        "foreign_client_header": raw(HTTP_AUTHORIZATION=key, HTTP_X_TENANT_ID=tenant, HTTP_X_CLIENT_ID="other"),
        "no_tenant_header": raw(HTTP_AUTHORIZATION=key, HTTP_X_CLIENT_ID="tests"),
        "no_client_header": raw(HTTP_AUTHORIZATION=key, HTTP_X_TENANT_ID=tenant),
    }


def _send(client: APIClient, case: Case):
    call = getattr(client, case.method)
    if case.raw is not None:
        return call(case.path, data=case.raw, content_type=case.content_type, **case.extra)
    if case.body is not None:
        return call(case.path, case.body, format="json", **case.extra)
    return call(case.path, **case.extra)


def _mismatch(case: Case, response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return f"{case.name}: not JSON: {response.content[:200]!r}"
    if response.status_code != case.status:
        return f"{case.name}: {response.status_code} != {case.status}: {body}"
    if case.status < 300:
        return None
    if not (isinstance(body, dict) and body.get("error") and body.get("message")):
        return f"{case.name}: no error/message: {body}"
    if case.path_in_details and case.path_in_details not in [d["path"] for d in body.get("details", [])]:
        return f"{case.name}: details lack {case.path_in_details}: {body}"
    if case.message_has and case.message_has not in body["message"]:
        return f"{case.name}: message lacks {case.message_has!r}: {body}"
    return None


def test_bad_input_corpus_answers_clear_4xx(api, samples, tenant):
    waiting = start_order(api, "1").json()["workflowId"]
    ended = start_order(api, "2").json()["workflowId"]
    clients = _clients(api, tenant)
    corpus = _corpus(waiting, ended)
    mismatches = [m for case in corpus if (m := _mismatch(case, _send(clients[case.client], case)))]
    assert mismatches == []
    assert api.get(f"/v3/workflow/{waiting}").json()["workflowStatus"] == "WAITING"  # nothing moved it


def test_database_unreachable_answers_503_with_retry_after(api, monkeypatch, db):
    def down(**kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("apps.runs.api.views.selectors.run_get", down)
    response = api.get("/v3/workflow/any")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"] == "UNAVAILABLE"
