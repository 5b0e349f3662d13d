"""Writes: definitions (SNAPSHOT save, publish, activate), routes and enum entries. Every write is
audited and drops the cached entries it makes stale."""

from typing import Any

from django.db import IntegrityError, transaction

from apps.definitions import cache, dsl
from apps.definitions.activation import CasesVerdict, cases_gate
from apps.definitions.cache import definition_cache
from apps.definitions.diff import json_diff
from apps.definitions.models import SNAPSHOT as SNAPSHOT_NUMBER
from apps.definitions.models import (
    AuditAction,
    AuditEntry,
    Definition,
    DefinitionVersion,
    EnumEntry,
    Kind,
    Route,
    RouteVariant,
)
from apps.definitions.selectors import definition_head_get, kind_label, node_lookup_for, workflow_lookup_for
from apps.definitions.versions import LATEST, SNAPSHOT, VersionSpec, parse_version, version_problem
from core.problems import Problem
from drift.errors import Conflict, InvalidInput, NotFound, first_or_not_found
from drift.json_input import refuse_unsafe_json

MAX_AUDIT_CHANGES = 200


def audit(*, tenant: str, kind: str, key: str, action: str, actor: str, version: int | None = None,
          details: dict | None = None) -> AuditEntry:
    return AuditEntry.objects.create(tenant=tenant, kind=kind, key=key, version=version, action=action,
                                     actor=actor, details=details or {})


def _changes(old: Any, new: Any) -> list[dict]:
    return json_diff(old, new)[:MAX_AUDIT_CHANGES]


# --- definitions


def definition_validate(*, tenant: str, kind: str, body: Any) -> list[Problem]:
    """Every problem of a DSL document (errors and warnings), each with a JSON path."""
    if kind == Kind.NODE:
        return dsl.validate_node(body)
    return dsl.validate_workflow(body, node_lookup_for(tenant), workflow_lookup_for(tenant))


def _raise_if_invalid(problems: list[Problem], kind: str) -> list[Problem]:
    """The warnings, after raising InvalidInput (carrying the warnings too) if there is any error."""
    errors, warnings = dsl.errors_of(problems), dsl.warnings_of(problems)
    if errors:
        raise InvalidInput(f"The {kind_label(kind)} is invalid.", errors,
                           warnings=[w.as_dict() for w in warnings])
    return warnings


def _check_version_type(body: dict) -> None:
    """The value of a saved document's `version` is ignored (spec §7), but it must still be a version-like
    scalar: the original writes "1", our GET answers 1 or "SNAPSHOT"."""
    raw = body.get("version")
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, str | int)):
        raise InvalidInput("Invalid version.", [Problem("$.version", "must be a string or an integer (it is ignored: "
                                                                     "saves write the SNAPSHOT)")])


@transaction.atomic
def definition_save_snapshot(*, tenant: str, kind: str, body: Any, actor: str,
                             create: bool) -> tuple[DefinitionVersion, list[Problem]]:
    """Create (create=True; 409 if the id exists) or update (404 if it does not) the SNAPSHOT.
    A `version` in the body is ignored (spec §7: the original's documents carry one; a GET -> edit -> PUT
    round trip carries the fetched number): saves always write the SNAPSHOT.
    Returns the SNAPSHOT row and the validation warnings; errors raise InvalidInput."""
    refuse_unsafe_json(body)  # also for the admin and the import commands, which bypass the API's parser
    key_problems = dsl.key_problems(body)
    if key_problems:
        raise InvalidInput(f"The {kind_label(kind)} is invalid.", key_problems)
    _check_version_type(body)
    key = body["id"]
    head = Definition.objects.select_for_update().filter(tenant=tenant, kind=kind, key=key).first()
    if create and head is not None:
        raise Conflict(f"{kind_label(kind).capitalize()} '{key}' already exists; use PUT to update it.")
    if not create and head is None:
        raise NotFound(f"Unknown {kind_label(kind)} '{key}'; use POST to create it.")
    warnings = _raise_if_invalid(definition_validate(tenant=tenant, kind=kind, body=body), kind)
    stored = {**body, "version": SNAPSHOT}
    snapshot = _create_snapshot(tenant, kind, key, stored, actor) if create else _update_snapshot(head, stored, actor)
    definition_cache.invalidate([cache.head_key(tenant, kind, key), cache.version_key(tenant, kind, key, 0)])
    return snapshot, warnings


def _create_snapshot(tenant: str, kind: str, key: str, body: dict, actor: str) -> DefinitionVersion:
    try:
        with transaction.atomic():  # a concurrent create of the same id loses here
            head = Definition.objects.create(tenant=tenant, kind=kind, key=key)
    except IntegrityError as exc:
        raise Conflict(f"{kind_label(kind).capitalize()} '{key}' already exists; use PUT to update it.") from exc
    snapshot = DefinitionVersion.objects.create(definition=head, version=SNAPSHOT_NUMBER, body=body, created_by=actor)
    audit(tenant=tenant, kind=kind, key=key, action=AuditAction.CREATE, actor=actor,
          details={"changes": _changes({}, body)})
    return snapshot


