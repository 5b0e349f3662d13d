"""The context store contract, one suite over both backends.

- sql: RunContext on SQLite, and on MariaDB when scripts/test reruns the `mysql` marked tests;
- hbase: happybase against the in-memory HBase Thrift stand-in (devtools/hbase_thrift.py),
  started once per session, the table created by the `hbase_init` command.
"""

from __future__ import annotations

import io
import random
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections

from apps.runs.context_store import ContextStore, UnstorableContext, get_context_store
from apps.runs.context_store.hbase import CONTEXT, SEQ, STATUS, TABLE, HBaseContextStore
from apps.runs.context_store.sql import SqlContextStore
from apps.runs.models import RunContext
from devtools import services
from devtools.testing.hbase import use_hbase


@pytest.fixture(
    params=[
        pytest.param("sql", marks=[pytest.mark.django_db(transaction=True), pytest.mark.mysql]),
        pytest.param("hbase"),
    ]
)
def store(request, settings) -> ContextStore:
    if request.param == "hbase":
        use_hbase(settings, request.getfixturevalue("hbase_thrift").port)
    else:
        settings.DRIFT_CONTEXT_STORE = "sql"
    return get_context_store()


@pytest.fixture
def hbase_store(settings, hbase_thrift) -> HBaseContextStore:
    use_hbase(settings, hbase_thrift.port)
    return get_context_store()


@pytest.fixture
def workflow_id() -> str:
    return f"wf-{uuid.uuid4().hex}"


def save(store: ContextStore, workflow_id: str, seq: int, **overrides) -> bool:
    """A save whose content is derived from seq, so a load tells which write won."""
    fields = {"context": {"_global": {"seq": seq, "params": {"n": [1, 2]}}}, "current_node": f"node-{seq}",
              "status": "RUNNING", **overrides}
    return store.save(workflow_id, seq=seq, **fields)


# --- the contract, both backends


def test_round_trip(store, workflow_id):
    context = {"_global": {"params": {"a": 1}, "customer": {"name": "Zoë"}, "out:viewResponse": [1, None]}}
    assert store.save(workflow_id, context=context, current_node="start", status="WAITING", seq=1) is True

    loaded = store.load(workflow_id)
    assert (loaded.workflow_id, loaded.context, loaded.current_node, loaded.status, loaded.seq) == (
        workflow_id, context, "start", "WAITING", 1)
    assert loaded.created_at.tzinfo is not None and loaded.updated_at >= loaded.created_at


def test_missing_run_is_none(store):
    assert store.load("wf-never-saved") is None


def test_same_seq_twice_is_an_idempotent_retry(store, workflow_id):
    assert save(store, workflow_id, 3) is True
    assert save(store, workflow_id, 3, status="RETRY") is False
    assert store.load(workflow_id).status == "RUNNING"


def test_older_seq_is_ignored(store, workflow_id):
    assert save(store, workflow_id, 5) is True
    assert save(store, workflow_id, 4) is False
    assert save(store, workflow_id, 1) is False

    loaded = store.load(workflow_id)
    assert (loaded.seq, loaded.current_node, loaded.context["_global"]["seq"]) == (5, "node-5", 5)


def test_strictly_increasing_seqs_update(store, workflow_id):
    for seq in (1, 2, 7, 30):
        assert save(store, workflow_id, seq, status=f"S{seq}") is True
        loaded = store.load(workflow_id)
        assert (loaded.seq, loaded.status, loaded.current_node) == (seq, f"S{seq}", f"node-{seq}")


def test_created_at_is_kept_across_updates(store, workflow_id):
    save(store, workflow_id, 1)
    first = store.load(workflow_id)
    time.sleep(0.01)
    save(store, workflow_id, 2)

    second = store.load(workflow_id)
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


def test_concurrent_writers_lose_no_update(store, workflow_id):
    """8 writers, seqs 1..200 interleaved and shuffled, every write sent twice (an activity retry)."""
    writers, last = 8, 200
    won: dict[int, list[bool]] = {}
    start = threading.Barrier(writers)

    def writer(index: int) -> None:
        seqs = list(range(index + 1, last + 1, writers)) * 2
        random.Random(index).shuffle(seqs)
        start.wait()
        try:
            for seq in seqs:
                won.setdefault(seq, []).append(save(store, workflow_id, seq))
        finally:
            connections.close_all()  # this thread's database connection, if the backend used one

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    loaded = store.load(workflow_id)
    assert (loaded.seq, loaded.current_node, loaded.context["_global"]["seq"]) == (last, f"node-{last}", last)
    assert sorted(won[last]) == [False, True]  # the newest write lands once; its retry is ignored


def test_delete(store, workflow_id):
    save(store, workflow_id, 1)
    store.delete(workflow_id)
    assert store.load(workflow_id) is None
    store.delete(workflow_id)  # absent: no error


def test_negative_seq_is_refused(store, workflow_id):
    with pytest.raises(ValueError):
        save(store, workflow_id, -1)


@pytest.mark.parametrize("context", [{"x": float("nan")}, {"x": [float("inf")]}, {"\ud800": 1}, {"x": "a\udfff"}])
def test_a_context_no_json_reader_takes_back_is_refused_never_swallowed(store, workflow_id, context):
    with pytest.raises(UnstorableContext, match=r"^\$\.context"):
        store.save(workflow_id, context=context, current_node="n", status="COMPLETED", seq=1)
    assert store.load(workflow_id) is None


