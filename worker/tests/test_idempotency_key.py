"""`idempotencyKey: true` on an HTTP node, through the REST API, the real worker and Temporal: the key is the same
on the activity's retry and on a redrive from the node, and another run sends another key."""

from __future__ import annotations

import threading

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from devtools.testing.builders import state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_final

pytestmark = pytest.mark.temporal


class Partner:
    """Answers 503 to its first `failures` calls, then 200; records each call's Idempotency-Key."""

    def __init__(self, failures: int) -> None:
        self.failures, self.keys, self.lock = failures, [], threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.keys.append(request.headers.get("Idempotency-Key"))
            failing = len(self.keys) <= self.failures
        return Response('{"ok": true}', status=503 if failing else 200, content_type="application/json")


def _publish(tenant: str, url: str) -> None:
    charge = {"id": "charge", "name": "charge", "type": "HTTP", "idempotencyKey": True, "timeoutSeconds": 5,
              "httpComponents": {"url": value(url, "STATIC"), "method": "POST"},
              "retry": {"maxAttempts": 2, "initialIntervalSeconds": 0.1}}
    publish_definitions(tenant, [charge, success_node()],
                        [workflow("pay", "charge", [state("charge", "charge", "done"), state("done")])])


def test_the_key_is_stable_across_retries_and_a_redrive(api, runs, tenant, httpserver: HTTPServer, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    partner = Partner(failures=2)  # both attempts of the first run fail: the run FAILS, then is redriven
    httpserver.expect_request("/charge").respond_with_handler(partner)
    _publish(tenant, httpserver.url_for("/charge"))

    failed = start(api, params={"workflowId": "pay"}).json()["workflowId"]
    assert wait_final(failed).status == "FAILED"
    assert len(partner.keys) == 2 and partner.keys[0] == partner.keys[1] and partner.keys[0]  # the retry

    redriven = api.post(f"/v3/workflow/{failed}/redrive", {}, format="json")
    assert redriven.status_code == 202, redriven.json()
    assert wait_final(redriven.json()["workflowId"]).status == "COMPLETED"
    assert partner.keys[2] == partner.keys[0]  # the redrive from the node repeats the original's key

    other = start(api, params={"workflowId": "pay"}).json()["workflowId"]
    assert wait_final(other).status == "COMPLETED"
    assert partner.keys[3] and partner.keys[3] != partner.keys[0]  # another run, another operation


def test_idempotency_key_must_be_a_boolean(api):
    node = {"id": "bad", "name": "bad", "type": "HTTP", "idempotencyKey": "yes",
            "httpComponents": {"url": value("https://example.com", "STATIC")}}
    response = api.post("/nodeDefinition/", node, format="json")
    assert response.status_code == 400, response.json()
    assert "$.idempotencyKey" in [problem["path"] for problem in response.json()["details"]], response.json()
