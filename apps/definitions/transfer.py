"""Definitions as files (`manage.py export` / `load` / `validate_definitions`).

Layout of an export (also accepted by load): `nodes/<id>.json`, `workflows/<id>.json`, `routes.json`,
`enum_store.json`, pretty-printed with sorted keys so exports diff cleanly. Load also reads the samples
layout: `*.nodes.json` (a list of node definitions) and `*.workflow.json`.

Problems carry `<file>:<JSON path>` as their path. A load validates every file before it writes anything
and writes in one transaction, so a folder is loaded whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from apps.definitions import cache, dsl
from apps.definitions.cache import definition_cache
from apps.definitions.models import SNAPSHOT as SNAPSHOT_NUMBER
from apps.definitions.models import Definition, DefinitionVersion, Kind
from apps.definitions.selectors import (
    definition_find,
    definition_list,
    enum_entry_list,
    enum_store_for,
    node_lookup_for,
    route_as_dict,
    route_list,
)
from apps.definitions.services import (
    definition_save_snapshot,
    definition_sync,
    definition_validate,
    enum_entry_set,
    route_save,
    route_target_problems,
)
from apps.definitions.versions import ACTIVE, LATEST, SNAPSHOT, VersionSpec
from core.problems import Problem
from drift.errors import DriftError, InvalidInput

KIND_DIRS = {Kind.NODE: "nodes", Kind.WORKFLOW: "workflows"}
ROUTES_FILE, ENUM_FILE = "routes.json", "enum_store.json"


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def problem_line(problem: Problem) -> str:
    line = f"{problem.path}: {problem.problem}"
    return f"{line} (warning)" if problem.severity == "warning" else line


def _located(problems: list[Problem], file: str, prefix: str = "$") -> list[Problem]:
    """`problems` (paths from `$`) placed at `prefix` inside `file`."""
    return [Problem(f"{file}:{prefix}{p.path[1:]}", p.problem, p.severity) for p in problems]


# --------------------------------------------------------------------------- export


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # definitions without the requested version


def definitions_export(*, tenant: str, out: Path, kind: str | None = None,
                       version: VersionSpec = LATEST) -> ExportResult:
    """Write one file per definition (its `version` field dropped: files are environment-neutral); with no
    `kind` restriction, the tenant's routes and enum store too."""
    result = ExportResult()
    for current in [kind] if kind else list(KIND_DIRS):
        for head in definition_list(tenant=tenant, kind=current):
            body = definition_find(tenant=tenant, kind=current, key=head.key, version=version)
            if body is None:
                result.skipped.append(f"{KIND_DIRS[current]}/{head.key}")
                continue
            body.pop("version", None)
            result.written.append(_write(out / KIND_DIRS[current] / f"{head.key}.json", body))
    if kind is None:
        routes = [route_as_dict(route) for route in route_list(tenant=tenant)]
        result.written.append(_write(out / ROUTES_FILE, routes))
        enums = {entry.key: entry.value for entry in enum_entry_list(tenant=tenant)}
        result.written.append(_write(out / ENUM_FILE, enums))
    return result


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_json(data))
    return path


# --------------------------------------------------------------------------- reading a folder


@dataclass(frozen=True)
class DefinitionFile:
    file: str  # relative to the folder
    prefix: str  # JSON path of the document inside the file ("$", or "$[2]" in a *.nodes.json list)
    kind: str
    body: Any

    @property
    def key(self) -> Any:
        return self.body.get("id") if isinstance(self.body, dict) else None


@dataclass
class Bundle:
    definitions: list[DefinitionFile] = field(default_factory=list)
    routes: Any = None  # routes.json, when present
    enum_store: Any = None  # enum_store.json, when present
    problems: list[Problem] = field(default_factory=list)  # unreadable files

    def of_kind(self, kind: str) -> list[DefinitionFile]:
        return [d for d in self.definitions if d.kind == kind]


def bundle_read(folder: Path) -> Bundle:
    """Every definition file of `folder`; files that cannot be parsed become problems."""
    bundle = Bundle()
    if not folder.is_dir():
        bundle.problems.append(Problem(f"{folder}:$", "is not a directory"))
        return bundle
    for kind, pattern in ((Kind.NODE, "nodes/*.json"), (Kind.WORKFLOW, "workflows/*.json"),
                          (Kind.WORKFLOW, "*.workflow.json")):
        for file, data in _read_all(bundle, folder, pattern):
            bundle.definitions.append(DefinitionFile(file, "$", kind, data))
    for file, data in _read_all(bundle, folder, "*.nodes.json"):
        if not isinstance(data, list):
            bundle.problems.append(Problem(f"{file}:$", "must be a list of node definitions"))
            continue
        bundle.definitions += [DefinitionFile(file, f"$[{i}]", Kind.NODE, body) for i, body in enumerate(data)]
    for _, data in _read_all(bundle, folder, ROUTES_FILE):
        bundle.routes = data
    for _, data in _read_all(bundle, folder, ENUM_FILE):
        bundle.enum_store = data
    if not (bundle.definitions or bundle.problems or bundle.routes is not None or bundle.enum_store is not None):
        bundle.problems.append(Problem(f"{folder}:$", "holds no definition files"))
    return bundle


