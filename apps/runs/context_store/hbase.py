"""The `hbase` context store, in the seed's layout.

Table `WorkflowContextHB` (under settings.HBASE_TABLE_PREFIX), family `main`, row key the workflow
id, qualifiers `contextKey` (the workflow id again), `context` (JSON), `currentNode`, `status`,
`createdAt`, `updatedAt` (epoch millis as strings), plus `seq`.

Never backwards: every cell of a save is written with the HBase cell timestamp = seq, and reads
return each cell's newest version. `save` reads the stored seq first and skips writes that are not
newer, but correctness does not rest on that check: if two writers race past it, the one with the
higher seq wins every cell whatever the arrival order, because a put with an older timestamp never
shadows a newer version (with max_versions=1 HBase simply discards it at flush/compaction). All
cells of one save share one timestamp, so a row read is always one save's snapshot.

`createdAt` is written only by a save that found no row, at the same timestamp = seq, and never
again, so it keeps the first write's time. Two racing first writers both write it; the higher seq
wins, deterministically, milliseconds apart. (A fixed timestamp such as 1 would let the later
arrival overwrite it instead, since HBase keeps the last put of an identical timestamp.)

`delete` places HBase delete markers at the server clock (epoch millis, far above any seq): until a
major compaction, HBase hides every later write with a lower timestamp. So a deleted run's late
retries cannot resurrect it, but a deleted workflow id cannot be reused either (such a save returns
True yet stays hidden); unlike `sql`, where a save after `delete` recreates the row.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import happybase
from django.conf import settings
from Hbase_thrift import AlreadyExists  # the module happybase loads from its own IDL
from thriftpy2.transport import TTransportException

from apps.runs.context_store.base import ContextStore, StoredContext

TABLE = "WorkflowContextHB"
FAMILY = "main"
CONTEXT_KEY, CONTEXT, CURRENT_NODE, STATUS, CREATED_AT, UPDATED_AT, SEQ = (
    f"{FAMILY}:{qualifier}".encode()
    for qualifier in ("contextKey", "context", "currentNode", "status", "createdAt", "updatedAt", "seq")
)
# Transport failures only; HBase's own `IOError` is a Thrift application error, not an OSError.
TRANSPORT_ERRORS = (TTransportException, OSError)
T = TypeVar("T")


def _millis_to_datetime(value: bytes) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def create_table(connection: happybase.Connection) -> bool:
    """Create the table if absent; True if created. Idempotent, also when run concurrently."""
    if TABLE.encode() in connection.tables():
        return False
    try:
        # One version is enough: reads want the newest timestamp (the highest seq), and HBase keeps
        # the newest versions, so a late put with an older seq is what gets dropped.
        connection.create_table(TABLE, {FAMILY: {"max_versions": 1}})
    except AlreadyExists:  # another process created it since we looked
        return False
    return True


class HBaseContextStore(ContextStore):
    def __init__(self, host: str, port: int, table_prefix: str | None = None, *, pool_size: int = 8,
                 timeout_ms: int = 10_000, pool_wait_seconds: float = 30) -> None:
        self._connection_kwargs = {"host": host, "port": port, "table_prefix": table_prefix or None,
                                   "timeout": timeout_ms}
        self._pool_size = pool_size
        self._pool_wait_seconds = pool_wait_seconds
        self._pool: happybase.ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> HBaseContextStore:
        return cls(settings.HBASE_HOST, settings.HBASE_PORT, settings.HBASE_TABLE_PREFIX)

    def connection(self) -> happybase.Connection:
        """A new, unpooled connection (for administration such as `hbase_init`)."""
        return happybase.Connection(**self._connection_kwargs)

    def _get_pool(self) -> happybase.ConnectionPool:
        # Built lazily: the pool connects at once, and the store may be built before HBase is up.
        with self._pool_lock:
            if self._pool is None:
                self._pool = happybase.ConnectionPool(self._pool_size, **self._connection_kwargs)
            return self._pool

    def _call(self, operation: Callable[[happybase.Table], T]) -> T:
        """Run one idempotent table operation, again once if the transport failed."""
        try:
            return self._run(operation)
        except TRANSPORT_ERRORS:
            # The pool has replaced the failed connection (server restarted, idle connection
            # closed by the server), so the second attempt runs on a fresh one.
            return self._run(operation)

    def _run(self, operation: Callable[[happybase.Table], T]) -> T:
        with self._get_pool().connection(timeout=self._pool_wait_seconds) as connection:
            return operation(connection.table(TABLE))

    def _save(self, workflow_id: str, *, context: dict, current_node: str, status: str, seq: int) -> bool:
        row = workflow_id.encode()
        stored = self._call(lambda table: table.row(row, columns=[SEQ]))
        if SEQ in stored and int(stored[SEQ]) >= seq:
            return False
        now = str(int(time.time() * 1000)).encode()
        cells = {
            CONTEXT_KEY: row, CONTEXT: json.dumps(context).encode(), CURRENT_NODE: current_node.encode(),
            STATUS: status.encode(), UPDATED_AT: now, SEQ: str(seq).encode(),
        }
        if not stored:
            cells[CREATED_AT] = now
        # Retrying this put is safe: same cells, same timestamp.
        self._call(lambda table: table.put(row, cells, timestamp=seq))
        return True

    def load(self, workflow_id: str) -> StoredContext | None:
        cells = self._call(lambda table: table.row(workflow_id.encode()))
        if SEQ not in cells:
            return None
        return StoredContext(
            workflow_id=workflow_id, context=json.loads(cells[CONTEXT]), current_node=cells[CURRENT_NODE].decode(),
            status=cells[STATUS].decode(), seq=int(cells[SEQ]), created_at=_millis_to_datetime(cells[CREATED_AT]),
            updated_at=_millis_to_datetime(cells[UPDATED_AT]),
        )

    def delete(self, workflow_id: str) -> None:
        self._call(lambda table: table.delete(workflow_id.encode()))
