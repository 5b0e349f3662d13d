"""Idempotency-Key on start (spec §10) through the REST API, the real worker and Temporal."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.operations.models import IdempotencyKey
from apps.runs.models import Run
from devtools.testing.processes import ROOT, child_env
from devtools.testing.rest import client_for, start_order

pytestmark = pytest.mark.temporal


def _keyed(api, key: str, order_id: str = "1", **body):
    api.credentials(**{**api._credentials, "HTTP_IDEMPOTENCY_KEY": key})
    try:
        return start_order(api, order_id, **body)
    finally:
        api.credentials(**{name: value for name, value in api._credentials.items()
                           if name != "HTTP_IDEMPOTENCY_KEY"})


def test_same_key_answers_the_first_runs_current_state(api, samples):
    first = _keyed(api, "order-1-attempt")
    assert first.status_code == 200, first.json()
    assert first.json()["workflowStatus"] == "WAITING"
    again = _keyed(api, "order-1-attempt")
    assert again.status_code == 200 and again.json() == first.json()

    workflow_id = first.json()["workflowId"]
    resumed = api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {"selectedOptions": {"reason": "X"}}},
                      format="json")
    assert resumed.json()["workflowStatus"] == "COMPLETED"
    after_end = _keyed(api, "order-1-attempt")
    assert after_end.status_code == 200
    assert (after_end.json()["workflowId"], after_end.json()["workflowStatus"]) == (workflow_id, "COMPLETED")
    assert Run.objects.filter(tenant=api._credentials["HTTP_X_TENANT_ID"]).count() == 1


def test_same_key_with_another_body_is_409_and_keys_are_per_client(api, samples, tenant):
    first = _keyed(api, "k-1", "2")
    assert first.json()["workflowStatus"] == "COMPLETED"
    other_body = _keyed(api, "k-1", "1")
    assert other_body.status_code == 409 and "another request body" in other_body.json()["message"]
    other_client = _keyed(client_for(tenant, client_id="other-client"), "k-1", "2")
    assert other_client.status_code == 200
    assert other_client.json()["workflowId"] != first.json()["workflowId"]


def test_an_expired_key_starts_a_new_run(api, samples, tenant):
    first = _keyed(api, "k-old", "2").json()["workflowId"]
    IdempotencyKey.objects.filter(tenant=tenant).update(created_at=timezone.now() - timedelta(hours=25))
    second = _keyed(api, "k-old", "2")
    assert second.status_code == 200 and second.json()["workflowId"] != first


def test_a_start_that_fails_before_any_run_frees_its_key(api, samples, tenant):
    api.credentials(**{**api._credentials, "HTTP_IDEMPOTENCY_KEY": "k-404"})
    missing = api.post("/v3/workflow/start", {"params": {"workflowId": "no-such-flow"}}, format="json")
    assert missing.status_code == 404
    assert not IdempotencyKey.objects.filter(tenant=tenant, key="k-404").exists()


@pytest.mark.mysql
def test_twenty_concurrent_identical_starts_make_one_run(api, samples, tenant):
    def one_start(_: int):
        try:
            response = _keyed(client_for(tenant), "burst-1", "1")
            return response.status_code, response.json()["workflowId"]
        finally:
            connection.close()  # each thread had its own connection: the DB constraint decides, not a lock

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(one_start, range(20)))
    assert {code for code, _ in answers} <= {200, 202}, answers
    assert len({workflow_id for _, workflow_id in answers}) == 1
    assert Run.objects.filter(tenant=tenant).count() == 1


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_from_separate_processes_have_one_winner():
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    processes = [
        subprocess.Popen([sys.executable, "-m", "apps.operations.tests.claim_process", tenant, "c", "key", f"wf-{n}"],
                         cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
        for n in range(6)
    ]
    claims = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
    assert len({claim["workflowId"] for claim in claims}) == 1, claims
    assert [claim["first"] for claim in claims].count(True) == 1
    assert IdempotencyKey.objects.filter(tenant=tenant).count() == 1


@pytest.mark.parametrize("raw", ["", " ", "x" * 201, "caf\u00e9", "a\tb", "\x00"])
def test_bad_idempotency_keys_are_400_with_the_header_named(api, db, raw):
    api.credentials(**{**api._credentials, "HTTP_IDEMPOTENCY_KEY": raw})
    response = api.post("/v3/workflow/start", {"params": {"workflowId": "x"}}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["details"][0]["path"] == "Idempotency-Key"
