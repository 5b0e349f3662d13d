"""Admin forms for definitions, routes and the enum store: a JSON editor widget and service-backed validation."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.template import loader
from django.utils.safestring import mark_safe

from apps.definitions import dsl, services
from apps.definitions.dsl_schema import dsl_json_schema_for
from apps.definitions.models import SNAPSHOT as SNAPSHOT_NUMBER
from apps.definitions.models import Definition, EnumEntry, Kind, Route, RouteVariant
from apps.definitions.versions import SNAPSHOT
from core.problems import Problem
from drift.json_input import unsafe_json_problem

# --- pretty JSON with a line number for every JSON path


def pretty_json(value: Any) -> tuple[str, dict[str, int]]:
    """`json.dumps(value, indent=2, ensure_ascii=False)` and the 1-based line where each JSON path starts."""
    lines: list[str] = []
    paths: dict[str, int] = {}

    def emit(item: Any, path: str, depth: int, prefix: str, suffix: str) -> None:
        pad = "  " * depth
        paths.setdefault(path, len(lines) + 1)
        if isinstance(item, dict) and item:
            lines.append(f"{pad}{prefix}{{")
            entries = list(item.items())
            for index, (key, sub) in enumerate(entries):
                key_text = json.dumps(str(key), ensure_ascii=False)
                emit(sub, f"{path}.{key}", depth + 1, f"{key_text}: ", "," if index < len(entries) - 1 else "")
            lines.append(f"{pad}}}{suffix}")
        elif isinstance(item, list) and item:
            lines.append(f"{pad}{prefix}[")
            for index, sub in enumerate(item):
                emit(sub, f"{path}[{index}]", depth + 1, "", "," if index < len(item) - 1 else "")
            lines.append(f"{pad}]{suffix}")
        else:
            lines.append(f"{pad}{prefix}{json.dumps(item, ensure_ascii=False)}{suffix}")

    emit(value, "$", 0, "", "")
    return "\n".join(lines), paths


def line_of(path: str, paths: dict[str, int]) -> int | None:
    """The line of `path`, or of its nearest ancestor present in the document."""
    while path:
        if path in paths:
            return paths[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return paths.get("$")


def problem_rows(problems: list[Problem], value: Any) -> list[dict[str, Any]]:
    _, paths = pretty_json(value)
    rows = [{"path": p.path, "problem": p.problem, "severity": p.severity, "line": line_of(p.path, paths)}
            for p in problems]
    return sorted(rows, key=lambda row: (row["severity"] == "warning", row["line"] or 0))


# --- widget and field


class JsonEditorWidget(forms.Textarea):
    """A textarea enhanced by definitions/json_editor.js: line numbers, pretty-print, tab indentation,
    a syntax check with line/column before submit, and the server's problems listed per JSON path."""

    template_name = "admin/definitions/widgets/json_editor.html"

    class Media:
        js = ("definitions/json_editor.js",)
        css = {"all": ("definitions/json_editor.css",)}

    def __init__(self, attrs: dict | None = None) -> None:
        base = {"rows": 28, "cols": 100, "spellcheck": "false", "wrap": "off", "class": "drift-json-input",
                "autocomplete": "off", "autocapitalize": "off"}
        super().__init__({**base, **(attrs or {})})
        self.problems: list[dict[str, Any]] = []
        self.schema: dict | None = None  # the DSL's JSON Schema, for checks and field hints in the browser

    def format_value(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return pretty_json(value)[0]

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        # the project's template engine (templates/admin/...), not the form renderer's own directories
        return mark_safe(loader.render_to_string(self.template_name, self.get_context(name, value, attrs)))

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        context["widget"]["problems"] = self.problems
        context["widget"]["schema"] = self.schema
        context["widget"]["schema_id"] = f"{context['widget']['attrs'].get('id')}_schema"
        context["widget"]["error_count"] = sum(1 for p in self.problems if p["severity"] != "warning")
        context["widget"]["problem_lines"] = ",".join(
            f"{p['line']}:{'w' if p['severity'] == 'warning' else 'e'}" for p in self.problems if p["line"]
        )
        return context


class JsonDocumentField(forms.Field):
    """Parses JSON text; a syntax error names its line and column."""

    widget = JsonEditorWidget

    def __init__(self, *, require_object: bool = True, **kwargs: Any) -> None:
        self.require_object = require_object
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                                  code="json") from exc
        if self.require_object and not isinstance(parsed, dict):
            raise ValidationError("The document must be a JSON object.", code="json")
        problem = unsafe_json_problem(parsed)  # NaN, Infinity, lone surrogates, absurd nesting
        if problem is not None:
            raise ValidationError(f"{problem.path} {problem.problem}.", code="json")
        return parsed

    def prepare_value(self, value: Any) -> Any:
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != initial
        except ValidationError:
            return True


# --- definitions