def _update_snapshot(head: Definition, body: dict, actor: str) -> DefinitionVersion:
    snapshot = head.versions.get(version=SNAPSHOT_NUMBER)
    changes = _changes(snapshot.body, body)
    snapshot.body, snapshot.created_by = body, actor
    snapshot.save(update_fields=["body", "created_by"])
    head.save(update_fields=["updated_at"])
    audit(tenant=head.tenant, kind=head.kind, key=head.key, action=AuditAction.UPDATE, actor=actor,
          details={"changes": changes})
    return snapshot


def _locked_head(*, tenant: str, kind: str, key: str) -> Definition:
    return first_or_not_found(Definition.objects.select_for_update().filter(tenant=tenant, kind=kind, key=key),
                              f"Unknown {kind_label(kind)} '{key}'.")


def definition_publish(*, tenant: str, kind: str, key: str, actor: str) -> DefinitionVersion:
    """Copy the SNAPSHOT to the next number. The head row lock (IMMEDIATE transactions on SQLite)
    serialises concurrent publishes, so numbers are distinct and gap-free."""
    with transaction.atomic():
        head = _locked_head(tenant=tenant, kind=kind, key=key)
        snapshot = head.versions.get(version=SNAPSHOT_NUMBER)
        _raise_if_invalid(definition_validate(tenant=tenant, kind=kind, body=snapshot.body), kind)
        head.latest_version += 1
        head.save(update_fields=["latest_version", "updated_at"])
        version = DefinitionVersion.objects.create(definition=head, version=head.latest_version,
                                                   body={**snapshot.body, "version": head.latest_version},
                                                   created_by=actor)
        audit(tenant=tenant, kind=kind, key=key, action=AuditAction.PUBLISH, actor=actor,
              version=version.version)
        definition_cache.invalidate([cache.head_key(tenant, kind, key)])
    return version


def definition_activate(*, tenant: str, kind: str, key: str, version: VersionSpec, actor: str) -> Definition:
    """Point ACTIVE at a published number (or LATEST); an older number is a rollback. A workflow version
    with test cases must pass them first (409 listing the failures); the audit entry names the report."""
    head = _activation_target(tenant=tenant, kind=kind, key=key, version=version)
    number = head.latest_version if version == LATEST else version
    verdict = _activation_tests(tenant=tenant, kind=kind, key=key, number=number, actor=actor)
    with transaction.atomic():
        head = _locked_head(tenant=tenant, kind=kind, key=key)
        previous = head.active_version
        head.active_version = number
        head.save(update_fields=["active_version", "updated_at"])
        details = {"previous": previous, "rollback": previous is not None and number < previous}
        if verdict is not None:
            details["testReport"] = verdict.report_id
        audit(tenant=tenant, kind=kind, key=key, action=AuditAction.ACTIVATE, actor=actor, version=number,
              details=details)
        definition_cache.invalidate([cache.head_key(tenant, kind, key)])
    return head


def _activation_target(*, tenant: str, kind: str, key: str, version: VersionSpec) -> Definition:
    head = definition_head_get(tenant=tenant, kind=kind, key=key)
    number = head.latest_version if version == LATEST else version
    if not isinstance(number, int):
        raise InvalidInput("Only a published version can be activated.",
                           [Problem("$.query.version", "must be a version number or LATEST")])
    if number < 1 or number > head.latest_version:
        raise NotFound(f"{kind_label(kind).capitalize()} '{key}' has no published version {version}.")
    return head


def _activation_tests(*, tenant: str, kind: str, key: str, number: int, actor: str) -> CasesVerdict | None:
    """Run the version's test cases through the registered gate (outside the head lock: they take seconds);
    None when it has none."""
    if kind != Kind.WORKFLOW:
        return None
    body = DefinitionVersion.objects.get(definition__tenant=tenant, definition__kind=kind, definition__key=key,
                                         version=number).body
    if not body.get("tests"):
        return None
    verdict = cases_gate()(tenant=tenant, key=key, version=number, actor=actor)
    if verdict.failures:
        raise Conflict(f"Version {number} of '{key}' fails {len(verdict.failures)} of its {verdict.total} test "
                       "cases; it cannot be activated.", verdict.failures, testReport=verdict.report_id)
    return verdict


# --- routes


def route_target_problems(*, tenant: str, workflow_key: object, version: object = "ACTIVE", path: str = "$",
                          loading: frozenset[str] = frozenset()) -> list[Problem]:
    """Why (workflow, version) cannot be the target of one of the tenant's routes or variants ([] when it can).
    The one route-target check: the API, the admin forms and `load` ask it. `loading`: workflow keys a
    `load` is about to write alongside the route (their versions do not exist yet)."""
    problem = version_problem(version, path=f"{path}.version", allowed=("ACTIVE", "LATEST"))
    if problem:
        return [problem]
    if isinstance(workflow_key, str) and workflow_key in loading:
        return []
    head = Definition.objects.filter(tenant=tenant, kind=Kind.WORKFLOW, key=workflow_key).first() \
        if isinstance(workflow_key, str) else None
    if head is None:
        return [Problem(f"{path}.workflowId", f"unknown workflow definition '{workflow_key}'")]
    number = parse_version(version, path=f"{path}.version", default="ACTIVE")
    if isinstance(number, int) and number > head.latest_version:
        return [Problem(f"{path}.version", f"workflow '{workflow_key}' has no published version {number}")]
    return []


