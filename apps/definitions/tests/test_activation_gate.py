"""The test-case gate of activation (apps/definitions/activation.py): whatever is registered runs a version's
cases before it becomes ACTIVE; with cases and nothing registered, activation is refused, not let through."""

import pytest

from apps.definitions import activation, services
from apps.definitions.activation import CasesGateMissing, CasesVerdict
from apps.definitions.models import AuditEntry, Definition, Kind
from core.problems import Problem
from drift.errors import Conflict

pytestmark = pytest.mark.django_db
T = "acme"
CASES = [{"name": "delivered", "expect": {"status": "COMPLETED"}}]


def publish(nodes: list[dict], workflow: dict) -> int:
    for body, kind in [*((node, Kind.NODE) for node in nodes), (workflow, Kind.WORKFLOW)]:
        services.definition_save_snapshot(tenant=T, kind=kind, body=body, actor="alice", create=True)
        version = services.definition_publish(tenant=T, kind=kind, key=body["id"], actor="alice").version
    return version


def activate(version: int):
    return services.definition_activate(tenant=T, kind=Kind.WORKFLOW, key="order_status", version=version,
                                        actor="bob")


class RecordingGate:
    def __init__(self, verdict: CasesVerdict) -> None:
        self.verdict, self.calls = verdict, []

    def __call__(self, *, tenant: str, key: str, version: int, actor: str) -> CasesVerdict:
        self.calls.append((tenant, key, version, actor))
        return self.verdict


def test_the_registered_gate_runs_the_cases_and_the_audit_names_its_report(monkeypatch, sample_nodes,
                                                                           sample_workflow):
    gate = RecordingGate(CasesVerdict(report_id=41, total=1, failures=[]))
    monkeypatch.setattr(activation, "_gate", gate)
    version = publish(sample_nodes, {**sample_workflow, "tests": CASES})
    activate(version)
    assert gate.calls == [(T, "order_status", version, "bob")]
    entry = AuditEntry.objects.get(tenant=T, key="order_status", action="ACTIVATE")
    assert entry.details["testReport"] == 41


def test_failing_cases_refuse_the_activation_with_one_problem_each(monkeypatch, sample_nodes, sample_workflow):
    failures = [Problem("$.tests[0]", "delivered: status: expected COMPLETED, got FAILED")]
    monkeypatch.setattr(activation, "_gate", RecordingGate(CasesVerdict(report_id=7, total=1, failures=failures)))
    version = publish(sample_nodes, {**sample_workflow, "tests": CASES})
    with pytest.raises(Conflict) as refused:
        activate(version)
    assert refused.value.details == failures and refused.value.extra == {"testReport": 7}
    assert Definition.objects.get(tenant=T, kind=Kind.WORKFLOW, key="order_status").active_version is None
    assert not AuditEntry.objects.filter(tenant=T, key="order_status", action="ACTIVATE").exists()


def test_with_cases_and_no_gate_registered_activation_fails_loudly(monkeypatch, sample_nodes, sample_workflow):
    monkeypatch.setattr(activation, "_gate", None)
    version = publish(sample_nodes, {**sample_workflow, "tests": CASES})
    with pytest.raises(CasesGateMissing, match="apps.trials registers it"):
        activate(version)
    assert not AuditEntry.objects.filter(tenant=T, key="order_status", action="ACTIVATE").exists()


def test_a_version_without_cases_needs_no_gate(monkeypatch, sample_nodes, sample_workflow):
    monkeypatch.setattr(activation, "_gate", None)
    activate(publish(sample_nodes, sample_workflow))
    assert AuditEntry.objects.filter(tenant=T, key="order_status", action="ACTIVATE").count() == 1
