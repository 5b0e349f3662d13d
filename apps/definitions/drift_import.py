"""`manage.py import_drift PATH`: the original Drift's definition files, translated and loaded (spec §7).

Each file (a node or workflow document, or a list of them) is translated as a whole: `GROOVY` nodes
become `SCRIPT` nodes and every SCRIPT value component's Groovy source becomes Python (`groovy.py`).
A file with anything untranslatable or invalid is reported per JSON path and saves nothing; the others
are loaded through `transfer.bundle_load` (validated, one transaction per file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.definitions import groovy
from apps.definitions.models import Kind
from apps.definitions.transfer import Bundle, DefinitionFile, bundle_load
from apps.nodes.values import is_value_component
from core.problems import Problem
from drift.errors import DriftError


@dataclass
class FileReport:
    file: str
    lines: list[str] = field(default_factory=list)  # what was saved
    problems: list[Problem] = field(default_factory=list)  # why nothing was saved
    warnings: list[Problem] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return not self.problems


def drift_files(path: Path) -> list[Path]:
    """The JSON files under `path` (or `path` itself), files of node documents only first: workflows
    that reference nodes are checked against what the earlier files saved."""
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return sorted(files, key=lambda file: _text_holds_workflow(_read_or_empty(file)))


def _read_or_empty(file: Path) -> str:
    try:
        return file.read_text()
    except (OSError, UnicodeDecodeError):
        return ""


def _text_holds_workflow(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return any(isinstance(doc, dict) and "states" in doc for doc in (data if isinstance(data, list) else [data]))


def translate_document(body: Any, path: str = "$") -> tuple[Any, list[Problem]]:
    """A copy of an original Drift document with GROOVY nodes as SCRIPT and scripts in Python, and the
    problems (JSON path, reason) of what could not be translated."""
    problems: list[Problem] = []

    def walk(value: Any, at: str) -> Any:
        if isinstance(value, list):
            return [walk(item, f"{at}[{index}]") for index, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        copied = {key: walk(item, f"{at}.{key}") for key, item in value.items()}
        if copied.get("type") == "GROOVY":
            copied["type"] = "SCRIPT"
        if is_value_component(copied) and copied["type"] == "SCRIPT" and isinstance(copied["value"], dict) \
                and isinstance(copied["value"].get("data"), str):
            translation = groovy.translate(copied["value"]["data"])
            if translation.source is None:
                problems.extend(Problem(f"{at}.value.data", f"cannot translate Groovy: {reason}")
                                for reason in translation.problems)
            else:
                copied["value"] = {**copied["value"], "data": translation.source}
        return copied

    return walk(body, path), problems


def import_file(*, tenant: str, file: Path, name: str, actor: str, publish: bool = False,
                activate: bool = False) -> FileReport:
    """Translate and load one file; nothing of it is saved when any part fails."""
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return FileReport(name, problems=[Problem(f"{name}:$", f"cannot be read: {exc}")])
    return import_text(tenant=tenant, text=text, name=name, actor=actor, publish=publish, activate=activate)


def import_text(*, tenant: str, text: str, name: str, actor: str, publish: bool = False,
                activate: bool = False) -> FileReport:
    """Translate and load one file's content (the command's files, the admin's uploads)."""
    report = FileReport(name)
    try:
        data = json.loads(text)
    except ValueError as exc:
        report.problems.append(Problem(f"{name}:$", f"is not valid JSON: {exc}"))
        return report
    documents = [(f"$[{i}]", doc) for i, doc in enumerate(data)] if isinstance(data, list) else [("$", data)]
    bundle = Bundle()
    for prefix, document in documents:
        translated, problems = translate_document(document, prefix)
        report.problems += [Problem(f"{name}:{p.path}", p.problem) for p in problems]
        kind = Kind.WORKFLOW if isinstance(document, dict) and "states" in document else Kind.NODE
        bundle.definitions.append(DefinitionFile(name, prefix, kind, translated))
    if report.problems:
        return report
    try:
        result = bundle_load(tenant=tenant, bundle=bundle, actor=actor, publish=publish, activate=activate)
    except DriftError as exc:
        report.problems = exc.details or [Problem(f"{name}:$", exc.message)]
        return report
    report.lines, report.warnings = result.lines, result.warnings
    return report


def sort_for_import(named_texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Files of node documents before files holding workflows (which reference them)."""
    return sorted(named_texts, key=lambda item: _text_holds_workflow(item[1]))


def import_drift(*, tenant: str, path: Path, actor: str, publish: bool = False,
                 activate: bool = False) -> list[FileReport]:
    """Import every file under `path`; one report per file."""
    if not path.exists():
        return [FileReport(str(path), problems=[Problem(f"{path}:$", "does not exist")])]
    base = path if path.is_dir() else path.parent
    return [import_file(tenant=tenant, file=file, name=str(file.relative_to(base)), actor=actor, publish=publish,
                        activate=activate)
            for file in drift_files(path)]
