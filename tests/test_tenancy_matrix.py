"""The tenancy matrix (issue 19, docs/security.md "The model"): every URL pattern of the project, found through
Django's URL resolver (admin included, so a new page cannot be missed), is requested by tenant B with tenant A's
object ids in the URL and every method the route accepts:

- as a staff user bound only to tenant B holding every model permission (not a superuser), and
- with tenant B's API key carrying every scope.

Nothing of A may be read (A's marker and identifiers never appear in a response unless the request carried them)
and nothing of A may be written (A's rows and stored context are unchanged, no Temporal call names A). A route
that needs no tenant is listed in TENANT_FREE with its reason; any other route without a way to fill its URL
fails the test. Platform rows (host limits, superusers only) are neither read nor written by B either.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from temporalio.service import RPCError, RPCStatusCode

from apps.clients.models import TenantDefaults, TenantMembership
from apps.clients.services import api_key_create
from apps.definitions.models import AuditEntry, EnumEntry, NodeDefinition, Route, RouteVariant, WorkflowDefinition
from apps.nodes.models import HostLimit
from apps.operations.models import BulkItem, BulkJob, Schedule
from apps.runs.context_store import get_context_store
from apps.runs.models import NodeExecution, Run, WebhookAttempt, WebhookDelivery
from apps.secrets.models import RevealAudit
from apps.secrets.services import secret_put
from apps.tasks.models import Task
from apps.trials import models as trials_models
from apps.triggers.models import Trigger, TriggerDedupe, TriggerEvent
from devtools.testing.builders import instruction_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions

# Routes that serve no tenant's rows, each with its reason (everything else is requested below).
TENANT_FREE = {
    "admin/login/": "the login form",
    "admin/logout/": "ends the caller's own session",
    "admin/password_change/": "the caller's own password",
    "admin/password_change/done/": "a static confirmation",
    "admin/jsi18n/": "the admin's JavaScript translations",
    "api/schema/": "the OpenAPI document: no data",
    "api/docs/": "the Swagger page over the schema",
    "healthz": "liveness: no data",
    "readyz": "readiness of the dependencies: no tenant data",
    "metrics": "bearer-token Prometheus metrics for the platform operators (docs/operations.md)",
    "dslSchema/": "the DSL's JSON schema: no data",
}

# Models of the project whose rows reach their tenant through a relation (others have a `tenant` field).
TENANT_PATHS = {
    "definitions.DefinitionVersion": "definition__tenant", "definitions.RouteVariant": "route__tenant",
    "runs.NodeExecution": "run__tenant", "runs.WebhookDelivery": "run__tenant",
    "runs.WebhookAttempt": "delivery__run__tenant", "operations.BulkItem": "job__tenant",
    "clients.ApiKey": "client__tenant",
    "triggers.TriggerDedupe": "trigger__tenant",
}
# Project models without a tenant, each with its reason.
TENANT_FREE_MODELS = {
    "runs.RunContext": "the sql context store, keyed by workflow id: compared through the store below",
    "nodes.HostLimit": "shared by every tenant, kept by superusers: every row is compared below (platform rows)",
}

PATH_PARAM = re.compile(r"(?<!\?P)<(?:\w+:)?(\w+)>")
REGEX_PARAM = re.compile(r"\(\?P<(\w+)>([^)]*)\)")


def url_patterns(patterns: list | None = None, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """(route, pattern) for every pattern of the project, includes followed."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def methods_of(pattern: URLPattern) -> list[str]:
    """The methods a route accepts: a class-based view's handlers; GET and POST for the admin's views."""
    view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if view_class is None:
        return ["GET", "POST"]
    return [method.upper() for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)]


@dataclass
class TenantA:
    """Tenant A's objects: `marker` is in their data; `idents` are their identifiers (echoing one the request
    carried is no leak, showing one it did not is)."""

    tenant: str
    marker: str
    objects: dict[str, Any] = field(default_factory=dict)  # admin prefix ("runs/run") -> an A object
    pks: dict[str, list[int]] = field(default_factory=dict)  # admin prefix -> A's pks (changelist actions)
    values: dict[str, str] = field(default_factory=dict)  # URL kwarg -> value
    idents: list[str] = field(default_factory=list)