# --- backend choice


def test_get_context_store_follows_settings_and_is_cached(settings, hbase_thrift):
    settings.DRIFT_CONTEXT_STORE = "sql"
    assert get_context_store() is get_context_store()
    assert isinstance(get_context_store(), SqlContextStore)
    use_hbase(settings, hbase_thrift.port)
    assert isinstance(get_context_store(), HBaseContextStore)
    settings.DRIFT_CONTEXT_STORE = "cassandra"
    with pytest.raises(ValueError, match="DRIFT_CONTEXT_STORE"):
        get_context_store()


# --- sql specifics


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("rival_seq", "written"), [(2, True), (9, False)])
def test_sql_insert_race_falls_back_to_the_conditional_update(monkeypatch, workflow_id, rival_seq, written):
    """Another writer inserts the row between our UPDATE (no row yet) and our INSERT."""
    update_if_newer = SqlContextStore._update_if_newer
    calls: list[int] = []

    def update_then_rival_inserts(*args) -> bool:
        updated = update_if_newer(*args)
        if not calls:
            calls.append(1)
            RunContext.objects.create(workflow_id=workflow_id, seq=rival_seq, status="RIVAL")
        return updated

    monkeypatch.setattr(SqlContextStore, "_update_if_newer", staticmethod(update_then_rival_inserts))
    store = SqlContextStore()
    assert save(store, workflow_id, 5) is written
    assert store.load(workflow_id).seq == max(5, rival_seq)


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_sql_database_refusals_other_than_the_insert_race_are_raised(workflow_id):
    """Past the contract's own check, a row the database refuses (JSON_VALID) is an error, not a lost race."""
    with pytest.raises(DatabaseError):
        SqlContextStore()._save(workflow_id, context={"x": float("nan")}, current_node="n", status="RUNNING", seq=1)
    assert not RunContext.objects.filter(workflow_id=workflow_id).exists()


# --- hbase specifics


def test_hbase_cells_carry_seq_as_timestamp_so_a_late_older_write_cannot_shadow(hbase_store, workflow_id):
    save(hbase_store, workflow_id, 5)
    table = hbase_store.connection().table(TABLE)
    cells = table.row(workflow_id.encode(), include_timestamp=True)
    assert {timestamp for _, timestamp in cells.values()} == {5}
    assert len(cells) == 7  # contextKey, context, currentNode, status, createdAt, updatedAt, seq

    # A writer that raced past the seq check with an older seq: its cells land but stay hidden.
    table.put(workflow_id.encode(), {STATUS: b"STALE", SEQ: b"4", CONTEXT: b"{}"}, timestamp=4)
    loaded = hbase_store.load(workflow_id)
    assert (loaded.seq, loaded.status, loaded.context["_global"]["seq"]) == (5, "RUNNING", 5)


def test_hbase_init_is_idempotent(hbase_store):
    out = io.StringIO()
    call_command("hbase_init", stdout=out)
    assert "already exists" in out.getvalue()
    assert hbase_store.connection().table(TABLE).families()[b"main"]["max_versions"] == 1


def test_hbase_store_reconnects_after_a_server_restart(settings, tmp_path, workflow_id):
    server = services.start_hbase_thrift(tmp_path)
    try:
        use_hbase(settings, server.port)
        store = get_context_store()
        assert save(store, workflow_id, 1) is True
        server.stop()
        server = services.start_hbase_thrift(tmp_path, port=server.port)  # empty again: recreate the table
        call_command("hbase_init", stdout=io.StringIO())
        assert save(store, workflow_id, 2) is True  # the pooled connection was dead; a fresh one is used
        assert store.load(workflow_id).seq == 2
    finally:
        server.stop()


# --- the stand-in beyond what the store uses


def test_stand_in_versions_scans_counters_and_deletes(hbase_store):
    connection = hbase_store.connection()
    name = f"scratch{uuid.uuid4().hex[:8]}"
    connection.create_table(name, {"cf": {"max_versions": 2}})
    table = connection.table(name)
    for timestamp in (1, 3, 2):
        table.put(b"a0", {b"cf:a": f"v{timestamp}".encode()}, timestamp=timestamp)
    assert table.cells(b"a0", b"cf:a", versions=5, include_timestamp=True) == [(b"v3", 3), (b"v2", 2)]
    assert table.row(b"a0", timestamp=3) == {b"cf:a": b"v2"}  # Ts reads are exclusive, as in HBase

    with table.batch() as batch:
        for key in (b"k1", b"k2", b"k3", b"x1"):
            batch.put(key, {b"cf:q": key})
    assert [key for key, _ in table.scan(row_prefix=b"k", batch_size=1)] == [b"k1", b"k2", b"k3"]
    assert [key for key, _ in table.scan(row_start=b"k2", row_stop=b"x1")] == [b"k2", b"k3"]
    assert [key for key, _ in table.scan(reverse=True, limit=2)] == [b"x1", b"k3"]

    assert [table.counter_inc(b"c", b"cf:n"), table.counter_inc(b"c", b"cf:n", 5), table.counter_get(b"c", b"cf:n")] \
        == [1, 6, 6]

    table.delete(b"a0", timestamp=2)  # hides versions <= 2, also ones put later
    table.put(b"a0", {b"cf:a": b"late"}, timestamp=1)
    assert table.cells(b"a0", b"cf:a", versions=5) == [b"v3"]
    connection.delete_table(name, disable=True)
    assert name.encode() not in connection.tables()
