"""The `sql` context store: one RunContext row per run, guarded by a conditional UPDATE on seq."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.runs.context_store.base import ContextStore, StoredContext
from apps.runs.models import RunContext
from drift.db import rows_update


class SqlContextStore(ContextStore):
    def _save(self, workflow_id: str, *, context: dict, current_node: str, status: str, seq: int) -> bool:
        # update() skips auto_now, so updated_at is set here.
        fields = {"context": context, "current_node": current_node, "status": status, "seq": seq,
                  "updated_at": timezone.now()}
        # A run's first state (seq 1) finds no row (a retry aside): insert at once, without the UPDATE first.
        if seq > 1 and self._update_if_newer(workflow_id, seq, fields):
            return True
        # No row, or one with seq >= ours. No separate existence check: a row created after it
        # would make us drop a newer write; the unique key decides instead.
        try:
            with transaction.atomic():  # a savepoint, so a caller's transaction survives the IntegrityError
                RunContext.objects.create(workflow_id=workflow_id, **fields)
            return True
        except IntegrityError:
            # The row exists: stored by an earlier write, or created by a racing writer since our
            # UPDATE. Compare seqs again. Any other IntegrityError (a CHECK constraint) is no race: raise it.
            if not RunContext.objects.filter(workflow_id=workflow_id).exists():
                raise
            return self._update_if_newer(workflow_id, seq, fields)

    @staticmethod
    def _update_if_newer(workflow_id: str, seq: int, fields: dict) -> bool:
        # One statement: the database re-checks `seq < %s` on the locked, latest row version, so
        # concurrent writers serialise and the highest seq wins whatever the arrival order.
        return rows_update(RunContext, fields, workflow_id=workflow_id, seq__lt=seq) > 0

    def load(self, workflow_id: str) -> StoredContext | None:
        row = RunContext.objects.filter(workflow_id=workflow_id).first()
        if row is None:
            return None
        return StoredContext(
            workflow_id=row.workflow_id, context=row.context, current_node=row.current_node, status=row.status,
            seq=row.seq, created_at=row.created_at, updated_at=row.updated_at,
        )

    def delete(self, workflow_id: str) -> None:
        RunContext.objects.filter(workflow_id=workflow_id).delete()