def make_tenant_a() -> TenantA:
    token = uuid.uuid4().hex[:8]
    a = TenantA(tenant=f"ta{token}", marker=f"MARKA{token}")
    ident = lambda name: f"{name}-{token}"  # noqa: E731 - A's identifiers, recognisable in any page
    node, screen, flow = ident("anode"), ident("ascreen"), ident("aflow")
    publish_definitions(a.tenant, [script_node(node, f"return '{a.marker}'"),
                                   instruction_node(screen, [{"id": "approve"}], layoutId=a.marker), success_node()],
                        [workflow(flow, "fetch", [state("fetch", node, "ask"), state("ask", screen, "done"),
                                                  state("done", "done")])])
    waiting = Run.objects.create(
        workflow_id=ident("arun"), tenant=a.tenant, definition_key=flow, definition_version=1, status="WAITING",
        current_node="ask", customer_id=a.marker, client_id=ident("aclient"),
        view={"layoutId": a.marker, "inputOptions": [{"id": "approve"}]}, start_request={"params": {"n": a.marker}})
    failed = Run.objects.create(workflow_id=ident("afailed"), tenant=a.tenant, definition_key=flow,
                                definition_version=1, status="FAILED", error_message=a.marker, current_node="fetch")
    for run in (waiting, failed):
        get_context_store().save(run.workflow_id, context={"params": {"n": a.marker}}, current_node="ask",
                                 status=run.status, seq=1)
    NodeExecution.objects.create(run=failed, seq=1, instance_name="fetch", node_type="SCRIPT", outcome="FAILURE",
                                 error=a.marker, started_at=timezone.now(), duration_ms=1)
    task = Task.objects.create(run=waiting, tenant=a.tenant, workflow_id=waiting.workflow_id, definition_key=flow,
                               node=ident("atask"), screen=1, group="ops", waiting_since=timezone.now())
    delivery = WebhookDelivery.objects.create(delivery_id=ident("adelivery"), run=failed, event="run.failed",
                                              url="https://a.example/hook", payload={"n": a.marker})
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=500, error=a.marker, duration_ms=1)
    job = BulkJob.objects.create(job_id=ident("ajob"), tenant=a.tenant, op="TERMINATE", created_by=a.marker,
                                 selection={"ids": [waiting.workflow_id]}, total=1)
    BulkItem.objects.create(job=job, workflow_id=waiting.workflow_id, state="FAILED", error=a.marker)
    schedule = Schedule.objects.create(tenant=a.tenant, schedule_id=ident("aschedule"), workflow_key=flow,
                                       cron="0 0 * * *", start={"params": {"n": a.marker}}, created_by=a.marker)
    route = Route.objects.create(tenant=a.tenant, issue_id=ident("aissue"), workflow_key=flow)
    RouteVariant.objects.create(route=route, workflow_key=flow, weight=1)
    enum = EnumEntry.objects.create(tenant=a.tenant, key=ident("aenum"), value={"n": a.marker})
    audit = AuditEntry.objects.create(tenant=a.tenant, kind="WORKFLOW", key=flow, action="UPDATE", actor=a.marker,
                                      details={"n": a.marker})
    secret = secret_put(tenant=a.tenant, name=ident("asecret").replace("-", "_"), value=a.marker, actor=a.marker)
    reveal = RevealAudit.objects.create(actor=a.marker, tenant=a.tenant, workflow_id=waiting.workflow_id,
                                        channel="admin")
    report = trials_models.TestReport.objects.create(
        tenant=a.tenant, workflow_key=flow, version=0, passed=False, actor=a.marker,
        cases=[{"name": a.marker, "passed": False, "failure": a.marker}])
    trigger = Trigger.objects.create(tenant=a.tenant, trigger_id=ident("atrigger"), action="START", workflow_key=flow,
                                     mapping={"params.n": a.marker}, auth={"kind": "TOKEN", "secret": secret.name},
                                     created_by=a.marker)
    event = TriggerEvent.objects.create(event_id=ident("aevent").replace("-", ""), tenant=a.tenant, trigger=trigger,
                                        status="DONE", body={"n": a.marker}, workflow_id=waiting.workflow_id)
    TriggerDedupe.objects.create(trigger=trigger, value_hash="0" * 64, event_id=event.event_id)
    key, _ = api_key_create(tenant=a.tenant, client_id=ident("aclient"), scopes=["runtime", "definitions", "reveal"])
    key.client.name, key.client.callback_url = a.marker, "https://a.example/hook"
    key.client.save()
    alice = User.objects.create_user(ident("alice"), password="pw-alice-1", is_staff=True,
                                     email=f"{a.marker}@a.example")
    membership = TenantMembership.objects.create(user=alice, tenant=a.tenant)
    defaults = TenantDefaults.objects.create(tenant=a.tenant, limits={"maxConcurrentRuns": 7, "overflow": "QUEUE"})
    # Not A's: a platform row no tenant may read or change (its host counts as a leak like A's ids).
    host_limit = HostLimit.objects.create(host=f"{ident('ahost')}.example", requests_per_second=3, max_in_flight=2)
    group = Group.objects.get_or_create(name="ops")[0]
    alice.groups.add(group)
    node_def = NodeDefinition.objects.get(tenant=a.tenant, key=node)
    flow_def = WorkflowDefinition.objects.get(tenant=a.tenant, key=flow)
    a.objects = {
        "runs/run": waiting, "operations/bulkjob": job, "operations/schedule": schedule,
        "runs/webhookdelivery": delivery,
        "tasks/task": task, "definitions/route": route, "definitions/enumentry": enum, "definitions/auditentry": audit,
        "definitions/nodedefinition": node_def, "definitions/workflowdefinition": flow_def, "secrets/secret": secret,
        "secrets/revealaudit": reveal, "clients/apiclient": key.client, "clients/tenantmembership": membership,
        "clients/tenantdefaults": defaults,
        "auth/user": alice, "auth/group": group, "inbox": task, "triggers/trigger": trigger,
        "triggers/triggerevent": event, "nodes/hostlimit": host_limit,
    }
    a.pks = {prefix: [obj.pk] for prefix, obj in a.objects.items()}
    a.pks["runs/run"] = [waiting.pk, failed.pk]
    a.values = {
        "workflow_id": waiting.workflow_id, "schedule_id": schedule.schedule_id, "job_id": job.job_id,
        "event_name": "approve", "issue_id": route.issue_id, "name": secret.name, "version": "1",
        "report_id": str(report.pk), "content_type_id": str(ContentType.objects.get_for_model(Run).pk),
        "url": f"runs/run/{waiting.pk}/", "id": str(alice.pk),
        "node_key": node, "flow_key": flow, "enum_key": enum.key, "failed_pk": str(failed.pk),
        "trigger_id": trigger.trigger_id, "host": host_limit.host,
        "tenant": a.tenant,  # the workflow builder's palette and validation, the inbound hook
    }
    a.idents = [a.marker, waiting.workflow_id, failed.workflow_id, node, screen, flow, task.node, delivery.delivery_id,
                job.job_id, schedule.schedule_id, route.issue_id, enum.key, secret.name, key.client.client_id,
                alice.username, key.prefix, trigger.trigger_id, event.event_id, a.tenant, ident("ahost")]
    return a


