"""Schemathesis over /api/schema/, in-process through the WSGI app: no generated request gets a 500."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
from pathlib import Path

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import settings as settings_
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from apps.clients.services import api_key_create
from apps.secrets.services import secret_put
from devtools.testing.rest import start_order

pytestmark = pytest.mark.temporal


def _import_all_of(package) -> None:
    """Import every submodule now, at collection. pytest rewrites (compiles) schemathesis' modules, a plugin,
    on import; done lazily mid-test it raced compiles in worker threads, which CPython 3.11.7 turns into
    "SystemError: AST constructor recursion depth mismatch"."""
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        try:
            importlib.import_module(module.name)
        except ImportError:  # optional integrations whose libraries are not installed
            continue


_import_all_of(schemathesis)

MAX_EXAMPLES = 12


def _auth_headers(tenant: str) -> dict[str, str]:
    _, raw_key = api_key_create(tenant=tenant, client_id="fuzz", scopes=["runtime", "definitions", "reveal"])
    return {"Authorization": f"Api-Key {raw_key}", "X-Tenant-Id": tenant, "X-Client-Id": "fuzz"}


def _server_errors(operation, headers: dict[str, str], mode: GenerationMode, **fixed) -> list[str]:
    found: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, headers=headers, **fixed))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    def probe(case) -> None:
        response = case.call()
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (AssertionError, FailureGroup):  # collect every failure, report them together
            found.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

    try:
        probe()
    except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
        assert mode == GenerationMode.NEGATIVE, f"{operation.method} {operation.path}: no valid request generated"
    return found


def _run_operations_last_terminate(operations: list) -> list:
    return sorted(operations, key=lambda op: "terminate" in op.path)


def test_fuzzed_requests_never_get_a_server_error(api, samples, tenant, settings):
    settings.DRIFT_SYNC_TIMEOUT_SECONDS = 2  # a generated start that does run must not hold the test long
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    headers = _auth_headers(tenant)
    errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/v3/workflow/start" for op in operations)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            errors += _server_errors(operation, headers, mode)
    # Fuzzed bodies against a real WAITING run reach Temporal (resume, events, disconnected nodes, terminate).
    waiting = start_order(api, "1").json()["workflowId"]
    for operation in _run_operations_last_terminate([op for op in operations if "{workflow_id}" in op.path]):
        errors += _server_errors(operation, _auth_headers(tenant), GenerationMode.POSITIVE,
                                 path_parameters={"workflow_id": waiting})
    _delete_fuzzed_schedules(api)
    assert errors == []


@pytest.fixture
def no_fuzzed_schedules_left(api):
    """Hostile bodies may create schedules; none may go on firing after the test (torn down before `db`)."""
    yield
    _delete_fuzzed_schedules(api)


def _delete_fuzzed_schedules(api) -> None:
    """Generated schedules would go on firing in Temporal for the rest of the session. Every fuzzed request
    carries the tenant's key, so the tenant's schedule list holds them all; deleted through the API."""
    for row in api.get("/v3/schedules/").json():
        assert api.delete(f"/v3/schedules/{row['id']}").status_code == 204


def test_definition_api_rejects_a_non_ascii_version_number(api, db):
    assert api.get("/nodeDefinition/anything?version=%C2%B2").status_code == 400


# --------------------------------------------------------------------------- hostile bodies (issue 8)
# Schemathesis never generates NaN, Infinity, lone surrogates or absurd nesting (its JSON is valid JSON), so
# every JSON endpoint also gets bodies (generated by schemathesis, plus realistic ones) with such a value
# injected at a hypothesis-chosen place: the answer is a 400 naming that place. Wrong types at every field
# never get a 5xx; huge bodies get 413, sent with a Content-Length or chunked (no length).

POISONS = [  # (raw JSON text, what the 400 says)
    ("NaN", "finite"), ("-Infinity", "finite"), ("Infinity", "finite"), ("1e999", "finite"), ("-4e400", "finite"),
    ('"\\ud800"', "surrogate"), ('"ok\\udfff"', "surrogate"), ('{"k": ["\\udbff"]}', "surrogate"),
    ("[" * 150 + "]" * 150, "nested deeper"), ('{"a":' * 120 + "1" + "}" * 120, "nested deeper"),
]
SURROGATE_KEY = '"\\ud83d"'
WRONG_SCALARS = [None, True, False, 0, -1, 2**63, 1.5, -0.0, "", "x" * 300, "SNAPSHOT"]
WRONG_LISTS = [[], [None], [[[]]], ["SUCCESS"], [1, "a"]]
WRONG_OBJECTS = [{}, {"": None}, {"type": ["SUCCESS"]}, {"HTTP": 1}]
WRONG_TYPES = WRONG_SCALARS + WRONG_LISTS + WRONG_OBJECTS
HOSTILE_EXAMPLES = 40
_MARK = "__drift_poison__"


def _body_operations(schema) -> list[tuple[str, str]]:
    """(method, path template) of every operation that reads a JSON body; DELETE terminate reads one too,
    although OpenAPI (and so the schema) has no request body for DELETE."""
    ops = [(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations()) if op.body]
    return [*ops, ("DELETE", "/v3/workflow/terminate/{workflow_id}")]


TRIGGER = {"id": "fuzz-trigger", "action": "START", "workflow": {"issueId": "order_status"},
           "mapping": {"params.orderId": "$.body.order.id", "customer.id": "$.headers.x-shop", "params.k": "lit",
                       "incidentId": {"literal": "$.x"}},
           "dedupeKey": "$.body.id", "auth": {"kind": "TOKEN", "secret": "fuzz_hook"}, "enabled": True}
# The hook authenticates by the trigger's token before it reads the body: sent in the query (the fuzz client's
# Authorization header carries its API key), so bodies reach the parser and the mapping.
HOOK_TRIGGER_ID = "fuzz-trigger?token=fuzz-token"
SCHEDULE = {"id": "fuzz-schedule", "workflowId": "order_status", "intervalSeconds": 86400, "paused": True,
            "start": {"params": {"orderId": "1"}}, "overlap": "SKIP"}


def _realistic_bodies(samples_dir) -> dict[str, list]:
    nodes = json.loads((samples_dir / "order_status.nodes.json").read_text())
    flow = json.loads((samples_dir / "order_status.workflow.json").read_text())
    start = {"issueDetail": {"issueId": "order_status", "issueName": "n"}, "params": {"orderId": "1", "n": [1, 2]},
             "customer": {"id": "c-1", "tags": ["a"]}, "orderDetails": {"id": "o"}, "config": {"a": {"b": 1}},
             "threadContext": {"t": "x"}, "incidentId": "inc", "mode": "SYNC", "callbackUrl": ""}
    return {
        "/v3/workflow/start": [start],
        "/v3/workflow/resume/{workflow_id}": [{"viewResponse": {"selectedOptions": {"reason": "DAMAGED"}},
                                               "params": {"a": {"b": [1]}}}],
        "/v3/workflow/terminate/{workflow_id}": [{"reason": "fuzz"}],
        "/v3/workflow/{workflow_id}/disconnected-node/execute": [{"node": "x", "parameters": {"a": [1, {"b": 2}]}}],
        "/v3/workflow/{workflow_id}/event/{event_name}": [{"amount": 12, "meta": {"a": [1, "b"]}}, [1, {"x": 2}]],
        "/nodeDefinition/": nodes, "/nodeDefinition/validate/": nodes,
        "/workflowDefinition/": [flow], "/workflowDefinition/validate/": [flow],
        "/routes/{issue_id}": [{"workflowId": "order_status", "version": "ACTIVE",
                                "variants": [{"workflowId": "order_status", "version": "1", "weight": 3}]}],
        "/enumStore/{key}": [{"value": {"base_url": "http://x", "list": [1, {"a": None}]}}],
        "/nodeDefinition/{key}/dryRun/": [{"context": {"params": {"a": [1, {"b": 2}]}}, "parameters": {"x": "y"}},
                                         {"context": {}, "mock": {"status": 200, "body": {"state": "ok"}}}],
        "/secrets/{name}": [{"value": "s3cr3t"}],
        "/codec/encode": [{"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "e30="}]}],
        "/codec/decode": [{"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "e30="}]}],
        "/v3/client/webhook": [{"callbackUrl": "https://hooks.example.com/drift"}],
        "/v3/workflow/{workflow_id}/redrive": [{"fromNode": "get_order", "contextPatch": {"params": {"a": 1}},
                                                "version": "SAME"}],
        "/v3/bulk/{op}": [{"ids": ["no-such-run"]}, {"filter": {"status": "FAILED", "customerId": "nobody"}}],
        "/v3/schedules/": [SCHEDULE],
        "/v3/schedules/{schedule_id}": [SCHEDULE],
        "/v3/schedules/{schedule_id}/{action}": [{"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-01T01:00:00Z"}],
        "/v3/triggers/": [TRIGGER, {**TRIGGER, "id": "fuzz-event", "action": "EVENT", "mapping": {},
                                    "workflow": {"workflowDefinitionId": "order_status", "version": 1},
                                    "correlation": {"param.orderId": "$.body.order.id", "customerId": "$.query.c"},
                                    "eventName": "paid"}],
        "/v3/triggers/{trigger_id}": [TRIGGER],
        "/v3/host-limits/": [{"host": "fuzz.example:8443", "requestsPerSecond": 5, "burst": 2, "maxInFlight": 3},
                             {"host": "Bücher.example", "maxInFlight": 1}],
        "/v3/host-limits/{host}": [{"requestsPerSecond": 0.5, "maxInFlight": None},
                                   {"host": "fuzz.example", "burst": 1, "maxInFlight": 10}],
        "/v3/hooks/{tenant}/{trigger_id}": [{"id": "evt_1", "order": {"id": "1", "lines": [{"sku": "a", "n": 2}]}},
                                            [1, {"a": None}], "plain string"],
    }


def _places(value, path: str = "$", steps: tuple = ()) -> list[tuple[str, tuple]]:
    """Every (JSON path, steps) inside `value`: its containers and leaves."""
    found = [(path, steps)]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _places(child, f"{path}.{key}", (*steps, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _places(child, f"{path}[{index}]", (*steps, index))
    return found


def _replaced(value, steps: tuple, new):
    if not steps:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[steps[0]] = _replaced(value[steps[0]], steps[1:], new)
    return copy


def _value_at(value, steps: tuple):
    for step in steps:
        value = value[step]
    return value


class HostileClient:
    """The WSGI app in-process, authenticated for one tenant, with fixed path parameters."""

    def __init__(self, headers: dict[str, str], path_values: dict[str, str]) -> None:
        self.client, self.headers, self.path_values = Client(), headers, path_values
        # The codec and host limits serve platform operators only (docs/security.md): fuzzed as a superuser.
        self.operator = Client()
        self.operator.force_login(get_user_model().objects.create_superuser("fuzz-operator", "op@example.com", "x"))

    def send(self, method: str, template: str, raw: bytes, *, chunked: bool = False):
        path = template.format(**self.path_values)
        # As gunicorn hands a chunked body over: de-chunked, no length, `wsgi.input_terminated`.
        extra = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(raw),
                 "wsgi.input_terminated": True} if chunked else {}
        operator_only = path.startswith(("/codec/", "/v3/host-limits/"))
        client, headers = (self.operator, {}) if operator_only else (self.client, self.headers)
        return client.generic(method, path, raw, content_type="application/json", headers=headers, **extra)


def _hostile_setup(api, samples, tenant, settings):
    settings.DRIFT_SYNC_TIMEOUT_SECONDS = 2
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    waiting = start_order(api, "1").json()["workflowId"]
    # A node to dry-run (the {key} of /nodeDefinition/{key}/dryRun/): bodies are judged, not a 404.
    script = {"id": "fuzz-key", "name": "fuzz-key", "type": "SCRIPT",
              "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "return 1"}}}
    assert api.post("/nodeDefinition/", script, format="json").status_code == 201
    # A (paused) schedule for /v3/schedules/{schedule_id}...: bodies are judged, not a 404.
    assert api.post("/v3/schedules/", SCHEDULE, format="json").status_code == 201
    # A trigger for /v3/triggers/{trigger_id} and its hook (token in the query): bodies are judged, not a 404.
    secret_put(tenant=tenant, name="fuzz_hook", value="fuzz-token", actor="fuzz")
    assert api.post("/v3/triggers/", TRIGGER, format="json").status_code == 201
    client = HostileClient(_auth_headers(tenant), {"workflow_id": waiting, "event_name": "paid", "key": "fuzz-key",
                                                   "issue_id": "fuzz-issue", "name": "fuzz-secret", "op": "rerun",
                                                   "schedule_id": "fuzz-schedule", "action": "backfill",
                                                   "tenant": tenant, "trigger_id": HOOK_TRIGGER_ID,
                                                   "host": "fuzz.example"})
    corpus = _realistic_bodies(Path(settings.BASE_DIR).parent / "shared/spec/samples")
    unsampled = {template for _, template in _body_operations(schema)} - set(corpus)
    assert not unsampled, f"a body-reading endpoint has no realistic sample for the fuzz: {sorted(unsampled)}"
    operations = {(op.method.upper(), op.path): op for op in (r.ok() for r in schema.get_all_operations())}
    return schema, client, corpus, operations


def _bodies(operations: dict, corpus: dict, method: str, template: str, headers: dict):
    """Realistic bodies of this operation, and schemathesis' own (positive) ones."""
    realistic = st.sampled_from(corpus[template])
    operation = operations.get((method, template))
    if operation is None or not operation.body:
        return realistic
    generated = operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=headers).map(
        lambda case: case.body).filter(lambda body: isinstance(body, dict | list))
    return st.one_of(realistic, generated)


