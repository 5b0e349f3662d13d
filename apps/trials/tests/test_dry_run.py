"""Dry-run of every node type that can run alone, through the API (spec §9)."""

from __future__ import annotations

import json

import pytest

from devtools.testing.builders import (
    branch_node,
    child_node,
    failure_node,
    instruction_node,
    script_node,
    success_node,
    value,
    wait_node,
)
from devtools.testing.definitions import publish_definitions

pytestmark = pytest.mark.django_db


def dry_run(api, key: str, body: dict | None = None, version: str = "LATEST"):
    return api.post(f"/nodeDefinition/{key}/dryRun?version={version}", body or {}, format="json")


def http_node(url, **extra):
    return {"id": "call", "name": "call", "type": "HTTP",
            "httpComponents": {"url": url, "method": "POST", "body": value("return {'id': nodeParameters.id}",
                                                                           value_type="JSON")},
            "transformerComponents": {"transformer": value("return {'state': _response.state, 'code': _status_code}")},
            **extra}


def test_script_output_with_context_and_parameters(api, tenant):
    publish_definitions(tenant, [script_node("total", "return _global.params.a + nodeParameters.b")], [])
    response = dry_run(api, "total", {"context": {"params": {"a": 2}}, "parameters": {"b": 40}})
    assert response.status_code == 200, response.json()
    assert response.json() == {"node": "total", "version": 1, "type": "SCRIPT", "ok": True,
                               "outcome": {"output": 42}}


def test_script_runtime_error_names_its_line(api, tenant):
    source = "x = 1\ny = _global.params.count\nreturn x / 0"
    publish_definitions(tenant, [script_node("broken", source)], [])
    report = dry_run(api, "broken", {"context": {"params": {"count": 1}}}).json()
    assert report["ok"] is False
    assert report["error"]["line"] == 3
    assert "ZeroDivisionError" in report["error"]["message"] and report["error"]["message"].startswith("transformer")


def test_script_compile_error_in_the_snapshot_names_its_line(api, tenant):
    """A SNAPSHOT cannot hold a non-compiling script (saves validate), so the line comes from a runtime
    NameError on line 2 of a multi-line script instead, dry-run on the SNAPSHOT itself."""
    publish_definitions(tenant, [script_node("draft", "return 1")], [])
    api.put("/nodeDefinition/", script_node("draft", "a = 1\nreturn a + undefined_name"), format="json")
    report = dry_run(api, "draft", version="SNAPSHOT").json()
    assert report["version"] == "SNAPSHOT" or report["version"] == 0
    assert report["ok"] is False and report["error"]["line"] == 2, report
    assert dry_run(api, "draft", version="1").json()["outcome"] == {"output": 1}


def test_branch_picks_through_the_sandbox(api, tenant):
    node = branch_node("route", [("return _global.params.amount > 100", "review")], default="auto")
    publish_definitions(tenant, [node], [])
    big = dry_run(api, "route", {"context": {"params": {"amount": 500}}}).json()
    small = dry_run(api, "route", {"context": {"params": {"amount": 5}}}).json()
    assert big["outcome"]["nextNode"] == "review" and small["outcome"]["nextNode"] == "auto"


def test_branch_rule_error_has_its_line(api, tenant):
    publish_definitions(tenant, [branch_node("route", [("a = 1\nreturn _global.params.amount > 'x'", "r")])], [])
    report = dry_run(api, "route", {"context": {"params": {"amount": 5}}}).json()
    assert report["ok"] is False and report["error"]["line"] == 2
    assert report["error"]["message"].startswith("choices[0].rule")