def _read_all(bundle: Bundle, folder: Path, pattern: str) -> Iterator[tuple[str, Any]]:
    """(file relative to `folder`, parsed JSON) of each file matching `pattern`."""
    for path in sorted(folder.glob(pattern)):
        file = str(path.relative_to(folder))
        try:
            yield file, json.loads(path.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            bundle.problems.append(Problem(f"{file}:$", f"cannot be read: {exc}"))
        except ValueError as exc:
            bundle.problems.append(Problem(f"{file}:$", f"is not valid JSON: {exc}"))


# --------------------------------------------------------------------------- validation


def bundle_problems(*, tenant: str, bundle: Bundle, publish: bool = False, activate: bool = False) -> list[Problem]:
    """Every problem (errors and warnings) of loading `bundle` into `tenant`. Workflows are checked against
    the nodes as they will be after the load: the files' nodes (as SNAPSHOT, and as LATEST/ACTIVE when
    published/activated) over the tenant's stored ones."""
    problems = list(bundle.problems) + _duplicate_ids(bundle)
    lookup = _lookup_after_load(tenant, bundle, publish=publish, activate=activate)
    for item in bundle.definitions:
        found = dsl.validate_node(item.body) if item.kind == Kind.NODE else dsl.validate_workflow(item.body, lookup)
        problems += _located(found, item.file, item.prefix)
    problems += _route_problems(tenant, bundle)
    if bundle.enum_store is not None and not isinstance(bundle.enum_store, dict):
        problems.append(Problem(f"{ENUM_FILE}:$", "must be an object of enum entries"))
    return problems


def _duplicate_ids(bundle: Bundle) -> list[Problem]:
    seen: dict[tuple[str, Any], DefinitionFile] = {}
    problems = []
    for item in bundle.definitions:
        first = seen.setdefault((item.kind, item.key), item)
        if first is not item and item.key is not None:
            problems.append(Problem(f"{item.file}:{item.prefix}.id",
                                    f"'{item.key}' is also defined in {first.file}:{first.prefix}"))
    return problems


def _lookup_after_load(tenant: str, bundle: Bundle, *, publish: bool, activate: bool) -> dsl.NodeLookup:
    stored = node_lookup_for(tenant)
    loaded = {item.key: item.body for item in bundle.of_kind(Kind.NODE) if isinstance(item.key, str)}
    aliases = {SNAPSHOT} | ({LATEST} if publish or activate else set()) | ({ACTIVE} if activate else set())

    def lookup(resource_id: str, version: VersionSpec) -> dict | None:
        if resource_id in loaded and version in aliases:
            return loaded[resource_id]
        found = stored(resource_id, version)
        if found is None and resource_id in loaded and isinstance(version, int) and publish:
            return loaded[resource_id]  # the number the load publishes it as (e.g. 1 in a fresh tenant)
        return found

    return lookup


def _route_problems(tenant: str, bundle: Bundle) -> list[Problem]:
    if bundle.routes is None:
        return []
    if not isinstance(bundle.routes, list):
        return [Problem(f"{ROUTES_FILE}:$", "must be a list of routes")]
    loading = frozenset(item.key for item in bundle.of_kind(Kind.WORKFLOW))
    problems = []
    for index, route in enumerate(bundle.routes):
        path = f"{ROUTES_FILE}:$[{index}]"
        if not isinstance(route, dict) or not isinstance(route.get("issueId"), str) or not route["issueId"]:
            problems.append(Problem(f"{path}.issueId", "is required and must be a non-empty string"))
            continue
        targets = [("", route)] + [(f".variants[{i}]", v) for i, v in enumerate(route.get("variants") or [])]
        for sub, target in targets:
            if not isinstance(target, dict):
                problems.append(Problem(f"{path}{sub}", "must be an object {workflowId, version}"))
                continue
            problems += route_target_problems(tenant=tenant, workflow_key=target.get("workflowId"),
                                              version=target.get("version", "ACTIVE"), path=f"{path}{sub}",
                                              loading=loading)
    return problems


def stored_snapshot_problems(*, tenant: str) -> list[Problem]:
    """Every problem of the tenant's stored SNAPSHOTs, at `<kind dir>/<id>@SNAPSHOT:<JSON path>`. Read from
    the database, not the cache: this checks what is stored."""
    snapshots = DefinitionVersion.objects.filter(definition__tenant=tenant, version=SNAPSHOT_NUMBER)
    problems = []
    for snapshot in snapshots.select_related("definition").order_by("definition__kind", "definition__key"):
        head = snapshot.definition
        found = definition_validate(tenant=tenant, kind=head.kind, body=snapshot.body)
        problems += _located(found, f"{KIND_DIRS[head.kind]}/{head.key}@SNAPSHOT")
    return problems


# --------------------------------------------------------------------------- load


@dataclass
class LoadResult:
    lines: list[str] = field(default_factory=list)  # one per definition, route and enum entry written
    warnings: list[Problem] = field(default_factory=list)


def bundle_load(*, tenant: str, bundle: Bundle, actor: str, publish: bool = False,
                activate: bool = False) -> LoadResult:
    """Load a folder: SNAPSHOTs saved (with `publish`, published when changed; with `activate`, also
    made ACTIVE), then routes and enum entries. InvalidInput lists every problem; nothing is written then."""
    publish = publish or activate
    problems = bundle_problems(tenant=tenant, bundle=bundle, publish=publish, activate=activate)
    errors = dsl.errors_of(problems)
    if errors:
        raise InvalidInput(f"{len(errors)} problem(s); nothing was loaded.", errors)
    stale = _cache_keys(tenant, bundle)
    try:
        with transaction.atomic():
            result = _write_bundle(tenant, bundle, actor, publish=publish, activate=activate)
    except BaseException:
        # Reads inside the rolled-back transaction may have cached its rows (numbered versions forever).
        definition_cache.invalidate(stale)
        raise
    result.warnings = dsl.warnings_of(problems)
    return result


def _write_bundle(tenant: str, bundle: Bundle, actor: str, *, publish: bool, activate: bool) -> LoadResult:
    result = LoadResult()
    for kind in KIND_DIRS:  # nodes first: workflows are validated against them
        for item in bundle.of_kind(kind):
            with _problems_at(item.file, item.prefix):
                result.lines.append(_save(tenant, kind, item.body, actor, publish=publish, activate=activate))
    for index, route in enumerate(bundle.routes or []):
        with _problems_at(ROUTES_FILE, f"$[{index}]"):
            route_save(tenant=tenant, issue_id=route["issueId"], workflow_key=route["workflowId"], actor=actor,
                       version=route.get("version") or ACTIVE, variants=route.get("variants") or [])
            result.lines.append(f"route {route['issueId']} -> {route['workflowId']}")
    current = enum_store_for(tenant=tenant)
    for key, value in sorted((bundle.enum_store or {}).items()):
        if current.get(key) != value:  # unchanged entries are left alone (no audit noise on a reload)
            enum_entry_set(tenant=tenant, key=key, value=value, actor=actor)
            result.lines.append(f"enum {key}")
    return result


def _save(tenant: str, kind: str, body: dict, actor: str, *, publish: bool, activate: bool) -> str:
    label = f"{KIND_DIRS[kind][:-1]} {body['id']}"
    if publish:
        number = definition_sync(tenant=tenant, kind=kind, body=body, actor=actor, activate=activate)
        return f"{label}: {'ACTIVE' if activate else 'LATEST'} = {number}"
    exists = Definition.objects.filter(tenant=tenant, kind=kind, key=body["id"]).exists()
    draft = {**body, "version": SNAPSHOT}
    if not exists or definition_find(tenant=tenant, kind=kind, key=body["id"], version=SNAPSHOT) != draft:
        definition_save_snapshot(tenant=tenant, kind=kind, body=draft, actor=actor, create=not exists)
    return f"{label}: SNAPSHOT"


@contextlib.contextmanager
def _problems_at(file: str, prefix: str) -> Iterator[None]:
    """Re-raise a service's DriftError with its problem paths placed inside `file` (errors the up-front
    validation cannot foresee, e.g. a route naming a version the load does not publish)."""
    try:
        yield
    except DriftError as exc:
        details = _located(exc.details, file, prefix) or [Problem(f"{file}:{prefix}", exc.message)]
        raise InvalidInput(f"{exc.message} Nothing was loaded.", details) from exc


def _cache_keys(tenant: str, bundle: Bundle) -> list[str]:
    """The cache keys a load can fill: heads, SNAPSHOTs and the numbers it may publish; routes; enum store."""
    latest = {(head.kind, head.key): head.latest_version
              for head in Definition.objects.filter(tenant=tenant).only("kind", "key", "latest_version")}
    keys = [cache.enum_key(tenant)]
    for item in bundle.definitions:
        number = latest.get((item.kind, item.key), 0) + 1
        keys += [cache.head_key(tenant, item.kind, item.key), cache.version_key(tenant, item.kind, item.key, number),
                 cache.version_key(tenant, item.kind, item.key, SNAPSHOT_NUMBER)]
    keys += [cache.route_key(tenant, r["issueId"]) for r in bundle.routes or [] if isinstance(r, dict)]
    return keys