def _probe_every_operation(api, samples, tenant, settings, mutate) -> list[str]:
    """For every body-reading operation, HOSTILE_EXAMPLES bodies mutated by `mutate(client, method, template,
    body, place, data)`, which sends one and returns what went wrong (or None)."""
    schema, client, corpus, operations = _hostile_setup(api, samples, tenant, settings)
    found: list[str] = []
    # Terminate last: a fuzzed terminate may end the run the other operations use.
    def probe_operation(method: str, template: str) -> None:
        @given(body=_bodies(operations, corpus, method, template, client.headers), data=st.data())
        @settings_(max_examples=HOSTILE_EXAMPLES, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck), derandomize=True)
        def probe(body, data) -> None:
            place = data.draw(st.sampled_from(_places(body)), label="place")
            problem = mutate(client, method, template, body, place, data)
            if problem:
                found.append(f"{method} {template} at {place[0]}: {problem}")

        probe()

    for method, template in sorted(_body_operations(schema), key=lambda op: "terminate" in op[1]):
        probe_operation(method, template)
    return found


@pytest.mark.usefixtures("no_fuzzed_schedules_left")
def test_non_finite_numbers_surrogates_and_deep_nesting_anywhere_in_any_body_are_a_400_naming_the_place(
        api, samples, tenant, settings):
    def poison(client, method, template, body, place, data) -> str | None:
        path, steps = place
        target = _value_at(body, steps)
        if isinstance(target, dict) and data.draw(st.booleans(), label="as a key"):
            poisoned, raw_poison, words = _replaced(body, steps, {**target, _MARK: 1}), SURROGATE_KEY, "surrogate"
        else:
            raw_poison, words = data.draw(st.sampled_from(POISONS), label="poison")
            poisoned = _replaced(body, steps, _MARK)
        raw = json.dumps(poisoned).replace(json.dumps(_MARK), raw_poison).encode()
        chunked = data.draw(st.booleans(), label="chunked")
        response = client.send(method, template, raw, chunked=chunked)
        details = response.json().get("details") or [] if response.status_code == 400 else []
        if any(d["path"].startswith(path) and words in d["problem"] for d in details):
            return None
        sent = "chunked" if chunked else "with a length"
        return f"{sent} {raw[:160]!r} -> {response.status_code}: {response.content[:300]!r}"

    assert _probe_every_operation(api, samples, tenant, settings, poison) == []


