"""Issue 19 item 5: sealed envelopes are bound to their tenant and run, never accepted from clients, and a rerun
or redrive keeps sealing what the run it repeats sealed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.definitions.models import DefinitionKind
from apps.definitions.services import definition_activate, definition_publish, definition_save_snapshot
from apps.runs.context_store import get_context_store
from apps.runs.models import Run
from apps.secrets.crypto import secrets_cipher
from apps.secrets.sealing import SEALED, SealedRun, seal, unseal
from devtools.testing.builders import script_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import client_for, wait_final

PHONE = "+1-555-0199-31"
RUN_A = SealedRun("acme", "run-a")


def legacy_envelope(clear: str) -> dict:
    """An envelope as sealed before the binding: the secrets key itself, no tenant or run."""
    return {SEALED: secrets_cipher().encrypt(json.dumps(clear).encode()).decode()}


def test_an_envelope_opens_only_in_its_own_run_of_its_own_tenant():
    sealed = seal({"phone": PHONE}, [PHONE], RUN_A)
    assert PHONE not in json.dumps(sealed)
    assert unseal(sealed, RUN_A) == {"phone": PHONE}
    for other in (SealedRun("acme", "run-b"), SealedRun("globex", "run-a")):
        assert unseal(sealed, other) == sealed  # shown as stored, never opened


def test_a_legacy_envelope_opens_only_in_a_run_created_before_it_was_sealed():
    old = {"phone": legacy_envelope(PHONE)}
    now = timezone.now()
    assert unseal(old, SealedRun("acme", "old-run", now - timedelta(minutes=5))) == {"phone": PHONE}
    assert unseal(old, SealedRun("acme", "new-run", now + timedelta(minutes=5))) == old  # copied into a newer run
    assert unseal(old, SealedRun("acme", "unknown-run")) == old


@pytest.mark.django_db
def test_envelopes_are_refused_in_every_input_with_the_path(api, tenant):
    envelope = seal({"phone": PHONE}, [PHONE], SealedRun("globex", "their-run"))["phone"]  # another tenant's
    Run.objects.create(workflow_id="failed-one", tenant=tenant, definition_key="flow", status="FAILED")
    attempts = [
        ("/v3/workflow/start", {"params": {"workflowId": "flow"}, "customer": {"phone": envelope}},
         "$.customer.phone.$sealed"),
        ("/v3/workflow/failed-one/redrive", {"contextPatch": {"customer": [envelope]}},
         "$.contextPatch.customer[0].$sealed"),
        ("/v3/bulk/redrive", {"ids": ["failed-one"], "contextPatch": {"x": envelope}}, "$.contextPatch.x.$sealed"),
        ("/v3/workflow/failed-one/event/paid", {"amount": envelope}, "$.amount.$sealed"),
    ]
    for url, body, path in attempts:
        response = api.post(url, body, format="json")
        assert response.status_code == 400, (url, response.content)
        assert path in json.dumps(response.json()), (url, response.json())
    resumed = api.put("/v3/workflow/resume/failed-one", {"viewResponse": {"selectedOptions": {"a": envelope}}},
                      format="json")
    assert resumed.status_code == 400, resumed.content
    assert "$.viewResponse.selectedOptions.a.$sealed" in json.dumps(resumed.json()), resumed.json()


@pytest.mark.temporal
def test_a_sealed_value_of_another_tenant_is_refused_at_start(api, runs, tenant):
    """Through the running stack: tenant B's client sends tenant A's envelope as input and gets a 400."""
    publish_definitions(tenant, [script_node("fail_loud", "return int(_global.customer.phone)")],
                        [workflow("loud", "fail_loud", [state("fail_loud")], sensitivePaths=["$.customer.phone"])])
    first = api.post("/v3/workflow/start", {"params": {"workflowId": "loud"}, "customer": {"phone": PHONE}},
                     format="json").json()
    envelope = get_context_store().load(first["workflowId"]).context["customer"]["phone"]
    assert SEALED in envelope
    publish_definitions("globex", [script_node("fail_loud", "return int(_global.customer.phone)")],
                        [workflow("loud", "fail_loud", [state("fail_loud")])])
    other = client_for("globex", "b-client")
    response = other.post("/v3/workflow/start", {"params": {"workflowId": "loud"}, "customer": {"phone": envelope}},
                          format="json")
    assert response.status_code == 400 and "$.customer.phone.$sealed" in json.dumps(response.json())
    assert not Run.objects.filter(tenant="globex").exists()


@pytest.mark.temporal
def test_an_envelope_copied_into_another_run_does_not_open_there(api, runs, tenant, httpserver, settings):
    """Same tenant: run 1's sealed phone reaches run 2 through a service that echoes it; revealing run 2 shows the
    envelope, never the phone."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    publish_definitions(tenant, [script_node("fail_loud", "return int(_global.customer.phone)")],
                        [workflow("loud", "fail_loud", [state("fail_loud")], sensitivePaths=["$.customer.phone"])])
    first = api.post("/v3/workflow/start", {"params": {"workflowId": "loud"}, "customer": {"phone": PHONE}},
                     format="json").json()
    envelope = get_context_store().load(first["workflowId"]).context["customer"]["phone"]
    httpserver.expect_request("/leak").respond_with_json({"phone": envelope})
    fetch = {"id": "fetch", "name": "fetch", "type": "HTTP",
             "httpComponents": {"url": value(httpserver.url_for("/leak"), "STATIC"), "method": "GET"}}
    publish_definitions(tenant, [fetch, success_node()],
                        [workflow("echo", "fetch", [state("fetch", "fetch", "done"), state("done")],
                                  sensitivePaths=["$.customer.phone"])])
    second = api.post("/v3/workflow/start", {"params": {"workflowId": "echo"}, "customer": {"phone": "+1-555-0000"}},
                      format="json").json()
    assert second["workflowStatus"] == "COMPLETED", second
    revealer = client_for(tenant, "auditor", scopes=("runtime", "reveal"))
    revealed = revealer.get(f"/v3/workflow/{second['workflowId']}?includeContext=true").json()["_global"]
    assert revealed["customer"]["phone"] == "+1-555-0000"  # its own sealed value opens
    assert revealed["fetch"]["phone"] == envelope and PHONE not in json.dumps(revealed)
    own = revealer.get(f"/v3/workflow/{first['workflowId']}?includeContext=true").json()["_global"]
    assert own["customer"]["phone"] == PHONE  # in its own run it still opens


