"""The definitions admin through Django's test client, as a logged-in operator (superuser)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from apps.definitions.cache import definition_cache
from apps.definitions.models import AuditEntry, Definition, DefinitionVersion, EnumEntry, Kind, Route
from apps.definitions.services import definition_publish, definition_save_snapshot
from devtools.testing.builders import branch_node, script_node, state, success_node, workflow

TENANT = "acme"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def nodes(db) -> None:
    for body in (script_node("fetch", "return 1"), branch_node("route", [("return True", "done")], default="done"),
                 success_node("ok")):
        definition_save_snapshot(tenant=TENANT, kind=Kind.NODE, body=body, actor="tests", create=True)
        definition_publish(tenant=TENANT, kind=Kind.NODE, key=body["id"], actor="tests")


def flow(next_node: str = "decide") -> dict:
    return workflow("refund", "fetch", [
        state("fetch", "fetch", next_node), state("decide", "route"), state("done", "ok"),
    ])


def add_url() -> str:
    return reverse("admin:definitions_workflowdefinition_add")


def url(name: str, *args) -> str:
    return reverse(f"admin:definitions_workflowdefinition_{name}", args=args)


def test_create_edit_validate_publish_activate_through_the_admin(admin_client, nodes):
    # the add page offers the JSON editor
    page = admin_client.get(add_url())
    assert page.status_code == 200
    assert b"drift-json-editor" in page.content and b"definitions/json_editor.js" in page.content

    # a validation error is shown inline with its JSON path and line; nothing is saved
    response = admin_client.post(add_url(), {"tenant": TENANT, "document": json.dumps(flow("nowhere"))})
    assert response.status_code == 200
    html = response.content.decode()
    assert "validation error" in html and "$.states.fetch.nextNode" in html and "drift-problems" in html
    assert 'data-line="' in html
    assert not Definition.objects.filter(tenant=TENANT, kind=Kind.WORKFLOW, key="refund").exists()

    # a JSON syntax error names the line and column
    response = admin_client.post(add_url(), {"tenant": TENANT, "document": '{\n  "id": "refund",\n  oops\n}'})
    assert "line 3, column 3" in response.content.decode()

    # fixed: saved as the SNAPSHOT, actor = the admin username
    response = admin_client.post(add_url(), {"tenant": TENANT, "document": json.dumps(flow())})
    assert response.status_code == 302, response.content.decode()[:3000]
    head = Definition.objects.get(tenant=TENANT, kind=Kind.WORKFLOW, key="refund")
    assert head.versions.get(version=0).created_by == "admin"
    assert AuditEntry.objects.filter(key="refund", action="CREATE", actor="admin").exists()

    # the change page: editor with the SNAPSHOT, buttons, embedded SVG graph
    page = admin_client.get(url("change", head.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert "&quot;startNode&quot;: &quot;fetch&quot;" in html
    assert "<svg" in html and "drift-publish" in html and "drift-validate" in html

    # edit with an error, then fix it
    broken = flow() | {"startNode": "ghost"}
    response = admin_client.post(url("change", head.pk), {"document": json.dumps(broken)})
    assert response.status_code == 200 and "$.startNode" in response.content.decode()
    assert head.versions.get(version=0).body["startNode"] == "fetch"
    fixed = flow() | {"comment": "v2"}
    response = admin_client.post(url("change", head.pk), {"document": json.dumps(fixed)})
    assert response.status_code == 302
    assert head.versions.get(version=0).body["comment"] == "v2"

    # validate, publish twice, activate 2, roll back to 1
    response = admin_client.post(url("validate", head.pk), follow=True)
    assert "the SNAPSHOT is valid" in response.content.decode()
    admin_client.post(url("publish", head.pk))
    admin_client.post(url("publish", head.pk))
    head.refresh_from_db()
    assert head.latest_version == 2
    admin_client.post(url("activate", head.pk), {"version": "2"})
    head.refresh_from_db()
    assert head.active_version == 2
    response = admin_client.post(url("activate", head.pk), {"version": "1"}, follow=True)
    assert "rolled back from 2" in response.content.decode()
    head.refresh_from_db()
    assert head.active_version == 1
    actions = list(AuditEntry.objects.filter(key="refund").values_list("action", "actor"))
    assert ("PUBLISH", "admin") in actions and ("ACTIVATE", "admin") in actions


def test_warnings_are_shown_and_saving_is_allowed(admin_client, db):
    for body in (script_node("inc", "return 1"), branch_node("again", [("return True", "count")])):
        definition_save_snapshot(tenant=TENANT, kind=Kind.NODE, body=body, actor="tests", create=True)
        definition_publish(tenant=TENANT, kind=Kind.NODE, key=body["id"], actor="tests")
    looping = workflow("spin", "count", [state("count", "inc", "check"), state("check", "again")])
    response = admin_client.post(add_url(), {"tenant": TENANT, "document": json.dumps(looping)}, follow=True)
    html = response.content.decode()
    assert Definition.objects.filter(key="spin").exists()
    assert "Warning:" in html


def test_publish_an_invalid_snapshot_reports_errors(admin_client, nodes):
    definition_save_snapshot(tenant=TENANT, kind=Kind.WORKFLOW, body=flow(), actor="tests", create=True)
    head = Definition.objects.get(key="refund")
    # a SNAPSHOT that went bad behind the service's back (say, a hand-edited database row)
    DefinitionVersion.objects.filter(definition=head, version=0).update(body=flow() | {"startNode": "ghost"})
    definition_cache.clear()
    response = admin_client.post(url("publish", head.pk), follow=True)
    assert "$.startNode" in response.content.decode()
    head.refresh_from_db()
    assert head.latest_version == 0


def test_versions_history_version_and_diff_pages(admin_client, nodes):
    definition_save_snapshot(tenant=TENANT, kind=Kind.WORKFLOW, body=flow(), actor="alice", create=True)
    head = Definition.objects.get(key="refund")
    admin_client.post(url("publish", head.pk))
    admin_client.post(url("change", head.pk), {"document": json.dumps(flow() | {"comment": "changed"})})
    admin_client.post(url("publish", head.pk))

    page = admin_client.get(url("versions", head.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert "SNAPSHOT" in html and "alice" in html and "admin" in html and "PUBLISH" in html

    page = admin_client.get(url("version", head.pk, "1"))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "read-only" in html
    assert admin_client.get(url("version", head.pk, "9")).status_code == 404

    page = admin_client.get(url("diff", head.pk), {"from": "1", "to": "2"})
    html = page.content.decode()
    assert page.status_code == 200 and "$.comment" in html and "changed" in html
    bad = admin_client.get(url("diff", head.pk), {"from": "x", "to": "2"})
    assert bad.status_code == 200 and "errornote" in bad.content.decode()


def test_changelist_actions_and_filters(admin_client, nodes):
    definition_save_snapshot(tenant=TENANT, kind=Kind.WORKFLOW, body=flow(), actor="tests", create=True)
    head = Definition.objects.get(key="refund")
    changelist = reverse("admin:definitions_workflowdefinition_changelist")
    for action in ("validate_snapshots", "publish_snapshots", "activate_latest"):
        response = admin_client.post(changelist, {"action": action, "_selected_action": [head.pk]}, follow=True)
        assert response.status_code == 200
    head.refresh_from_db()
    assert (head.latest_version, head.active_version) == (1, 1)
    page = admin_client.get(changelist, {"tenant": TENANT, "q": "ref"})
    assert page.status_code == 200 and "refund" in page.content.decode()
    nodes_page = admin_client.get(reverse("admin:definitions_nodedefinition_changelist"))
    assert "fetch" in nodes_page.content.decode() and "refund" not in nodes_page.content.decode()


def test_node_definition_change_page(admin_client, nodes):
    head = Definition.objects.get(kind=Kind.NODE, key="fetch")
    page = admin_client.get(reverse("admin:definitions_nodedefinition_change", args=[head.pk]))
    assert page.status_code == 200 and "drift-json-editor" in page.content.decode()


def test_enum_entries_routes_and_audit(admin_client, nodes):
    response = admin_client.post(reverse("admin:definitions_enumentry_add"),
                                 {"tenant": TENANT, "key": "crm.url", "value": '{"url": "https://crm"}'})
    assert response.status_code == 302
    entry = EnumEntry.objects.get(tenant=TENANT, key="crm.url")
    assert entry.value == {"url": "https://crm"}
    response = admin_client.post(reverse("admin:definitions_enumentry_change", args=[entry.pk]), {"value": "[1, 2"})
    assert response.status_code == 200 and "line 1, column" in response.content.decode()

    definition_save_snapshot(tenant=TENANT, kind=Kind.WORKFLOW, body=flow(), actor="tests", create=True)
    Definition.objects.filter(key="refund").update(latest_version=0)
    add = reverse("admin:definitions_route_add")
    formset = {"variants-TOTAL_FORMS": "1", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
               "variants-MAX_NUM_FORMS": "1000"}
    bad = admin_client.post(add, {"tenant": TENANT, "issue_id": "refunds", "workflow_key": "nope",
                                  "version": "ACTIVE", **formset, "variants-0-workflow_key": "refund",
                                  "variants-0-version": "ACTIVE", "variants-0-weight": "1"})
    assert bad.status_code == 200 and "unknown workflow definition" in bad.content.decode()
    ok = admin_client.post(add, {"tenant": TENANT, "issue_id": "refunds", "workflow_key": "refund",
                                 "version": "ACTIVE", **formset, "variants-0-workflow_key": "refund",
                                 "variants-0-version": "LATEST", "variants-0-weight": "3"})
    assert ok.status_code == 302, ok.content.decode()[:2000]
    route = Route.objects.get(tenant=TENANT, issue_id="refunds")
    assert [(v.workflow_key, v.version, v.weight) for v in route.variants.all()] == [("refund", "LATEST", 3)]
    assert AuditEntry.objects.filter(kind="ROUTE", key="refunds", actor="admin").exists()
    assert AuditEntry.objects.filter(kind="ENUM", key="crm.url", actor="admin").exists()

    audit = reverse("admin:definitions_auditentry_changelist")
    page = admin_client.get(audit, {"kind": "ROUTE"})
    assert page.status_code == 200 and "refunds" in page.content.decode()
    entry_id = AuditEntry.objects.filter(kind="ROUTE").first().pk
    detail = admin_client.get(reverse("admin:definitions_auditentry_change", args=[entry_id]))
    assert detail.status_code == 200 and "drift-json" in detail.content.decode()
    assert admin_client.get(reverse("admin:definitions_auditentry_add")).status_code == 403
