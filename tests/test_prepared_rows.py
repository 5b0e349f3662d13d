"""drift/db.py's prepared one-row statements (`row_of`, `rows_update`, `row_exists`) read and write exactly what the
ORM's querysets they stand for do: every field's value and type after the database's converters (JSON, datetimes,
booleans), the deferred columns, the joined foreign key, `keep`, the seq guard. On SQLite and on MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db.models.functions import Coalesce
from django.forms.models import model_to_dict

from apps.clients.models import ApiClient, ApiKey
from apps.runs.models import Run, RunContext
from drift.db import row_exists, row_of, rows_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mysql]

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_a_row_with_every_field_type_reads_as_the_orm_reads_it():
    run = Run.objects.create(workflow_id="w-all", tenant="t", status="WAITING", definition_key="flow",
                             definition_version=3, view={"a": [1, 2.5, None, "é"]}, finished_at=WHEN,
                             start_request={"params": {"n": 1}})
    found = row_of(Run, workflow_id="w-all", tenant="t")
    assert _fields(found) == _fields(Run.objects.get(pk=run.pk))
    assert found.view == {"a": [1, 2.5, None, "é"]} and found.finished_at == WHEN and found.definition_version == 3
    assert row_of(Run, workflow_id="w-all", tenant="other") is None


def test_the_other_columns_are_deferred_and_still_load_on_access():
    run = Run.objects.create(workflow_id="w-few", tenant="t", status="RUNNING", definition_key="flow", view=[1])
    found = row_of(Run, ("tenant", "state_seq"), workflow_id="w-few", tenant="t")
    assert found.get_deferred_fields() == {f.attname for f in Run._meta.concrete_fields} - {"id", "tenant", "state_seq"}
    assert (found.pk, found.tenant, found.state_seq) == (run.pk, "t", 0)
    assert found.view == [1]  # loaded when asked, as with only()
    with pytest.raises(ValueError, match="no concrete fields"):
        row_of(Run, ("no_such_field",), workflow_id="w-few")


def test_a_joined_foreign_key_is_the_related_row_and_booleans_filter():
    client = ApiClient.objects.create(tenant="t", client_id="c")
    ApiKey.objects.create(client=client, prefix="abc", key_hash="h", scopes=["runtime"], last_used_at=WHEN)
    ApiKey.objects.create(client=client, prefix="old", key_hash="h", scopes=[], is_active=False)
    key = row_of(ApiKey, related="client", prefix="abc", is_active=True)
    expected = ApiKey.objects.select_related("client").get(prefix="abc")
    assert _fields(key) == _fields(expected) and _fields(key.client) == _fields(expected.client)
    assert key.scopes == ["runtime"] and key.last_used_at == WHEN and key.is_active is True
    assert row_of(ApiKey, related="client", prefix="old", is_active=True) is None
    assert row_exists(ApiKey, prefix="old", is_active=False) and not row_exists(ApiKey, prefix="old", is_active=True)


def test_an_update_writes_plain_values_keeps_a_set_field_and_obeys_the_seq_guard():
    run = Run.objects.create(workflow_id="w-up", tenant="t", status="RUNNING", definition_key="flow", state_seq=2)
    twin = Run.objects.create(workflow_id="w-twin", tenant="t", status="RUNNING", definition_key="flow", state_seq=2)
    assert rows_update(Run, {"status": "COMPLETED", "view": {"k": "✓"}, "state_seq": 3, "finished_at": WHEN},
                       keep=("finished_at",), pk=run.pk, state_seq__lt=3) == 1
    Run.objects.filter(pk=twin.pk).update(status="COMPLETED", view={"k": "✓"}, state_seq=3,
                                          finished_at=Coalesce("finished_at", WHEN))
    own = {"id": 0, "workflow_id": "", "created_at": None, "updated_at": None}  # each row's own
    assert _fields(Run.objects.get(pk=run.pk)) | own == _fields(Run.objects.get(pk=twin.pk)) | own
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert rows_update(Run, {"state_seq": 4, "finished_at": later, "view": None}, keep=("finished_at",),
                       pk=run.pk, state_seq__lt=4) == 1
    stored = Run.objects.get(pk=run.pk)
    assert stored.finished_at == WHEN and stored.view is None  # kept: the first end counts; None is SQL NULL
    assert Run.objects.filter(pk=run.pk, view__isnull=True).exists()
    assert rows_update(Run, {"status": "FAILED"}, pk=run.pk, state_seq__lt=4) == 0  # an old seq changes nothing
    assert Run.objects.get(pk=run.pk).status == "COMPLETED"


def test_the_context_store_guard_writes_only_newer_seqs():
    RunContext.objects.create(workflow_id="w-ctx", context={"a": 1}, seq=5)
    assert rows_update(RunContext, {"context": {"a": 2}, "seq": 6}, workflow_id="w-ctx", seq__lt=6) == 1
    assert rows_update(RunContext, {"context": {"a": 3}, "seq": 4}, workflow_id="w-ctx", seq__lt=4) == 0
    assert model_to_dict(RunContext.objects.get(workflow_id="w-ctx"), ["context", "seq"]) == {
        "context": {"a": 2}, "seq": 6}
