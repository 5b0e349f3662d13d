"""Issue 8 (items 3, 4, 6) on the definition API: NaN/Infinity, lone surrogates and deep nesting are refused
with 400 and their path (enum store, node and state names, any field); a list or object where a node type is
expected is a 400, not an `unhashable type` 500; rows stored before these checks still read (no 500)."""

import pytest

from apps.definitions.models import AuditEntry, EnumEntry
from apps.runs.models import Run
from devtools.testing.rest import client_for as runtime_client

pytestmark = pytest.mark.django_db

NODE = '{"id": "done", "name": "Completed", "type": "SUCCESS"}'
DEEP = "[" * 300 + "]" * 300


def _raw(api, method: str, path: str, raw: str):
    return getattr(api, method)(path, data=raw.encode(), content_type="application/json")


def _refused(response, path: str, words: str) -> None:
    assert response.status_code == 400, response.content[:400]
    details = response.json()["details"]
    assert any(d["path"] == path and words in d["problem"] for d in details), details


@pytest.mark.parametrize(("raw", "path", "words"), [
    ('{"value": NaN}', "$.value", "finite"),
    ('{"value": {"rate": 1e999}}', "$.value.rate", "finite"),
    ('{"value": {"ok": [1, -Infinity]}}', "$.value.ok[1]", "finite"),
    ('{"value": "\\ud800"}', "$.value", "surrogate"),
    ('{"value": {"\\ud800": 1}}', "$.value.\\ud800", "surrogate"),
    (f'{{"value": {DEEP}}}', "$.value" + "[0]" * 99, "nested deeper than 100"),
])
def test_enum_store_refuses_what_it_could_not_answer_and_keeps_answering(api, raw, path, words):
    assert api.put("/enumStore/good", {"value": {"a": 1}}, format="json").status_code == 200
    _refused(_raw(api, "put", "/enumStore/bad", raw), path, words)
    listed = api.get("/enumStore/")
    assert listed.status_code == 200 and listed.json() == {"good": {"a": 1}}


@pytest.mark.parametrize("kind", ["nodeDefinition", "workflowDefinition"])
@pytest.mark.parametrize("action", ["", "validate/"])
def test_documents_with_non_finite_numbers_or_surrogates_are_refused(api, kind, action):
    _refused(_raw(api, "post", f"/{kind}/{action}", '{"id": "x", "name": "a\\udcff"}'), "$.name", "surrogate")
    _refused(_raw(api, "post", f"/{kind}/{action}", '{"id": "x", "timeoutSeconds": Infinity}'),
             "$.timeoutSeconds", "finite")


def test_a_state_named_with_a_lone_surrogate_is_refused(api):
    assert _raw(api, "post", "/nodeDefinition/", NODE).status_code == 201
    raw = ('{"id": "w", "startNode": "\\ud800", "states": {"\\ud800": {"instanceName": "\\ud800", '
           '"resourceId": "done", "type": "NODE", "end": true}}}')
    _refused(_raw(api, "post", "/workflowDefinition/", raw), "$.startNode", "surrogate")
    assert api.get("/auditLog/").status_code == 200


@pytest.mark.parametrize("bad_type", [["SUCCESS"], {"HTTP": 1}, 7, None])
def test_a_node_type_that_is_no_string_is_a_400_with_its_path(api, bad_type):
    node = {"id": "n", "name": "n", "type": bad_type}
    response = api.post("/nodeDefinition/", node, format="json")
    assert response.status_code == 400, response.content[:300]
    assert "$.type" in [d["path"] for d in response.json()["details"]]
    checked = api.post("/nodeDefinition/validate/", node, format="json")
    assert checked.status_code == 200 and "$.type" in [e["path"] for e in checked.json()["errors"]]
    inline = {"id": "w", "startNode": "a", "states": {"a": {
        "instanceName": "a", "type": "NODE", "end": True, "nodeDefinition": node}}}
    response = api.post("/workflowDefinition/", inline, format="json")
    assert response.status_code == 400, response.content[:300]
    assert "$.states.a.nodeDefinition.type" in [d["path"] for d in response.json()["details"]]


