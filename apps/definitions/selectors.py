"""Reads of definitions, routes, the enum store and the audit trail. Lookups the worker makes per run
go through the two-layer cache (apps.definitions.cache)."""

from django.db.models import F, QuerySet

from apps.definitions import cache
from apps.definitions.cache import definition_cache
from apps.definitions.diff import json_diff
from apps.definitions.models import SNAPSHOT as SNAPSHOT_NUMBER
from apps.definitions.models import AuditEntry, Definition, DefinitionVersion, EnumEntry, Kind, Route
from apps.definitions.routing import ab_provider
from apps.definitions.versions import ACTIVE, LATEST, SNAPSHOT, VersionSpec, is_version_number, parse_version
from core.problems import Problem
from drift.errors import InvalidInput, NotFound, first_or_not_found


def kind_label(kind: str) -> str:
    return "node definition" if kind == Kind.NODE else "workflow definition"


# --- heads and bodies (cached)


def _head(*, tenant: str, kind: str, key: str) -> dict | None:
    def load() -> dict | None:
        row = Definition.objects.filter(tenant=tenant, kind=kind, key=key).values("latest_version", "active_version")
        row = row.first()
        return row and {"latest": row["latest_version"], "active": row["active_version"]}

    return definition_cache.get(cache.head_key(tenant, kind, key), load, immutable=False, shared=True)  # read only


def _body(*, tenant: str, kind: str, key: str, number: int, shared: bool = False) -> dict | None:
    def load() -> dict | None:
        rows = DefinitionVersion.objects.filter(
            definition__tenant=tenant, definition__kind=kind, definition__key=key, version=number
        )
        return rows.values_list("body", flat=True).first()

    immutable = number != SNAPSHOT_NUMBER
    return definition_cache.get(cache.version_key(tenant, kind, key, number), load, immutable=immutable,
                                shared=shared)


def definition_number(*, tenant: str, kind: str, key: str, version: VersionSpec) -> int:
    """The stored number a version spec names (0 for SNAPSHOT); NotFound when there is none."""
    head = _head(tenant=tenant, kind=kind, key=key)
    if head is None:
        raise NotFound(f"Unknown {kind_label(kind)} '{key}'.")
    if version == SNAPSHOT:
        return SNAPSHOT_NUMBER
    number = {LATEST: head["latest"] or None, ACTIVE: head["active"]}.get(version, version)
    if number is None:
        raise NotFound(f"{kind_label(kind).capitalize()} '{key}' has no {version} version.")
    if not isinstance(number, int) or number > head["latest"]:
        raise NotFound(f"{kind_label(kind).capitalize()} '{key}' has no version {version}.")
    return number


def definition_get(*, tenant: str, kind: str, key: str, version: VersionSpec = LATEST, shared: bool = False) -> dict:
    """The DSL document of one version (its `version` field says which); NotFound when missing. `shared`: the
    cached document itself, for a caller that never changes it (see DefinitionCache.get)."""
    number = definition_number(tenant=tenant, kind=kind, key=key, version=version)
    body = _body(tenant=tenant, kind=kind, key=key, number=number, shared=shared)
    if body is None:
        raise NotFound(f"{kind_label(kind).capitalize()} '{key}' has no version {version}.")
    return body


def definition_find(*, tenant: str, kind: str, key: str, version: VersionSpec) -> dict | None:
    try:
        return definition_get(tenant=tenant, kind=kind, key=key, version=version)
    except NotFound:
        return None


def node_lookup_for(tenant: str):
    """The DSL validator's view of this tenant's node definitions."""

    def lookup(resource_id: str, version: VersionSpec) -> dict | None:
        return definition_find(tenant=tenant, kind=Kind.NODE, key=resource_id, version=version)

    return lookup


def workflow_lookup_for(tenant: str):
    """The DSL validator's view of this tenant's workflow definitions (CHILD targets)."""

    def lookup(key: str, version: VersionSpec) -> dict | None:
        return definition_find(tenant=tenant, kind=Kind.WORKFLOW, key=key, version=version)

    return lookup


# --- listing, history, diff (uncached: operator reads)


def definition_list(*, tenant: str, kind: str) -> QuerySet[Definition]:
    return Definition.objects.filter(tenant=tenant, kind=kind).order_by("key")


