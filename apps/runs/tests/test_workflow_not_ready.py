"""Temporal refuses an update while a run's last workflow task failed: retried briefly, then a 503 (never a 500)."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from apps.runs.runtime import NOT_READY_ATTEMPTS, temporal_call
from drift.errors import ServiceUnavailable

NOT_READY = RPCError("Unable to perform workflow execution update due to unexpected workflow task failure.",
                     RPCStatusCode.FAILED_PRECONDITION,
                     b"\x08\t\x12T\x1aJ\nHtype.googleapis.com/temporal.api.errordetails.v1.WorkflowNotReadyFailure")

pytestmark = pytest.mark.temporal


def test_a_not_ready_run_is_retried_until_its_task_recovers():
    calls = []

    async def operation(client):
        calls.append(client)
        if len(calls) < 3:
            raise NOT_READY
        return "answered"

    assert temporal_call(operation) == "answered" and len(calls) == 3


def test_a_run_that_stays_not_ready_is_a_503():
    calls = []

    async def operation(client):
        calls.append(client)
        raise NOT_READY

    with pytest.raises(ServiceUnavailable):
        temporal_call(operation)
    assert len(calls) == NOT_READY_ATTEMPTS


def test_other_precondition_failures_are_not_retried():
    calls = []

    async def operation(client):
        calls.append(client)
        raise RPCError("something else", RPCStatusCode.FAILED_PRECONDITION, b"")

    with pytest.raises(RPCError):
        temporal_call(operation)
    assert len(calls) == 1
