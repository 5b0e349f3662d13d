"""Idempotent starts (spec §10): the `Idempotency-Key` header of POST /v3/workflow/start.

The first start with a key claims it by inserting an `IdempotencyKey` row; the unique constraint on
(tenant, client, key) decides the winner across threads and API processes (no in-process locks). Every
later start with the key and the same body answers that run's current state (joining it while it is open);
another body is 409. Keys expire after DRIFT_IDEMPOTENCY_TTL_HOURS.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.clients.authentication import Principal
from apps.operations.models import IdempotencyKey
from apps.runs.api.start_hooks import IDEMPOTENCY_HEADER, IdempotentStart, idempotent_start_register
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run
from apps.runs.runtime import Reply, run_start
from apps.runs.selectors import run_find, run_response
from drift.errors import Conflict, DriftError, InvalidInput, Problem

HEADER = IDEMPOTENCY_HEADER
META_NAME = "HTTP_IDEMPOTENCY_KEY"
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as Stripe-style keys are
_CLAIM_ATTEMPTS = 3  # an expired row deleted under us, then a racing insert: more cannot happen


@dataclass(frozen=True)
class Claim:
    workflow_id: str
    first: bool  # this request inserted the key: it starts the run


def idempotency_key_parse(meta: dict[str, Any]) -> str | None:
    """The header's key, None when absent; 400 for an empty, over-long or non-printable one."""
    if META_NAME not in meta:
        return None
    raw = meta[META_NAME]
    if not isinstance(raw, str) or not _KEY_PATTERN.fullmatch(raw):
        raise InvalidInput(f"Invalid {HEADER} header.",
                           [Problem(HEADER, "must be 1 to 200 visible ASCII characters")])
    return raw


def body_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_claim(*, principal: Principal, key: str, digest: str, workflow_id: str) -> Claim:
    """Claim `key` for `workflow_id`, or return the run that claimed it first (409 for another body)."""
    scope = {"tenant": principal.tenant, "client_id": principal.client_id, "key": key}
    cutoff = timezone.now() - timedelta(hours=settings.DRIFT_IDEMPOTENCY_TTL_HOURS)
    for _ in range(_CLAIM_ATTEMPTS):
        IdempotencyKey.objects.filter(**scope, created_at__lt=cutoff).delete()
        existing = IdempotencyKey.objects.filter(**scope).first()
        if existing is not None:
            if existing.body_hash != digest:
                raise Conflict(f"{HEADER} '{key}' was used with another request body.")
            return Claim(existing.workflow_id, first=False)
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(**scope, body_hash=digest, workflow_id=workflow_id)
            return Claim(workflow_id, first=True)
        except IntegrityError:
            continue  # another request claimed it first: read its row
    raise Conflict(f"{HEADER} '{key}' is being claimed concurrently; retry.")


def run_start_idempotent(*, principal: Principal, data: dict[str, Any], key: str, raw_body: Any) -> Reply:
    """3.1 with an Idempotency-Key: start once; every repeat answers the first run's current state."""
    claim = idempotency_claim(principal=principal, key=key, digest=body_hash(raw_body),
                              workflow_id=data.get("workflowId") or uuid.uuid4().hex)
    data = {**data, "workflowId": claim.workflow_id}
    if not claim.first:
        return _replay(principal=principal, data=data)
    try:
        return run_start(principal=principal, data=data)
    except DriftError:
        _release(principal=principal, key=key, workflow_id=claim.workflow_id)
        raise


def _replay(*, principal: Principal, data: dict[str, Any]) -> Reply:
    """The first run's state: an ended run from the mirror; an open (or not yet started) one is joined."""
    ended = _ended_run(principal, data["workflowId"])
    if ended is not None:
        return Reply(run_response(ended))
    try:
        return run_start(principal=principal, data=data)
    except Conflict:
        ended = _ended_run(principal, data["workflowId"])  # it ended between the check and the join
        if ended is None:
            raise
        return Reply(run_response(ended))


def _ended_run(principal: Principal, workflow_id: str) -> Run | None:
    run = run_find(workflow_id=workflow_id)
    if run is not None and run.tenant == principal.tenant and run.status in FINAL_STATUSES:
        return run
    return None


def _release(*, principal: Principal, key: str, workflow_id: str) -> None:
    """A first start that failed before any run existed (404, 503...) frees its key for a retry."""
    if not Run.objects.filter(workflow_id=workflow_id).exists():
        IdempotencyKey.objects.filter(tenant=principal.tenant, client_id=principal.client_id, key=key,
                                      workflow_id=workflow_id).delete()


def idempotency_purge_expired(*, batch: int = 10_000) -> int:
    """Delete up to `batch` expired keys (periodic task; bounded per call)."""
    cutoff = timezone.now() - timedelta(hours=settings.DRIFT_IDEMPOTENCY_TTL_HOURS)
    ids = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch])
    return IdempotencyKey.objects.filter(pk__in=ids).delete()[0]


def register_idempotent_start() -> None:
    """Hand the start view (apps/runs/api/views.py) this app's idempotent start (OperationsConfig.ready)."""
    idempotent_start_register(IdempotentStart(key_parse=idempotency_key_parse, start=run_start_idempotent))
