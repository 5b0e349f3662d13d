"""`manage.py export` / `load` / `validate_definitions`: definitions as files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.definitions.models import Definition, DefinitionVersion, Kind
from apps.definitions.selectors import definition_get, definition_head_get, enum_store_for, route_get
from apps.definitions.services import enum_entry_set, route_save
from devtools.testing.definitions import SAMPLES

pytestmark = pytest.mark.django_db


def _call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _files(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): path.read_text() for path in sorted(folder.rglob("*.json"))}


def _write(folder: Path, name: str, data: object) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


@pytest.fixture
def source(sample_nodes, sample_workflow) -> str:
    """Tenant `src`: the samples loaded and activated, plus a route and an enum entry."""
    _call("load", str(SAMPLES), "--tenant", "src", "--activate")
    route_save(tenant="src", issue_id="order_status", workflow_key="order_status", actor="tests")
    enum_entry_set(tenant="src", key="oms", value={"base_url": "http://oms.test"}, actor="tests")
    return "src"


def test_export_writes_one_pretty_sorted_file_per_definition(source, sample_nodes, tmp_path):
    _call("export", "--tenant", source, "--out", str(tmp_path))
    files = _files(tmp_path)
    assert set(files) == ({f"nodes/{n['id']}.json" for n in sample_nodes}
                          | {"workflows/order_status.json", "routes.json", "enum_store.json"})
    node = sample_nodes[0]
    text = files[f"nodes/{node['id']}.json"]
    assert text == json.dumps(node, indent=2, sort_keys=True, ensure_ascii=False) + "\n"  # no `version` field
    assert json.loads(files["routes.json"]) == [route_get(tenant=source, issue_id="order_status")]
    assert json.loads(files["enum_store.json"]) == {"oms": {"base_url": "http://oms.test"}}


def test_round_trip_into_another_tenant_gives_identical_bodies(source, sample_nodes, tmp_path):
    _call("export", "--tenant", source, "--out", str(tmp_path / "a"))
    out, _ = _call("load", str(tmp_path / "a"), "--tenant", "dst", "--activate")
    assert "workflow order_status: ACTIVE = 1" in out
    _call("export", "--tenant", "dst", "--out", str(tmp_path / "b"))

    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    for kind, key in [(Kind.NODE, n["id"]) for n in sample_nodes] + [(Kind.WORKFLOW, "order_status")]:
        assert definition_get(tenant="dst", kind=kind, key=key) == definition_get(tenant=source, kind=kind, key=key)
        assert definition_head_get(tenant="dst", kind=kind, key=key).active_version == 1
    assert route_get(tenant="dst", issue_id="order_status")["workflowId"] == "order_status"
    assert enum_store_for(tenant="dst") == enum_store_for(tenant=source)

    versions = DefinitionVersion.objects.count()
    _call("load", str(tmp_path / "a"), "--tenant", "dst", "--activate")
    assert DefinitionVersion.objects.count() == versions  # a reload of unchanged files publishes nothing


def test_load_without_publish_saves_snapshots_only(source, sample_nodes, tmp_path):
    _call("export", "--tenant", source, "--out", str(tmp_path))
    node = sample_nodes[-1]
    _write(tmp_path, f"nodes/{node['id']}.json", {**node, "name": "renamed"})
    out, _ = _call("load", str(tmp_path), "--tenant", source)
    assert f"node {node['id']}: SNAPSHOT" in out
    assert definition_get(tenant=source, kind=Kind.NODE, key=node["id"], version="SNAPSHOT")["name"] == "renamed"
    assert definition_get(tenant=source, kind=Kind.NODE, key=node["id"])["name"] == node["name"]
    head = definition_head_get(tenant=source, kind=Kind.NODE, key=node["id"])
    assert (head.latest_version, head.active_version) == (1, 1)


def test_snapshot_only_load_cannot_reference_unpublished_latest(sample_nodes):
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load", str(SAMPLES), "--tenant", "drafts", stdout=io.StringIO(), stderr=err)
    assert "order_status.workflow.json:$.states.get_order.resourceId: node definition 'get_order' version " \
           "LATEST does not exist" in err.getvalue()
    assert not Definition.objects.filter(tenant="drafts").exists()


def test_export_by_kind_and_version(source, sample_nodes, tmp_path):
    _call("export", "--tenant", source, "--out", str(tmp_path / "snap"), "--kind", "node", "--version", "SNAPSHOT")
    assert set(_files(tmp_path / "snap")) == {f"nodes/{n['id']}.json" for n in sample_nodes}
    _, err = _call("export", "--tenant", source, "--out", str(tmp_path / "v2"), "--version", "2")
    assert "skipped workflows/order_status: no 2 version" in err
    with pytest.raises(CommandError, match="--version nope"):
        _call("export", "--tenant", source, "--out", str(tmp_path), "--version", "nope")


def _broken_folder(folder: Path, sample_nodes: list[dict]) -> None:
    _write(folder, "nodes/ok.json", {"id": "ok", "name": "ok", "type": "SUCCESS"})
    _write(folder, "nodes/bad.json", {"id": "bad", "name": "bad", "type": "NOPE"})
    _write(folder, "nodes/broken.json", "{not json")
    _write(folder, "extra.nodes.json", [sample_nodes[0], {"id": "ok", "name": "again", "type": "SUCCESS"}])
    _write(folder, "workflows/flow.json", {"id": "flow", "startNode": "a", "states": {
        "a": {"instanceName": "a", "resourceId": "missing", "resourceVersion": "LATEST", "type": "NODE"}}})
    _write(folder, "routes.json", [{"issueId": "i", "workflowId": "nowhere"}])


def test_load_reports_every_problem_with_file_and_path_and_writes_nothing(sample_nodes, tmp_path):
    _broken_folder(tmp_path, sample_nodes)
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load", str(tmp_path), "--tenant", "t1", "--activate", stdout=io.StringIO(), stderr=err)
    lines = err.getvalue()
    assert "nodes/bad.json:$.type:" in lines
    assert "nodes/broken.json:$: is not valid JSON" in lines
    assert "extra.nodes.json:$[1].id: 'ok' is also defined in nodes/ok.json:$" in lines
    assert "workflows/flow.json:$.states.a.resourceId: node definition 'missing'" in lines
    assert "routes.json:$[0].workflowId: unknown workflow definition 'nowhere'" in lines
    assert not Definition.objects.filter(tenant="t1").exists()


def test_a_write_that_fails_rolls_the_whole_load_back(sample_nodes, tmp_path):
    for name in ("order_status.nodes.json", "order_status.workflow.json"):
        _write(tmp_path, name, (SAMPLES / name).read_text())
    _write(tmp_path, "routes.json", [{"issueId": "i", "workflowId": "order_status", "version": 99}])
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was loaded"):
        call_command("load", str(tmp_path), "--tenant", "t2", "--activate", stdout=io.StringIO(), stderr=err)
    assert "routes.json:$[0].version: workflow 'order_status' has no published version 99" in err.getvalue()
    assert not Definition.objects.filter(tenant="t2").exists()


def test_validate_definitions_on_files(sample_nodes, tmp_path):
    out, _ = _call("validate_definitions", str(SAMPLES))
    assert "valid" in out
    _broken_folder(tmp_path, sample_nodes)
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"\d+ problem"):
        call_command("validate_definitions", str(tmp_path), stdout=out)
    assert "nodes/bad.json:$.type:" in out.getvalue()
    assert "workflows/flow.json:$.states.a.resourceId:" in out.getvalue()
    with pytest.raises(CommandError, match="Name a folder or a --tenant"):
        _call("validate_definitions")


def test_validate_definitions_on_stored_snapshots(source, sample_nodes):
    assert "src: valid." in _call("validate_definitions", "--tenant", source)[0]
    # A SNAPSHOT that no longer validates (written by an older release, or edited in the database).
    node_id = sample_nodes[0]["id"]
    DefinitionVersion.objects.filter(definition__tenant=source, definition__key=node_id, version=0).update(
        body={"id": node_id, "name": "x", "type": "NOPE", "version": "SNAPSHOT"})
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"\d+ problem"):
        call_command("validate_definitions", "--tenant", source, stdout=out)
    assert f"nodes/{node_id}@SNAPSHOT:$.type:" in out.getvalue()
