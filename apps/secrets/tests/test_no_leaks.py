"""Spec §12 end to end: plant secrets and a sensitive value, run a flow that uses both for real (an HTTP
service that checks every credential, an OAuth2 token endpoint), then search every place run data lands.

Each search has a positive control (something of the same run that must be found there), so a search that
looks at the wrong place, or at nothing, fails instead of passing.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from apps.clients.models import TenantMembership
from apps.runs.context_store import get_context_store
from apps.runs.context_store.hbase import TABLE
from apps.runs.models import NodeExecution, Run, RunContext, WebhookDelivery
from apps.secrets.models import RevealAudit
from devtools.testing.crm import PHONE, SECRETS, plant_secrets, publish_flow
from devtools.testing.hbase import use_hbase
from devtools.testing.receivers import Receiver
from devtools.testing.rest import client_for, wait_for
from drift.temporal import run_async

pytestmark = pytest.mark.temporal


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def assert_clean(where: str, haystack: str | bytes, must_contain: str) -> None:
    text = haystack.decode("utf-8", "replace") if isinstance(haystack, bytes) else haystack
    assert must_contain in text, f"{where}: the positive control {must_contain!r} is missing; wrong place searched"
    for planted in (PHONE, *SECRETS.values(), "access-token-"):
        assert planted not in text, f"{where} holds {planted!r} in clear"


def raw_history(workflow_id: str) -> bytes:
    """The run's Temporal history as stored, fetched by a client without Drift's codec."""

    async def fetch() -> bytes:
        client = await Client.connect(django_settings.TEMPORAL_ADDRESS, namespace=django_settings.TEMPORAL_NAMESPACE)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return b"".join(event.SerializeToString() for event in history.events)

    return run_async(fetch())


def hbase_raw(workflow_id: str) -> bytes:
    """Every stored version of every cell of the run's row (the store writes one version per state)."""
    connection = get_context_store().connection()
    try:
        table, row = connection.table(TABLE), workflow_id.encode()
        return b"".join(b"".join(table.cells(row, column, versions=10_000)) for column in table.row(row))
    finally:
        connection.close()


@pytest.mark.parametrize("backend", ["sql", "hbase"])
def test_secrets_and_sensitive_values_never_land_in_clear(backend, api, runs, tenant, crm, httpserver, caplog,
                                                          request, settings, celery_worker):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    if backend == "hbase":
        use_hbase(settings, request.getfixturevalue("hbase_thrift").port)
    plant_secrets(api)
    key = publish_flow(tenant, crm)
    receiver = Receiver(httpserver, "/hook")

    started = api.post("/v3/workflow/start", {
        "params": {"workflowId": key}, "customer": {"id": "cust-9", "phone": PHONE}, "mode": "ASYNC",
        "callbackUrl": receiver.url,
    }, format="json")
    assert started.status_code == 202, started.json()
    workflow_id = started.json()["workflowId"]
    wait_for(lambda: Run.objects.get(workflow_id=workflow_id).status == "WAITING", "the confirm screen")
    resumed = api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {"selectedOptions": {"confirm": "y"}}},
                      format="json")
    assert resumed.json()["workflowStatus"] == "COMPLETED", resumed.json()
    wait_for(lambda: WebhookDelivery.objects.filter(run__workflow_id=workflow_id, event="COMPLETED",
                                                    status="DELIVERED").exists(), "the COMPLETED webhook")

    # The flow really used both: the CRM checked every credential and got the phone number.
    assert crm.received == [{"phone": PHONE, "note": f"call {PHONE}"}] and crm.token_calls == 1

    detail = api.get(f"/v3/workflow/{workflow_id}", {"includeContext": "true"})
    context = detail.json()["_global"]
    assert context["customer"]["phone"] == "***" and context["crm_contact"]["ok"] is True
    assert_clean("_global via the API", detail.content, "cust-9")
    assert_clean("the WAITING answer and the view", _dump(resumed.json()), workflow_id)

    run = Run.objects.get(workflow_id=workflow_id)
    assert_clean("the Run mirror", _dump(Run.objects.filter(pk=run.pk).values().get()), "cust-9")
    timeline = list(NodeExecution.objects.filter(run=run).values())
    assert_clean("the timeline", _dump(timeline), "crm_contact")
    if backend == "sql":
        stored = RunContext.objects.filter(workflow_id=workflow_id).values_list("context", flat=True).get()
        assert_clean("the SQL context store", _dump(stored), "cust-9")
    else:
        assert_clean("the HBase context store", hbase_raw(workflow_id), "cust-9")
    assert_clean("the raw Temporal history", raw_history(workflow_id), "DriftWorkflow")
    deliveries = [d.payload for d in WebhookDelivery.objects.filter(run=run)]
    assert len(deliveries) == 2 and len(receiver.calls) == 2
    assert_clean("the webhook bodies", _dump(deliveries) + b"".join(b for b, _ in receiver.calls).decode(), workflow_id)
    # Everything Drift, the SDK, urllib3 and Celery logged; `werkzeug` is the CRM's own access log (not ours).
    log_text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if r.name != "werkzeug")
    assert_clean("the logs", log_text, "crm/contact")

    # A reader allowed to reveal sees the value, and is recorded.
    revealer = client_for(tenant, "auditor", scopes=("runtime", "reveal"))
    revealed = revealer.get(f"/v3/workflow/{workflow_id}", {"includeContext": "true"}).json()["_global"]
    assert revealed["customer"]["phone"] == PHONE and revealed["crm_contact"]["seen"]["phone"] == PHONE
    assert RevealAudit.objects.filter(workflow_id=workflow_id, actor="auditor/auditor", channel="api").count() == 1


