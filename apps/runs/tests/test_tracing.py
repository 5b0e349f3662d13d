"""Spec §14 end to end: tracing on, exported over OTLP/HTTP to a real local receiver (devtools/otlp_receiver.py
decodes the protobuf export), through the real stack: the REST API, a Temporal worker with the SDK's
TracingInterceptor, the HTTP node calling a local service, and a real Celery worker delivering the webhook."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from temporalio.client import Client
from werkzeug import Request, Response

import drift.temporal
from apps.runs.models import Run, WebhookDelivery
from devtools.otlp_receiver import OtlpReceiver, ReceivedSpan
from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.crm import PHONE, SECRETS, Crm, confirm_screen, crm_node, plant_secrets
from devtools.testing.definitions import publish_definitions
from devtools.testing.receivers import Receiver
from devtools.testing.rest import wait_for
from drift.codec import data_converter
from drift.temporal import run_async
from drift.tracing import temporal_interceptors, tracing_flush, tracing_init, tracing_shutdown

pytestmark = pytest.mark.temporal

DJANGO, REQUESTS = "opentelemetry.instrumentation.django", "opentelemetry.instrumentation.requests"


class TracedCrm(Crm):
    """The CRM of the secrets tests, also recording the `traceparent` each contact call carried."""

    def __init__(self, httpserver) -> None:
        self.traceparents: list[str] = []
        super().__init__(httpserver)

    def contact(self, request: Request) -> Response:
        self.traceparents.append(request.headers.get("traceparent", ""))
        return super().contact(request)


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    """Tracing on in this process (the SDK configured by its environment variables only), to a local receiver."""
    receiver = OtlpReceiver()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        patch.setenv("OTEL_TRACES_SAMPLER", "always_on")
        assert tracing_init("drift-api")
        yield receiver
        tracing_shutdown()
    receiver.close()


@pytest.fixture
def traced_stack(otlp, transactional_db, django_db_blocker, settings, monkeypatch) -> Iterator[OtlpReceiver]:
    """A worker and an API client built with tracing on (the session's were built before it was)."""
    from worker.main import build_worker

    queue = f"drift-traced-{uuid.uuid4().hex[:6]}"
    settings.TEMPORAL_TASK_QUEUE = queue
    monkeypatch.setattr(drift.temporal, "_client", None)  # the API's client is rebuilt, with the interceptor

    async def start() -> Any:
        client = await Client.connect(django_settings.TEMPORAL_ADDRESS, namespace=django_settings.TEMPORAL_NAMESPACE,
                                      data_converter=data_converter(), interceptors=temporal_interceptors())
        instance = build_worker(client, task_queue=queue)
        asyncio.ensure_future(instance.run())
        return instance

    with django_db_blocker.unblock():
        instance = run_async(start())
        otlp.clear()
        yield otlp
        run_async(instance.shutdown())


@pytest.fixture
def crm(httpserver, settings) -> TracedCrm:
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return TracedCrm(httpserver)


def publish_traced_flow(tenant: str, crm: Crm) -> str:
    """SCRIPT -> HTTP (secrets in its URL, header and OAuth; the phone is a sensitive path) -> WAIT -> screen."""
    nodes = [script_node("prepare", "return {'ready': True}"), crm_node(crm),
             wait_node("pause", waitType="SCHEDULER_WAIT", duration=0.2, executionMode="SYNC"), confirm_screen(),
             success_node()]
    states = [state("prepare", "prepare", "crm_contact"),
              state("crm_contact", "crm_contact", "pause", parameters={"phone": "$.customer.phone"}),
              state("pause", "pause", "confirm"), state("confirm", "confirm", "done"), state("done")]
    publish_definitions(tenant, nodes, [workflow("traced", "prepare", states, sensitivePaths=["$.customer.phone"])])
    return "traced"


def _start(api, headers: dict[str, str] | None = None, **extra: Any):
    body = {"params": {"workflowId": "traced"}, "customer": {"id": "cust-7", "phone": PHONE}}
    return api.post("/v3/workflow/start", body | extra, format="json", **(headers or {}))


def _exported(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    tracing_flush()  # the batch processor exports now: every span ended so far reaches the receiver
    return receiver.spans()


def _trace_of(traceparent: str) -> str:
    return traceparent.split("-")[1] if traceparent.count("-") == 3 else ""


def test_one_start_is_one_trace_from_the_api_to_the_downstream(api, tenant, crm, traced_stack, admin_client,
                                                               settings):
    plant_secrets(api)
    publish_traced_flow(tenant, crm)

    started = _start(api)
    assert started.status_code == 200 and started.json()["workflowStatus"] == "WAITING", started.json()
    workflow_id = started.json()["workflowId"]
    trace_id = api.get(f"/v3/workflow/{workflow_id}").json()["traceId"]
    assert len(trace_id) == 32 and trace_id == trace_id.lower() and int(trace_id, 16)
    resumed = api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {"selectedOptions": {"confirm": "y"}}},
                      format="json")
    assert resumed.json()["workflowStatus"] == "COMPLETED", resumed.json()

    spans = _exported(traced_stack)
    in_trace = [span for span in spans if span.trace_id == trace_id]
    names = {span.name for span in in_trace}
    # The start's request span (Django instrumentation) is the root; the Temporal start, the workflow and its
    # activities (TracingInterceptor), each node and the outbound HTTP calls are all in its trace.
    request = next(span for span in in_trace if span.scope == DJANGO and not span.parent_span_id)
    assert request.attributes.get("http.method", request.attributes.get("http.request.method")) == "POST"
    # (no start_run activity: the API pins the definition and writes the run's row itself; docs/engine.md)
    assert {"StartUpdateWithStartWorkflow:DriftWorkflow", "RunWorkflow:DriftWorkflow",
            "RunActivity:execute_node", "RunActivity:persist_run"} <= names
    nodes = {span.attributes["drift.node.instance"]: span for span in in_trace if span.name.startswith("node ")}
    assert {name: (span.attributes["drift.node.type"], span.attributes["drift.node.outcome"])
            for name, span in nodes.items()} == {"prepare": ("SCRIPT", "SUCCESS"), "crm_contact": ("HTTP", "SUCCESS"),
                                                 "pause": ("WAIT", "SUCCESS"), "confirm": ("INSTRUCTION", "SUCCESS")}
    calls = [span for span in in_trace if span.scope == REQUESTS]
    assert len(calls) == 2 and {span.parent_span_id for span in calls} == {nodes["crm_contact"].span_id}  # token, CRM
    assert [_trace_of(header) for header in crm.traceparents] == [trace_id]  # the downstream got the trace
    run = Run.objects.get(workflow_id=workflow_id)
    assert run.trace_id == trace_id
    settings.DRIFT_TRACE_URL_TEMPLATE = "https://tempo.example/explore?trace={traceId}"
    page = admin_client.get(reverse("admin:runs_run_change", args=[run.pk])).content.decode()
    assert f'href="https://tempo.example/explore?trace={trace_id}"' in page

    # The resume is a request span of its own trace, linked to the run's; the workflow's update handler joins
    # the run's trace, linked back to the resume's.
    resume = next(span for span in spans if span.name == "PUT v3/workflow/resume/<str:workflow_id>")
    assert resume.trace_id != trace_id
    assert [(link[0], link[1]) for link in resume.links] == [(trace_id, request.span_id)]
    handled = next(span for span in in_trace if span.name == "HandleUpdate:resume")
    assert [link[0] for link in handled.links] == [resume.trace_id]

    _assert_nothing_sensitive(spans, workflow_id)