def test_instruction_builds_the_view(api, tenant):
    options = [{"id": "intro",
                "instructions": [{"templateId": "t", "templateVariables": {"order": "Order {{params.id}}"}}]},
               {"possibleDynamicValues": "params.choices"}]
    publish_definitions(tenant, [instruction_node("screen", options, layoutId="review")], [])
    report = dry_run(api, "screen", {"context": {"params": {"id": 7, "choices": [{"id": "a"}]}}}).json()
    view = report["outcome"]["view"]
    assert view["layoutId"] == "review"
    assert view["inputOptions"][0]["instructions"][0]["templateVariables"] == {"order": "Order 7"}
    assert view["inputOptions"][1:] == [{"id": "a"}]  # the dynamic entry became the Options found there


def test_wait_child_success_and_failure_describe_what_a_run_would_do(api, tenant):
    publish_definitions(tenant, [
        wait_node("pause", waitType="SCHEDULER_WAIT", duration=value("return _global.params.days * 86400")),
        child_node("sub", "other"), success_node("done"), failure_node("bad", "no stock"),
    ], [])
    pause = dry_run(api, "pause", {"context": {"params": {"days": 2}}}).json()
    assert pause["outcome"]["wait"] == {"type": "TIMER", "seconds": 172800.0, "mode": "ASYNC"}
    assert dry_run(api, "sub").json()["outcome"]["child"]["workflowId"] == "other"
    assert dry_run(api, "done").json()["outcome"]["terminal"] == "COMPLETED"
    assert dry_run(api, "bad").json()["outcome"] == {"terminal": "FAILED", "error": "no stock"}