@transaction.atomic
def route_save(*, tenant: str, issue_id: str, workflow_key: str, actor: str, version: VersionSpec = "ACTIVE",
               variants: list[dict] | None = None) -> Route:
    """Create or replace the route of an issue. variants: [{"workflowId", "version", "weight"}]."""
    variants = variants or []
    problems = route_target_problems(tenant=tenant, workflow_key=workflow_key, version=version)
    for index, variant in enumerate(variants):
        problems += route_target_problems(tenant=tenant, workflow_key=variant["workflowId"],
                                          version=variant.get("version", "ACTIVE"), path=f"$.variants[{index}]")
    if problems:
        raise InvalidInput("The route is invalid.", problems)
    route, created = Route.objects.update_or_create(
        tenant=tenant, issue_id=issue_id,
        defaults={"workflow_key": workflow_key, "version": str(parse_version(version, path="$.version",
                                                                              default="ACTIVE"))},
    )
    route.variants.all().delete()
    RouteVariant.objects.bulk_create([
        RouteVariant(route=route, workflow_key=v["workflowId"], weight=v.get("weight", 1),
                     version=str(parse_version(v.get("version"), path="$.version", default="ACTIVE")))
        for v in variants
    ])
    audit(tenant=tenant, kind="ROUTE", key=issue_id, actor=actor,
          action=AuditAction.CREATE if created else AuditAction.UPDATE,
          details={"workflowId": workflow_key, "version": route.version, "variants": variants})
    definition_cache.invalidate([cache.route_key(tenant, issue_id)])
    return route


@transaction.atomic
def route_delete(*, tenant: str, issue_id: str, actor: str) -> None:
    deleted, _ = Route.objects.filter(tenant=tenant, issue_id=issue_id).delete()
    if not deleted:
        raise NotFound(f"No route for issue '{issue_id}'.")
    audit(tenant=tenant, kind="ROUTE", key=issue_id, action=AuditAction.DELETE, actor=actor)
    definition_cache.invalidate([cache.route_key(tenant, issue_id)])


# --- enum store


@transaction.atomic
def enum_entry_set(*, tenant: str, key: str, value: Any, actor: str) -> EnumEntry:
    refuse_unsafe_json(value, "$.value")
    entry = EnumEntry.objects.select_for_update().filter(tenant=tenant, key=key).first()
    old = entry.value if entry else None
    if entry is None:
        entry = EnumEntry.objects.create(tenant=tenant, key=key, value=value)
    else:
        entry.value = value
        entry.save(update_fields=["value", "updated_at"])
    audit(tenant=tenant, kind="ENUM", key=key, actor=actor,
          action=AuditAction.UPDATE if old is not None else AuditAction.CREATE,
          details={"changes": _changes(old, value)})
    definition_cache.invalidate([cache.enum_key(tenant)])
    return entry


@transaction.atomic
def enum_entry_delete(*, tenant: str, key: str, actor: str) -> None:
    deleted, _ = EnumEntry.objects.filter(tenant=tenant, key=key).delete()
    if not deleted:
        raise NotFound(f"No enum entry '{key}'.")
    audit(tenant=tenant, kind="ENUM", key=key, action=AuditAction.DELETE, actor=actor)
    definition_cache.invalidate([cache.enum_key(tenant)])


# --- bulk loading (load_samples, definition files)


def _without_version(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "version"}


def definition_sync(*, tenant: str, kind: str, body: dict, actor: str, activate: bool = True) -> int:
    """Make `body` the published (and, with activate, ACTIVE) version of its id, creating a new
    version only when it differs from the latest one: safe to repeat. Returns that version number."""
    head = Definition.objects.filter(tenant=tenant, kind=kind, key=body.get("id")).first()
    draft = {**_without_version(body), "version": SNAPSHOT}
    if head is None or head.versions.get(version=SNAPSHOT_NUMBER).body != draft:
        definition_save_snapshot(tenant=tenant, kind=kind, body=draft, actor=actor, create=head is None)
        head = Definition.objects.get(tenant=tenant, kind=kind, key=body["id"])
    latest = head.versions.filter(version=head.latest_version).first() if head.latest_version else None
    number = head.latest_version
    if latest is None or _without_version(latest.body) != _without_version(draft):
        number = definition_publish(tenant=tenant, kind=kind, key=head.key, actor=actor).version
    if activate and head.active_version != number:
        definition_activate(tenant=tenant, kind=kind, key=head.key, version=number, actor=actor)
    return number