def test_a_start_with_traceparent_joins_the_callers_trace_and_so_does_its_webhook(api, tenant, crm, httpserver,
                                                                                   traced_stack, celery_worker):  # noqa: F811
    plant_secrets(api)
    publish_traced_flow(tenant, crm)
    receiver = Receiver(httpserver, "/hook")
    caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]

    started = _start(api, {"HTTP_TRACEPARENT": f"00-{caller_trace}-{caller_span}-01"}, mode="ASYNC",
                     callbackUrl=receiver.url)
    assert started.status_code == 202, started.json()
    workflow_id = started.json()["workflowId"]
    wait_for(lambda: WebhookDelivery.objects.filter(run__workflow_id=workflow_id, event="WAITING",
                                                    status="DELIVERED").exists(), "the WAITING webhook")

    assert api.get(f"/v3/workflow/{workflow_id}").json()["traceId"] == caller_trace
    assert [_trace_of(headers.get("Traceparent", "")) for _, headers in receiver.calls] == [caller_trace]
    assert [_trace_of(header) for header in crm.traceparents] == [caller_trace]
    spans = _exported(traced_stack)
    request = next(span for span in spans if span.scope == DJANGO and span.trace_id == caller_trace)
    assert request.parent_span_id == caller_span
    delivery = {span.name for span in spans if span.trace_id == caller_trace and "deliver_webhook" in span.name}
    assert delivery == {"apply_async/apps.runs.tasks.deliver_webhook", "run/apps.runs.tasks.deliver_webhook"}
    searched = api.get("/v3/workflow", {"traceId": caller_trace}).json()["items"]
    assert [item["workflowId"] for item in searched] == [workflow_id]

    _assert_nothing_sensitive(spans, workflow_id)


def _assert_nothing_sensitive(spans: list[ReceivedSpan], workflow_id: str) -> None:
    """No span attribute, event, link or status holds a secret, the sensitive phone or the OAuth token. Positive
    control: the run's workflow id is found there (the search looks at the spans' attributes)."""
    text = "\n".join(span.text() for span in spans)
    assert workflow_id in text
    for planted in (PHONE, *SECRETS.values(), "access-token-"):
        assert planted not in text, f"a span holds {planted!r}"