def test_the_codec_endpoint_decodes_history_for_platform_operators_only(api, runs, tenant, crm, client, settings):
    """Issue 19 item 6: a namespace's payloads are every tenant's, so only superusers decode them (no tenant's
    `reveal` key, no staff user with `reveal_sensitive`), and the audit names whose runs were decoded. The HTTP node
    runs as a regular activity here (a long one's path), so that its input is in history to decode."""
    settings.DRIFT_LOCAL_NODE_MAX_SECONDS = 0
    plant_secrets(api)
    key = publish_flow(tenant, crm)
    started = api.post("/v3/workflow/start", {"params": {"workflowId": key}, "customer": {"phone": PHONE}},
                       format="json")
    workflow_id = started.json()["workflowId"]
    assert started.json()["view"]["inputOptions"][0]["instructions"][0]["templateVariables"]["phone"] == "***"

    async def inputs() -> tuple[str, str]:
        client_without_codec = await Client.connect(django_settings.TEMPORAL_ADDRESS)
        history = await client_without_codec.get_workflow_handle(workflow_id).fetch_history()
        activities = Payloads(payloads=[payload for event in history.events if event.HasField(
            "activity_task_scheduled_event_attributes") for payload in
            event.activity_task_scheduled_event_attributes.input.payloads])
        return (json_format.MessageToJson(history.events[0].workflow_execution_started_event_attributes.input),
                json_format.MessageToJson(activities))

    encrypted, activity_inputs = run_async(inputs())
    assert PHONE not in encrypted and "binary/encrypted" in base64.b64decode(
        json.loads(encrypted)["payloads"][0]["metadata"]["encoding"]).decode()

    url = reverse("codec-decode")
    assert client.post(url, encrypted, content_type="application/json").status_code == 401  # anonymous
    preflight = client.options(url, HTTP_ORIGIN="http://localhost:8233", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight.status_code == 200 and preflight["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Origin" not in client.options(url, HTTP_ORIGIN="https://evil.example")
    without_reveal = client_for(tenant, "plain", scopes=("runtime", "definitions"))
    assert without_reveal.post(url, encrypted, content_type="application/json").status_code == 403
    with_reveal = client_for(tenant, "cli", scopes=("reveal",))
    assert with_reveal.post(url, encrypted, content_type="application/json").status_code == 403  # tenant-bound
    operator = User.objects.create_user("operator", password="pw", is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="reveal_sensitive"))
    TenantMembership.objects.create(user=operator, tenant=tenant)
    client.login(username="operator", password="pw")
    assert client.post(url, encrypted, content_type="application/json").status_code == 403  # staff of one tenant
    assert not RevealAudit.objects.exists()
    User.objects.create_superuser("root", password="pw")
    client.login(username="root", password="pw")
    decoded = client.post(url, encrypted, content_type="application/json", HTTP_ORIGIN="http://localhost:8233")
    assert decoded.status_code == 200 and decoded["Access-Control-Allow-Origin"] == "http://localhost:8233"
    payload = json_format.Parse(decoded.content, Payloads()).payloads[0]
    assert payload.metadata["encoding"] == b"json/plain" and PHONE in payload.data.decode()
    assert RevealAudit.objects.filter(actor="root", tenant=tenant, channel="codec").exists()  # whose input
    assert client.post(url, activity_inputs, content_type="application/json", HTTP_X_NAMESPACE="default"
                       ).status_code == 200
    assert RevealAudit.objects.filter(actor="root", tenant=tenant, workflow_id=workflow_id, channel="codec").exists()

    encoded = client.post(reverse("codec-encode"), decoded.content, content_type="application/json")
    assert PHONE not in encoded.content.decode()
    assert client.post(url, encoded.content, content_type="application/json").content == decoded.content
    for bad in ('{"payloads": 5}', '{"payloads": [{"data": "not base64!"}]}', "[1]", '{"payloads": [{"x": 1}]}'):
        response = client.post(url, bad, content_type="application/json")
        assert response.status_code == 400, (bad, response.content)


def test_a_node_error_quoting_a_sensitive_value_is_masked_everywhere(api, runs, tenant, caplog):
    from devtools.testing.builders import script_node, state, workflow
    from devtools.testing.definitions import publish_definitions

    caplog.set_level(logging.DEBUG)
    failing = script_node("fail_loud", "return int(_global.customer.phone)")  # ValueError quoting the value
    publish_definitions(tenant, [failing], [workflow("loud", "fail_loud", [state("fail_loud")],
                                                     sensitivePaths=["$.customer.phone"])])
    answer = api.post("/v3/workflow/start", {"params": {"workflowId": "loud"}, "customer": {"phone": PHONE}},
                      format="json").json()
    assert answer["workflowStatus"] == "FAILED" and "invalid literal" in answer["errorMessage"], answer
    run = Run.objects.get(workflow_id=answer["workflowId"])
    everything = _dump([answer, Run.objects.filter(pk=run.pk).values().get(),
                        list(NodeExecution.objects.filter(run=run).values())])
    everything += "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert_clean("a failed node's error", everything, "fail_loud")
    history = raw_history(run.workflow_id)  # failure messages travel encoded (encrypted) as well
    assert b"DriftWorkflow" in history and b"invalid literal" not in history
