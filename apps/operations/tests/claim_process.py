"""A separate API-like process claiming an Idempotency-Key (the cross-process test runs several at once).

Usage: python -m apps.operations.tests.claim_process TENANT CLIENT KEY WORKFLOW_ID; prints the claim as JSON.
DATABASE_URL names the test database.
"""

from __future__ import annotations

import json
import sys

import django


def main(tenant: str, client_id: str, key: str, workflow_id: str) -> None:
    django.setup()
    from apps.clients.authentication import Principal
    from apps.operations.idempotency import idempotency_claim

    claim = idempotency_claim(principal=Principal(tenant, client_id, client_id), key=key, digest="same-body",
                              workflow_id=workflow_id)
    print(json.dumps({"workflowId": claim.workflow_id, "first": claim.first}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