@pytest.mark.parametrize("bad_type", [["HTTP"], {"SCRIPT": 1}])
def test_a_post_completion_or_exit_state_whose_node_type_is_no_string_is_reported_not_a_500(api, bad_type):
    node = {"id": "p", "name": "p", "type": bad_type}
    workflow = {"id": "w", "startNode": "a", "postWorkflowCompletionNodes": ["p"], "states": {
        "a": {"instanceName": "a", "type": "NODE", "nodeDefinition": node | {"id": "a"}, "nextNode": "p"},
        "p": {"instanceName": "p", "type": "NODE", "nodeDefinition": node}}}
    response = api.post("/workflowDefinition/validate/", workflow, format="json")
    assert response.status_code == 200, response.content[:300]
    assert "$.states.p.nodeDefinition.type" in [e["path"] for e in response.json()["errors"]]


def test_rows_stored_before_the_checks_still_read(api):
    """Data from before the strict parser (a lone surrogate stored as its JSON escape) is answered escaped."""
    EnumEntry.objects.create(tenant="acme", key="legacy", value={"name": "a\ud800b"})
    AuditEntry.objects.create(tenant="acme", kind="NODE", key="n", action="CREATE", actor="old",
                              details={"states": ["\udfff"]})
    listed = api.get("/enumStore/")
    assert listed.status_code == 200 and listed.json() == {"legacy": {"name": "a\ud800b"}}
    assert api.get("/enumStore/legacy").json()["value"] == {"name": "a\ud800b"}
    audit = api.get("/auditLog/")
    assert audit.status_code == 200 and audit.json()["results"][0]["details"] == {"states": ["\udfff"]}


def test_admin_pages_and_the_run_api_still_answer_rows_holding_a_lone_surrogate(admin_client):
    run = Run.objects.create(workflow_id="legacy-run", tenant="acme", status="WAITING",
                             view={"layoutId": "a\ud800"}, start_request={"x": "\udc00"})
    entry = EnumEntry.objects.create(tenant="acme", key="legacy", value={"name": "a\ud800b"})
    audit = AuditEntry.objects.create(tenant="acme", kind="NODE", key="n", action="CREATE", actor="old",
                                      details={"s": ["\udfff"]})
    for url in ["/admin/runs/run/", f"/admin/runs/run/{run.pk}/change/", "/admin/definitions/enumentry/",
                f"/admin/definitions/enumentry/{entry.pk}/change/", "/admin/definitions/auditentry/",
                f"/admin/definitions/auditentry/{audit.pk}/change/"]:
        page = admin_client.get(url)
        assert page.status_code == 200, url
    assert b"a\\ud800" in admin_client.get(f"/admin/runs/run/{run.pk}/change/").content
    detail = runtime_client("acme").get("/v3/workflow/legacy-run")
    assert detail.status_code == 200 and detail.json()["view"] == {"layoutId": "a\ud800"}


@pytest.mark.parametrize(("node", "path"), [
    ({"type": "WAIT", "config": {"waitType": "SCHEDULER_WAIT", "duration": 1e300}}, "$.config.duration"),
    ({"type": "WAIT", "config": {"waitType": "ON_EVENT", "eventName": "e", "timeoutSeconds": 1e20}},
     "$.config.timeoutSeconds"),
    ({"type": "HTTP", "method": "GET", "timeoutSeconds": 1e300,
      "httpComponents": {"url": {"type": "STATIC", "value": {"type": "STRING", "data": "http://x.test/"}}}},
     "$.timeoutSeconds"),
    ({"type": "HTTP", "method": "GET", "retry": {"maxAttempts": 2**40},
      "httpComponents": {"url": {"type": "STATIC", "value": {"type": "STRING", "data": "http://x.test/"}}}},
     "$.retry.maxAttempts"),
])
def test_durations_a_timer_cannot_hold_are_refused(api, node, path):
    """Finite but absurd: as Temporal timers or retry policies they would overflow and wedge every run."""
    response = api.post("/nodeDefinition/", {"id": "n", "name": "n", **node}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert path in [d["path"] for d in response.json()["details"]]