# --- what tenant A has (the write check)


def tenant_rows(a: TenantA) -> dict[str, list[dict]]:
    """Every row of A in every model of the project (a model without a way to A fails the test), A's stored
    contexts, A's users and memberships, and who may act for A."""
    rows: dict[str, list[dict]] = {}
    for model in django_apps.get_models():
        label = model._meta.label
        if not model.__module__.startswith("apps.") or model._meta.proxy or label in TENANT_FREE_MODELS:
            continue
        path = TENANT_PATHS.get(label) or ("tenant" if any(f.name == "tenant" for f in model._meta.fields) else None)
        assert path, f"{label}: add its tenant path to TENANT_PATHS (or a reason to TENANT_FREE_MODELS)"
        rows[label] = list(model.objects.filter(**{path: a.tenant}).order_by("pk").values())
    for workflow_id in (a.values["workflow_id"], a.objects["runs/webhookdelivery"].run.workflow_id):
        stored = get_context_store().load(workflow_id)
        rows[f"context {workflow_id}"] = [{"context": stored.context, "seq": stored.seq} if stored else {}]
    users = User.objects.filter(tenant_memberships__tenant=a.tenant) | User.objects.filter(is_superuser=True)
    users = users.distinct()
    rows["users acting for A"] = list(users.order_by("pk").values("pk", "username", "password", "is_staff",
                                                                       "is_superuser", "is_active", "email"))
    rows["A's users' groups and permissions"] = [
        {"groups": sorted(user.groups.values_list("pk", flat=True)),
         "permissions": sorted(user.user_permissions.values_list("pk", flat=True))} for user in users.order_by("pk")]
    rows["platform rows: host limits"] = list(HostLimit.objects.order_by("pk").values())
    ops = Group.objects.get(name="ops")
    rows["group ops"] = [{"permissions": sorted(ops.permissions.values_list("pk", flat=True))}]
    return rows