class DefinitionForm(forms.ModelForm):
    """Create (tenant + JSON) or edit the SNAPSHOT of a node or workflow definition. Problems found by
    `services.definition_validate` appear per JSON path under the editor; errors block the save."""

    kind: str = Kind.WORKFLOW  # set by the admin per proxy model

    tenant = forms.CharField(max_length=64, help_text="Tenant the definition belongs to.")
    document = JsonDocumentField(label="Document", help_text="The DSL document (JSON). Saving writes the SNAPSHOT; "
                                 "publish it to make it a numbered version.")

    class Meta:
        model = Definition
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[Problem] = []
        self.body: dict | None = None
        self.fields["document"].widget.schema = dsl_json_schema_for(self.kind)
        if self.instance.pk:
            self.fields.pop("tenant", None)
            snapshot = self.instance.versions.filter(version=SNAPSHOT_NUMBER).first()
            if snapshot is not None:
                self.initial.setdefault("document", snapshot.body)
                if not self.is_bound:
                    problems = services.definition_validate(tenant=self.instance.tenant, kind=self.kind,
                                                            body=snapshot.body)
                    self._show(problems, snapshot.body)
        else:
            self.initial.setdefault("document", _starter(self.kind))

    def _show(self, problems: list[Problem], body: Any) -> None:
        self.fields["document"].widget.problems = problem_rows(problems, body)

    def clean(self) -> dict:
        cleaned = super().clean()
        body = cleaned.get("document")
        tenant = self.instance.tenant if self.instance.pk else cleaned.get("tenant")
        if not isinstance(body, dict) or not tenant:
            return cleaned
        body = {**body, "version": SNAPSHOT}
        problems = list(dsl.key_problems(body))
        if not problems:
            if self.instance.pk and body["id"] != self.instance.key:
                problems.append(Problem("$.id", f"cannot change the id of '{self.instance.key}'; create a new "
                                                f"definition instead"))
            if not self.instance.pk and Definition.objects.filter(tenant=tenant, kind=self.kind,
                                                                  key=body["id"]).exists():
                problems.append(Problem("$.id", f"'{body['id']}' already exists for tenant '{tenant}'"))
        if not problems:
            problems = services.definition_validate(tenant=tenant, kind=self.kind, body=body)
        errors, self.warnings = dsl.errors_of(problems), dsl.warnings_of(problems)
        self._show(problems, body)
        if errors:
            self._reformat(body)
            count = len(errors)
            self.add_error("document", f"{count} validation error{'s' if count > 1 else ''}: see the problems "
                                       f"listed under the editor. Nothing was saved.")
        self.body = body
        return cleaned

    def _reformat(self, body: dict) -> None:
        """Show the submitted document pretty-printed, so the listed line numbers match the editor."""
        data = self.data.copy()
        data[self.add_prefix("document")] = pretty_json(body)[0]
        self.data = data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleJsonFileField(forms.FileField):
    """Several uploaded files, each at most MAX_BYTES."""

    MAX_BYTES = 5 * 1024 * 1024

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".json,application/json"}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        files = [super(MultipleJsonFileField, self).clean(item, initial)
                 for item in (data if isinstance(data, list | tuple) else [data])]
        too_big = [item.name for item in files if item.size > self.MAX_BYTES]
        if too_big:
            raise ValidationError(f"Larger than {self.MAX_BYTES // (1024 * 1024)} MB: {', '.join(too_big)}.")
        return files


class DriftImportForm(forms.Form):
    """Upload of the original Drift's definition files (docs/migrating-from-drift.md)."""

    tenant = forms.CharField(max_length=64, help_text="Tenant the definitions are imported into.")
    files = MultipleJsonFileField(help_text="JSON files: a node or workflow document, or a list of them, per file.")
    publish = forms.BooleanField(required=False, help_text="Also publish each imported definition that changed.")


def _starter(kind: str) -> dict:
    if kind == Kind.NODE:
        return {"id": "", "name": "", "type": "SCRIPT", "parameters": [],
                "transformer": {"type": "SCRIPT", "value": {"type": "JSON", "data": "return {}"}}}
    return {"id": "", "comment": "", "startNode": "", "defaultFailureNode": None, "states": {},
            "postWorkflowCompletionNodes": []}


class ActivateForm(forms.Form):
    version = forms.IntegerField(min_value=1)


# --- enum store


class EnumEntryForm(forms.ModelForm):
    value = JsonDocumentField(require_object=False, label="Value (JSON)")

    class Meta:
        model = EnumEntry
        fields = ["tenant", "key", "value"]

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not dsl.KEY_PATTERN.match(key):
            raise ValidationError("May contain only letters, digits, '_', '.', '-'.")
        return key

    def clean_value(self) -> Any:
        value = self.cleaned_data.get("value")
        if value is None and "value" in self.data and str(self.data["value"]).strip() != "null":
            raise ValidationError("Enter a JSON value.")
        return value


# --- routes


def route_target_problem(tenant: str, workflow_key: str, version: str) -> str | None:
    """Why (tenant, workflow, version) cannot be a route target (the services' check), or None."""
    problems = services.route_target_problems(tenant=tenant, workflow_key=workflow_key, version=version)
    return problems[0].problem if problems else None


class RouteForm(forms.ModelForm):
    class Meta:
        model = Route
        fields = ["tenant", "issue_id", "workflow_key", "version"]

    def clean(self) -> dict:
        cleaned = super().clean()
        tenant = self.instance.tenant if self.instance.pk else cleaned.get("tenant")
        issue_id = self.instance.issue_id if self.instance.pk else cleaned.get("issue_id")
        if issue_id and not dsl.KEY_PATTERN.match(issue_id):
            self.add_error("issue_id", "May contain only letters, digits, '_', '.', '-'.")
        if tenant and cleaned.get("workflow_key"):
            problem = route_target_problem(tenant, cleaned["workflow_key"], cleaned.get("version") or "ACTIVE")
            if problem:
                self.add_error("workflow_key", problem)
        return cleaned


class RouteVariantFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        tenant = self.instance.tenant if self.instance.pk else self.data.get("tenant", "")
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or not data.get("workflow_key"):
                continue
            problem = route_target_problem(tenant, data["workflow_key"], data.get("version") or "ACTIVE")
            if problem:
                form.add_error("workflow_key", problem)


class RouteVariantForm(forms.ModelForm):
    class Meta:
        model = RouteVariant
        fields = ["workflow_key", "version", "weight"]