def node_palette(*, tenant: str) -> list[dict]:
    """The tenant's published node definitions (each at its LATEST version) for the workflow builder's palette."""
    rows = (DefinitionVersion.objects.filter(definition__tenant=tenant, definition__kind=Kind.NODE,
                                             definition__latest_version__gt=0,
                                             version=F("definition__latest_version"))
            .select_related("definition").order_by("definition__key"))
    return [{"id": row.definition.key, "pk": row.definition_id, "version": row.version, "type": row.body.get("type"),
             "name": row.body.get("name") or "", "parameters": row.body.get("parameters") or [], "body": row.body}
            for row in rows]


def definition_head_get(*, tenant: str, kind: str, key: str) -> Definition:
    return first_or_not_found(Definition.objects.filter(tenant=tenant, kind=kind, key=key),
                              f"Unknown {kind_label(kind)} '{key}'.")


def definition_versions(*, tenant: str, kind: str, key: str) -> tuple[Definition, QuerySet[DefinitionVersion]]:
    """The head row and every version row (SNAPSHOT first, then 1, 2, ...)."""
    head = definition_head_get(tenant=tenant, kind=kind, key=key)
    return head, head.versions.order_by("version").only("version", "created_by", "created_at")


def definition_diff(*, tenant: str, kind: str, key: str, from_version: VersionSpec,
                    to_version: VersionSpec) -> list[dict]:
    """Changes from one version's document to another's; the `version` field itself is left out."""
    old = definition_get(tenant=tenant, kind=kind, key=key, version=from_version)
    new = definition_get(tenant=tenant, kind=kind, key=key, version=to_version)
    old.pop("version", None)
    new.pop("version", None)
    return json_diff(old, new)


# --- workflows with their nodes inlined


def workflow_inline_nodes(*, tenant: str, body: dict, pin: bool, strict: bool, shared: bool = False) -> dict:
    """`body` with every state's `nodeDefinition` filled from its resourceId/resourceVersion.
    pin: also rewrite resourceVersion to the number resolved. strict: NotFound on a missing node
    (otherwise the state keeps nodeDefinition null). shared: the node documents are the cache's (read only)."""
    states = body.get("states") if isinstance(body.get("states"), dict) else {}
    for name, state in states.items():
        if not isinstance(state, dict) or isinstance(state.get("nodeDefinition"), dict) \
                or state.get("type", "NODE") != "NODE":
            continue  # PARALLEL and MAP states reference no node definition
        try:
            _inline_state(tenant, name, state, pin, shared)
        except (NotFound, InvalidInput):
            if strict:
                raise
            state["nodeDefinition"] = None
    return body


def _inline_state(tenant: str, name: str, state: dict, pin: bool, shared: bool) -> None:
    resource_id = state.get("resourceId")
    if not isinstance(resource_id, str):
        raise NotFound(f"State '{name}' names no node definition.")
    path = f"$.states.{name}.resourceVersion"
    spec = parse_version(state.get("resourceVersion"), path=path, default=LATEST)
    number = definition_number(tenant=tenant, kind=Kind.NODE, key=resource_id, version=spec)
    state["nodeDefinition"] = definition_get(tenant=tenant, kind=Kind.NODE, key=resource_id, version=number or SNAPSHOT,
                                             shared=shared)
    if pin:
        state["resourceVersion"] = number or SNAPSHOT


def workflow_get(*, tenant: str, key: str, version: VersionSpec = LATEST, enrich: bool = False) -> dict:
    body = definition_get(tenant=tenant, kind=Kind.WORKFLOW, key=key, version=version)
    return workflow_inline_nodes(tenant=tenant, body=body, pin=False, strict=False) if enrich else body


def workflow_sensitive_paths(*, tenant: str, key: str | None, version: VersionSpec | None) -> list[str]:
    """The `sensitivePaths` of a workflow version ([] when it cannot be found: nothing to seal)."""
    if not key:
        return []
    spec = int(version) if is_version_number(version) else (version or ACTIVE)
    try:
        body = definition_get(tenant=tenant, kind=Kind.WORKFLOW, key=key, version=spec, shared=True)  # read only
    except NotFound:
        return []
    return list(body.get("sensitivePaths") or [])