class TemporalGuard:
    """Stands for the Temporal client: records each call (and refuses it), so an operation on A is seen even
    when it would have failed against the server."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append(f"{name} {args!r} {kwargs!r}")
            raise RPCError("Temporal is out of reach in the tenancy matrix", RPCStatusCode.UNAVAILABLE, b"")

        return call


# --- the requests


def admin_prefix(route: str) -> str | None:
    match = re.match(r"admin/(\w+/\w+)/", route)
    if route.startswith("admin/inbox/"):
        return "inbox"
    apps = {"runs", "operations", "definitions", "secrets", "tasks", "clients", "auth", "triggers", "nodes"}
    return match.group(1) if match and match.group(1).split("/")[0] in apps else None


def kwarg_values(a: TenantA, route: str, name: str, body: str) -> list[str] | None:
    """The values to put in the URL for a kwarg: A's object of this admin, A's ids, or each alternative."""
    if re.fullmatch(r"[\w|]+", body or "") and "|" in body:
        return body.split("|")  # (?P<op>terminate|rerun|redrive): each one
    prefix = admin_prefix(route)
    if name in ("pk", "object_id") and prefix in a.objects:
        return [str(a.objects[prefix].pk)] + ([a.values["failed_pk"]] if prefix == "runs/run" else [])
    if name == "object_id" and route.startswith("admin/r/"):
        return [str(a.objects["runs/run"].pk)]
    if name == "key":
        kind = "enum_key" if route.startswith("enumStore") else "node_key" if "nodeDefinition" in route else "flow_key"
        return [a.values[kind]]
    return [a.values[name]] if name in a.values else None


def concrete_urls(a: TenantA, route: str) -> list[str] | None:
    """`route` with A's values in it (one URL per alternative); None when a kwarg has no value here."""
    urls = ["/" + route.replace("^", "").replace("$", "").replace("/?", "/")]
    for name, body in [(m, "") for m in PATH_PARAM.findall(route)] + REGEX_PARAM.findall(route):
        values = kwarg_values(a, route, name, body)
        if values is None:
            return None
        expanded = []
        for url in urls:
            for value in values:
                expanded.append(re.sub(rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", value, url, count=1))
        urls = expanded
    return urls


def admin_form(a: TenantA, prefix: str, b_user: User) -> dict[str, Any]:
    """A plausible add/change form of each admin, aimed at tenant A."""
    flow, node = a.values["flow_key"], a.values["node_key"]
    forms = {
        "operations/schedule": {"schedule_id": "forged", "workflow_key": flow, "cron": "0 0 * * *",
                                "overlap": "SKIP", "start": "{}"},
        "secrets/secret": {"name": a.values["name"], "value": "forged-value"},
        "definitions/nodedefinition": {"document": json.dumps(script_node(node, "return 'forged'"))},
        "definitions/workflowdefinition": {"document": json.dumps(workflow(flow, "fetch", [state("fetch", node)]))},
        "definitions/route": {"issue_id": a.values["issue_id"], "workflow_key": flow, "version": "ACTIVE",
                              "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0"},
        "definitions/enumentry": {"key": a.values["enum_key"], "value": '{"forged": 1}'},
        "clients/apiclient": {"client_id": "forged", "name": "forged", "callback_url": "https://b.example/hook",
                              "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"},
        "clients/tenantmembership": {"user": str(b_user.pk)},
        "clients/tenantdefaults": {"tenant": a.tenant, "limits": '{"maxConcurrentRuns": 1}'},
        "auth/user": {"username": "forged", "password1": "Forged-pass-123", "password2": "Forged-pass-123",
                      "usable_password": "true", "is_staff": "on", "is_superuser": "on", "is_active": "on",
                      "tenant_memberships-TOTAL_FORMS": "1", "tenant_memberships-INITIAL_FORMS": "0",
                      "tenant_memberships-0-tenant": a.tenant},
        "auth/group": {"name": "ops", "permissions": list(Permission.objects.values_list("pk", flat=True))},
        "nodes/hostlimit": {"host": a.values["host"], "requests_per_second": "1000", "burst": "1",
                            "max_in_flight": ""},
        "triggers/trigger": {"trigger_id": a.values["trigger_id"], "action": "START", "workflow_key": flow,
                             "mapping": '{"params.n": "forged"}', "correlation": "{}", "enabled": "on",
                             "auth": json.dumps({"kind": "TOKEN", "secret": a.values["name"]})},
    }
    return {"tenant": a.tenant, **forms.get(prefix, {})}


def admin_bodies(a: TenantA, route: str, b_user: User) -> list[dict[str, Any]]:
    """POST bodies for an admin route: each changelist action on A's pks, forms aimed at A, custom views' fields."""
    prefix = admin_prefix(route)
    if prefix and prefix not in ("inbox",) and route == f"admin/{prefix}/":
        model_admin = next(m for model, m in admin.site._registry.items()
                           if f"{model._meta.app_label}/{model._meta.model_name}" == prefix)
        names = {name for name in model_admin.actions or [] if isinstance(name, str)} | {"delete_selected"}
        return [{"action": name, "_selected_action": a.pks[prefix], "index": "0", "post": "yes"} for name in names]
    if route.endswith(("/add/", "/change/")) and prefix:
        return [admin_form(a, prefix, b_user)]
    if route.endswith("/redrive/"):
        return [{"from_node": "fetch", "version": "SAME", "context_patch": '{"forged": 1}'}]
    if route.endswith("/test-event/"):
        return [{"body": '{"forged": 1}', "headers": "{}", "query": "{}", name: "1"} for name in ("preview", "send")]
    if route.endswith("/activate/"):
        return [{"version": "1"}]
    if route.endswith("/password/"):
        return [{"password1": "Forged-pass-123", "password2": "Forged-pass-123", "usable_password": "true"}]
    if route.endswith("/import-drift/"):
        upload = SimpleUploadedFile("forged.json", json.dumps(script_node("forged", "return 1")).encode())
        return [{"tenant": a.tenant, "files": upload, "publish": "on"}]
    if route.startswith("admin/inbox/"):
        return [{"approve": "approve", "selectedOptions": "approve", "_submit": "approve"}]
    return [{"post": "yes", "version": "SNAPSHOT"}]


def api_body(a: TenantA, name: str | None, payload: dict) -> dict[str, Any]:
    """A plausible JSON body per API route (the request is B's: A's ids in it must reach nothing of A)."""
    flow, node = a.values["flow_key"], a.values["node_key"]
    ids = [a.values["workflow_id"], a.objects["runs/webhookdelivery"].run.workflow_id]
    bodies = {
        "runtime-start": {"workflowId": flow, "params": {}},
        "runtime-resume": {"viewResponse": {"selectedOptions": ["approve"]}},
        "runtime-redrive": {"fromNode": "fetch", "contextPatch": {"forged": 1}},
        "bulk-start": {"ids": ids},
        "schedules": {"id": a.values["schedule_id"], "workflowId": flow, "cron": "0 0 * * *"},
        "schedule": {"workflowId": flow, "cron": "0 0 * * *"},
        "codec-decode": payload, "codec-encode": payload,
        "secrets-list": {"name": a.values["name"], "value": "forged-value"},
        "secrets-detail": {"value": "forged-value"},
        "routes-detail": {"workflowId": flow, "version": "ACTIVE"},
        "enum-entry": {"value": {"forged": 1}},
        "client-webhook": {"callbackUrl": "https://b.example/hook"},
        "node-dry-run": {"context": {}, "parameters": {}},
        "nodeDefinition-list": script_node(node, "return 'forged'"),
        "nodeDefinition-detail": script_node(node, "return 'forged'"),
        "nodeDefinition-validate": script_node(node, "return 'forged'"),
        "workflowDefinition-list": workflow(flow, "fetch", [state("fetch", node)]),
        "workflowDefinition-detail": workflow(flow, "fetch", [state("fetch", node)]),
        "workflowDefinition-validate": workflow(flow, "fetch", [state("fetch", node)]),
        "triggers": {"id": a.values["trigger_id"], "action": "START", "workflow": {"workflowDefinitionId": flow},
                     "auth": {"kind": "TOKEN", "secret": a.values["name"]}},
        "trigger": {"action": "START", "workflow": {"workflowDefinitionId": flow},
                    "auth": {"kind": "TOKEN", "secret": a.values["name"]}},
        "hook": {"forged": 1},
        "host-limits": {"host": "forged.example", "maxInFlight": 1},
        "host-limit": {"requestsPerSecond": 1000, "maxInFlight": 1000},
    }
    return bodies.get(name or "", {"version": 1})


def a_payload(a: TenantA) -> dict:
    """One of A's Temporal payloads, encrypted as the worker stores it, as the codec protocol carries it."""
    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads
    from temporalio.converter import DataConverter

    from drift.codec import payload_codec

    payloads = DataConverter.default.payload_converter.to_payloads([{"tenant": a.tenant, "n": a.marker}])
    return json_format.MessageToDict(Payloads(payloads=payload_codec().encode_now(payloads)))


def readable(response) -> str:
    """The response as text, with base64 strings decoded too (codec payloads carry JSON in base64)."""
    text = b"".join(response.streaming_content).decode(errors="replace") if response.streaming else \
        response.content.decode(errors="replace")
    for candidate in re.findall(r"[A-Za-z0-9+/=]{16,}", text):
        try:
            text += " " + base64.b64decode(candidate, validate=True).decode(errors="replace")
        except (binascii.Error, ValueError):
            continue
    return text


@dataclass
class Principal:
    name: str
    client: Client
    api_headers: dict[str, str]


@dataclass
class Findings:
    reads: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requested: set[str] = field(default_factory=set)
    written: str = ""  # what B's writes carried: B may then read its own rows named like A's (a PUT /routes/<id>)


@dataclass
class Call:
    method: str
    url: str
    api: bool
    data: Any = None


def request(principal: Principal, call: Call, a: TenantA, findings: Findings) -> None:
    """One request by B; records any of A's tokens in the answer that neither this request nor an earlier write
    of B carried (A's marker is never sent: it counts everywhere)."""
    kwargs: dict[str, Any] = {"headers": principal.api_headers} if call.api else {}
    sent = call.url + (json.dumps(principal.api_headers) if call.api else "")
    if call.api and call.data is not None:
        kwargs.update(data=json.dumps(call.data), content_type="application/json")
        sent += kwargs["data"]
    elif call.data is not None:
        kwargs["data"] = call.data
        sent += json.dumps({k: v for k, v in call.data.items() if isinstance(v, (str, list))})
    response = getattr(principal.client, call.method.lower())(call.url, **kwargs)
    answer = readable(response)
    shown = [token for token in a.idents if token in answer and token not in sent and token not in findings.written]
    if shown:
        findings.reads.append(f"{principal.name} {call.method} {call.url} -> {response.status_code}: shows {shown}")
    if response.status_code == 500:  # bad input is a 4xx (an unreachable Temporal: 503)
        findings.errors.append(f"{principal.name} {call.method} {call.url} -> {response.status_code}")
    if call.method != "GET":
        findings.written += sent


def calls(a: TenantA, b_user: User, findings: Findings) -> list[Call]:
    """Every route with A's ids, with every method it accepts (admin POSTs: each action, form and field set)."""
    payload, result = a_payload(a), []
    for route, pattern in url_patterns():
        if route in TENANT_FREE or (urls := concrete_urls(a, route)) is None:
            continue  # an unfilled route is reported by the test
        findings.requested.add(route)
        api = not route.startswith("admin/")
        for url in urls:
            for method in methods_of(pattern):
                if method == "GET":
                    result.append(Call("GET", url, api))
                elif api:
                    result.append(Call(method, url, True, api_body(a, pattern.name, payload)))
                else:
                    result.extend(Call("POST", url, False, body) for body in admin_bodies(a, route, b_user))
    # and the staff user's own account: no superuser status, no tenant of A, no permission, by its own page
    own = {**admin_form(a, "auth/user", b_user), "username": b_user.username}
    result.append(Call("POST", f"/admin/auth/user/{b_user.pk}/change/", False, own))
    return result


def exercise(principals: list[Principal], a: TenantA, b_user: User, findings: Findings) -> None:
    """Every read first (before B's writes name anything like A's), then every write."""
    every = calls(a, b_user, findings)
    for reads in (True, False):
        for principal in principals:
            for call in every:
                if (call.method == "GET") == reads:
                    request(principal, call, a, findings)


@pytest.fixture
def temporal_guard(monkeypatch) -> TemporalGuard:
    import apps.runs.runtime
    import apps.trials.runner

    guard = TemporalGuard()

    async def client() -> TemporalGuard:
        return guard

    monkeypatch.setattr(apps.runs.runtime, "temporal_client", client)
    monkeypatch.setattr(apps.trials.runner, "temporal_client", client)
    return guard


def tenant_b_principals(b_tenant: str, a_tenant: str) -> tuple[list[Principal], User]:
    staff = User.objects.create_user(f"bob-{b_tenant}", password="pw-bob-1", is_staff=True)
    staff.user_permissions.set(Permission.objects.all())  # every model permission, not a superuser
    staff.groups.add(Group.objects.get_or_create(name="ops")[0])  # the group A's task is assigned to
    TenantMembership.objects.create(user=staff, tenant=b_tenant)
    session = Client(raise_request_exception=False)
    session.force_login(staff)
    _, raw_key = api_key_create(tenant=b_tenant, client_id="b-client", scopes=["runtime", "definitions", "reveal"])
    keyed = Client(raise_request_exception=False)
    return [
        # The staff user names A in the tenant header: the API must refuse a tenant the user is not bound to.
        Principal("staff of B", session, {"X-Tenant-Id": a_tenant}),
        Principal("B's API key", keyed, {"Authorization": f"Api-Key {raw_key}", "X-Tenant-Id": b_tenant,
                                         "X-Client-Id": "b-client"}),
    ], staff


def test_tenant_b_neither_reads_nor_writes_tenant_a_on_any_route(db, temporal_guard):
    a = make_tenant_a()
    b_tenant = a.tenant.replace("ta", "tb", 1)
    principals, b_user = tenant_b_principals(b_tenant, a.tenant)
    before = tenant_rows(a)

    findings = Findings()
    exercise(principals, a, b_user, findings)

    unfilled = [route for route, _ in url_patterns() if route not in TENANT_FREE and route not in findings.requested]
    assert not unfilled, f"routes neither requested nor listed in TENANT_FREE (give their kwargs a value): {unfilled}"
    after = tenant_rows(a)
    writes = [f"{label}: gone {json.dumps([r for r in before[label] if r not in after[label]], default=str)[:800]}"
              f" new {json.dumps([r for r in after[label] if r not in before[label]], default=str)[:800]}"
              for label in before if before[label] != after[label]]
    a_names = [a.tenant, *a.idents[1:3], a.objects["operations/schedule"].temporal_id]
    temporal_a = [call[:300] for call in temporal_guard.calls if any(name in call for name in a_names)]
    problems = [*(f"read: {read}" for read in findings.reads), *(f"write: {write}" for write in writes),
                *(f"Temporal call for A: {call}" for call in temporal_a),
                *(f"500: {error}" for error in findings.errors)]
    assert not problems, "tenant B reached tenant A:\n" + "\n".join(problems)