@pytest.mark.usefixtures("no_fuzzed_schedules_left")
def test_wrong_types_at_every_field_of_every_body_never_get_a_server_error(api, samples, tenant, settings):
    def wrong_type(client, method, template, body, place, data) -> str | None:
        mutated = json.dumps(_replaced(body, place[1], data.draw(st.sampled_from(WRONG_TYPES), label="wrong type")))
        response = client.send(method, template, mutated.encode())
        return None if response.status_code < 500 else f"{mutated[:200]} -> {response.content[:300]!r}"

    assert _probe_every_operation(api, samples, tenant, settings, wrong_type) == []


@pytest.mark.usefixtures("no_fuzzed_schedules_left")
def test_every_field_of_every_realistic_body_with_a_wrong_type_never_gets_a_server_error(api, samples, tenant,
                                                                                       settings):
    """The sweep behind the random probe: each place of each realistic body gets a wrong scalar, a list and an
    object (each list taken in turn)."""
    schema, client, corpus, _ = _hostile_setup(api, samples, tenant, settings)
    errors: list[str] = []
    for method, template in sorted(_body_operations(schema), key=lambda op: "terminate" in op[1]):
        for body in corpus[template]:
            for index, (path, steps) in enumerate(_places(body)):
                for wrong in (kind[index % len(kind)] for kind in (WRONG_SCALARS, WRONG_LISTS, WRONG_OBJECTS)):
                    mutated = json.dumps(_replaced(body, steps, wrong))
                    response = client.send(method, template, mutated.encode())
                    if response.status_code >= 500:
                        errors.append(f"{method} {template} at {path}: {response.content[:300]!r}")
    assert errors == []


@pytest.mark.usefixtures("no_fuzzed_schedules_left")
def test_huge_bodies_are_413_with_a_length_or_chunked_and_small_chunked_bodies_are_read(api, samples, tenant,
                                                                                       settings):
    schema, client, corpus, _ = _hostile_setup(api, samples, tenant, settings)
    huge = json.dumps({"pad": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}).encode()
    errors: list[str] = []
    for method, template in _body_operations(schema):
        for chunked in (False, True):
            response = client.send(method, template, huge, chunked=chunked)
            if response.status_code != 413:
                errors.append(f"{method} {template} huge chunked={chunked} -> {response.status_code}")
    # A chunked body is read, not taken as empty: an enum entry and a definition land as sent.
    assert client.send("PUT", "/enumStore/{key}", b'{"value": {"a": 1}}', chunked=True).status_code == 200
    assert api.get("/enumStore/fuzz-key").json()["value"] == {"a": 1}
    node = json.dumps(corpus["/nodeDefinition/"][0] | {"id": "chunked-node"}).encode()
    assert client.send("POST", "/nodeDefinition/", node, chunked=True).status_code == 201
    assert errors == []