def workflow_resolve_for_run(*, tenant: str, workflow_key: str | None = None, version: VersionSpec | None = None,
                             issue_id: str | None = None, bucket_key: str = "") -> dict:
    """What a run executes: {"id", "version": int, "definition"} with every node inlined and every
    resourceVersion pinned. A named workflow wins over the issue's route. Without a version: ACTIVE,
    or LATEST while none was activated. Built over the cache's documents without copying them (only the
    top level and each state are new): the definition is read only, it goes to Temporal and the Run row."""
    if not workflow_key:
        if not issue_id:
            raise InvalidInput("Name a workflow or an issue.", [Problem("$.issueDetail.issueId", "is required")])
        workflow_key, version = route_target(tenant=tenant, issue_id=issue_id, bucket_key=bucket_key)
    spec = parse_version(version, path="$.params.version", default=ACTIVE)
    if spec == SNAPSHOT:
        raise InvalidInput("Runs use published versions.", [Problem("$.params.version", "SNAPSHOT cannot run")])
    if version is None and (_head(tenant=tenant, kind=Kind.WORKFLOW, key=workflow_key) or {}).get("active") is None:
        spec = LATEST
    number = definition_number(tenant=tenant, kind=Kind.WORKFLOW, key=workflow_key, version=spec)
    body = definition_get(tenant=tenant, kind=Kind.WORKFLOW, key=workflow_key, version=number, shared=True)
    own = dict(body)
    if isinstance(body.get("states"), dict):
        own["states"] = {name: dict(state) if isinstance(state, dict) else state
                         for name, state in body["states"].items()}
    definition = workflow_inline_nodes(tenant=tenant, body=own, pin=True, strict=True, shared=True)
    return {"id": workflow_key, "version": number, "definition": definition}


# --- routes


def _route_loaded(*, tenant: str, issue_id: str) -> dict | None:
    def load() -> dict | None:
        route = Route.objects.filter(tenant=tenant, issue_id=issue_id).prefetch_related("variants").first()
        return route and route_as_dict(route)

    return definition_cache.get(cache.route_key(tenant, issue_id), load, immutable=False)


def route_as_dict(route: Route) -> dict:
    variants = [{"workflowId": v.workflow_key, "version": v.version, "weight": v.weight} for v in route.variants.all()]
    return {"issueId": route.issue_id, "workflowId": route.workflow_key, "version": route.version,
            "variants": variants}


def route_get(*, tenant: str, issue_id: str) -> dict:
    route = _route_loaded(tenant=tenant, issue_id=issue_id)
    if route is None:
        raise NotFound(f"No route for issue '{issue_id}'.")
    return route


def route_list(*, tenant: str) -> QuerySet[Route]:
    return Route.objects.filter(tenant=tenant).prefetch_related("variants").order_by("issue_id")


def route_target(*, tenant: str, issue_id: str, bucket_key: str = "") -> tuple[str, str]:
    """(workflow key, version spec) for an issue: a weighted variant when the route has any."""
    route = route_get(tenant=tenant, issue_id=issue_id)
    if any(v["weight"] > 0 for v in route["variants"]):
        chosen = ab_provider().choose(tenant=tenant, issue_id=issue_id, variants=route["variants"],
                                      bucket_key=bucket_key)
        return chosen["workflowId"], chosen["version"]
    return route["workflowId"], route["version"]


# --- enum store and audit


def enum_store_for(*, tenant: str, shared: bool = False) -> dict:
    """The tenant's enum store; `shared`: the cached dict itself, for a caller that only reads it."""

    def load() -> dict:
        return dict(EnumEntry.objects.filter(tenant=tenant).values_list("key", "value"))

    return definition_cache.get(cache.enum_key(tenant), load, immutable=False, shared=shared)


def enum_entry_get(*, tenant: str, key: str) -> EnumEntry:
    return first_or_not_found(EnumEntry.objects.filter(tenant=tenant, key=key), f"No enum entry '{key}'.")


def enum_entry_list(*, tenant: str) -> QuerySet[EnumEntry]:
    return EnumEntry.objects.filter(tenant=tenant).order_by("key")


def audit_list(*, tenant: str, kind: str | None = None, key: str | None = None) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.filter(tenant=tenant)
    if kind:
        entries = entries.filter(kind=kind)
    if key:
        entries = entries.filter(key=key)
    return entries