@pytest.mark.temporal
def test_redrive_onto_a_version_without_sensitive_paths_keeps_values_sealed(api, runs, tenant):
    failing = script_node("fail_loud", "return int(_global.customer.phone)")
    publish_definitions(tenant, [failing], [workflow("loud", "fail_loud", [state("fail_loud")],
                                                     sensitivePaths=["$.customer.phone"])])
    old = api.post("/v3/workflow/start", {"params": {"workflowId": "loud"}, "customer": {"phone": PHONE}},
                   format="json").json()
    assert old["workflowStatus"] == "FAILED", old
    unlisted = workflow("loud", "fail_loud", [state("fail_loud")])  # version 2 drops sensitivePaths
    definition_save_snapshot(tenant=tenant, kind=DefinitionKind.WORKFLOW, body=unlisted, actor="tests", create=False)
    published = definition_publish(tenant=tenant, kind=DefinitionKind.WORKFLOW, key="loud", actor="tests")
    definition_activate(tenant=tenant, kind=DefinitionKind.WORKFLOW, key="loud", version=published.version,
                        actor="tests")

    redriven = api.post(f"/v3/workflow/{old['workflowId']}/redrive", {"version": "ACTIVE"}, format="json")
    assert redriven.status_code == 202, redriven.json()
    new = wait_final(redriven.json()["workflowId"])
    assert new.definition_version == published.version
    stored = get_context_store().load(new.workflow_id).context
    assert SEALED in json.dumps(stored["customer"]["phone"]) and PHONE not in json.dumps(stored)
    assert PHONE not in json.dumps(Run.objects.filter(pk=new.pk).values("start_request", "error_message").get())
    rerun_of_redrive = api.get(f"/v3/workflow/{new.workflow_id}?includeContext=true").json()
    assert PHONE not in json.dumps(rerun_of_redrive)  # masked for a reader without reveal