def test_http_against_a_local_server(api, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    httpserver.expect_request("/orders", method="POST", json={"id": 9}).respond_with_json({"state": "SHIPPED"})
    publish_definitions(tenant, [http_node(value(f"return '{httpserver.url_for('/orders')}'"))], [])
    report = dry_run(api, "call", {"parameters": {"id": 9}}).json()
    assert report["ok"] is True, report
    assert report["outcome"] == {"output": {"state": "SHIPPED", "code": 200}}
    assert report["request"]["url"] == httpserver.url_for("/orders") and report["request"]["method"] == "POST"
    assert report["response"]["status"] == 200 and report["response"]["mocked"] is False
    httpserver.check_assertions()


def test_http_is_refused_by_the_ssrf_guard(api, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    httpserver.expect_request("/orders").respond_with_json({"state": "SHIPPED"})
    publish_definitions(tenant, [http_node(value(f"return '{httpserver.url_for('/orders')}'"))], [])
    report = dry_run(api, "call", {"parameters": {"id": 1}}).json()
    assert report["ok"] is False and "127.0.0.1" in report["error"]["message"], report
    assert len(httpserver.log) == 0


def test_http_mocked_makes_no_call_and_runs_the_transformer(api, tenant, httpserver):
    publish_definitions(tenant, [http_node(value(f"return '{httpserver.url_for('/orders')}'"))], [])
    report = dry_run(api, "call", {"parameters": {"id": 3}, "mock": {"status": 201, "body": {"state": "NEW"}}})
    assert report.json()["outcome"] == {"output": {"state": "NEW", "code": 201}}
    assert report.json()["response"]["mocked"] is True and report.json()["request"]["data"] == '{"id": 3}'
    failed = dry_run(api, "call", {"parameters": {"id": 3}, "mock": {"status": 404, "body": "gone"}}).json()
    assert failed["ok"] is False and "404" in failed["error"]["message"]
    assert len(httpserver.log) == 0


@pytest.mark.parametrize(("body", "path"), [
    ({"context": []}, "$.context"),
    ({"context": "x"}, "$.context"),
    ({"parameters": 5}, "$.parameters"),
    ({"mock": {"status": "abc"}}, "$.mock.status"),
    ({"mock": {"status": 99}}, "$.mock.status"),
    ({"mock": []}, "$.mock"),
    ({"context": {"a": "\ud800"}}, "$.context"),
    ({"context": {"\ud800": 1}}, "$.context"),
    ({"mock": {"body": ["\udfff"]}}, "$.mock.body"),
    ({"context": {"a": json.loads("[" * 300 + "]" * 300)}}, "$.context"),  # deep, yet far from the recursion limit
])
def test_bad_input_is_a_400_with_the_field_path(api, tenant, body, path):
    publish_definitions(tenant, [script_node("total", "return 1")], [])
    # Sent as ASCII JSON: the test client's renderer could not encode a lone surrogate itself.
    response = api.post("/nodeDefinition/total/dryRun", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert any(d["path"].startswith(path) for d in response.json()["details"]), response.json()


def test_bad_documents_nan_deep_and_huge_are_4xx(api, tenant, settings):
    publish_definitions(tenant, [script_node("total", "return 1")], [])
    url = "/nodeDefinition/total/dryRun"
    assert api.post(url, '{"context": {"a": NaN}}', content_type="application/json").status_code == 400
    assert api.post(url, '{"context": ' + "[" * 100_000 + "]" * 100_000 + "}",
                    content_type="application/json").status_code in (400, 413)
    huge = '{"context": {"a": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}}'
    assert api.post(url, huge, content_type="application/json").status_code == 413


def test_mock_on_a_node_that_calls_nothing_and_unknown_node(api, tenant):
    publish_definitions(tenant, [script_node("total", "return 1")], [])
    refused = dry_run(api, "total", {"mock": {"status": 200}})
    assert refused.status_code == 400 and refused.json()["details"][0]["path"] == "$.mock"
    assert dry_run(api, "missing").status_code == 404


def test_admin_try_view_answers_json_and_refuses_bad_input(client, tenant, django_user_model):
    from apps.definitions.models import NodeDefinition

    django_user_model.objects.create_superuser("op", "op@example.com", "pw")
    client.login(username="op", password="pw")
    publish_definitions(tenant, [script_node("total", "return _global.params.a * 2")], [])
    url = f"/admin/definitions/nodedefinition/{NodeDefinition.objects.get(tenant=tenant).pk}/try/"
    ok = client.post(url, {"version": "1", "context": {"params": {"a": 21}}}, content_type="application/json")
    assert ok.json()["outcome"] == {"output": 42}
    assert client.post(url, '{"context": NaN}', content_type="application/json").status_code == 400
    assert client.post(url, "[1]", content_type="application/json").status_code == 400
    bad_version = client.post(url, {"version": "x"}, content_type="application/json")
    assert bad_version.status_code == 400 and bad_version.json()["details"][0]["path"] == "$.version"
    assert client.get(url).status_code == 405


@pytest.mark.parametrize("path", ["/nodeDefinition/total/dryRun", "/workflowDefinition/flow/test"])
def test_auth_and_scope(path):
    from rest_framework.test import APIClient

    from devtools.testing.tenancy import key_client

    assert APIClient().post(path, {}, format="json").status_code == 401
    assert key_client("acme", ["runtime"]).post(path, {}, format="json").status_code == 403


def test_http_secrets_are_used_but_never_shown(api, tenant, httpserver, settings):
    """Spec §9/§12: the call carries the secret; the report (request, response, output) never shows it."""
    from apps.secrets.services import secret_put

    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    secret_put(tenant=tenant, name="oms_token", value="s3cr3t-dry-run-token", actor="test")
    httpserver.expect_request("/orders", method="POST", headers={"Authorization": "Bearer s3cr3t-dry-run-token"}) \
        .respond_with_json({"state": "SHIPPED", "echo": "s3cr3t-dry-run-token"})
    node = http_node(value(f"return '{httpserver.url_for('/orders')}'"),
                     transformerComponents={"transformer": value("return _response")})
    node["httpComponents"]["headers"] = value({"Authorization": "Bearer {{secret:oms_token}}"}, "STATIC", "JSON")
    publish_definitions(tenant, [node], [])
    report = dry_run(api, "call", {"parameters": {"id": 9}}).json()
    assert report["ok"] is True, report
    assert report["outcome"]["output"]["state"] == "SHIPPED"
    assert "s3cr3t-dry-run-token" not in json.dumps(report)
    httpserver.check_assertions()
