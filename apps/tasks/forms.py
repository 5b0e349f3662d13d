"""The View of a screen (spec §2.4) as an HTML form: widgets from Options and their `ui.*` tags, and the
posted form back into `viewResponse.selectedOptions` (validated against the same Options).

Pure functions over the View dict; the templates draw the widgets, the views call `selected_options`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.problems import Problem
from drift.errors import InvalidInput

FIELD_PREFIX = "opt:"
MAX_TEXT = 2000
TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# Tag -> widget kind; an Option without a known tag is a dropdown when it offers values, else free text.
KINDS = {"ui.static_text": "static", "ui.dropdown": "dropdown", "ui.button": "buttons", "ui.free_text": "text",
         "ui.date_picker": "date", "ui.complete": "complete"}
INPUT_KINDS = frozenset({"dropdown", "buttons", "text", "date", "complete"})


@dataclass
class Widget:
    option_id: str
    kind: str
    label: str
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, display)
    text: str = ""  # static text, templates filled in
    dependents: list[tuple[str, Widget]] = field(default_factory=list)  # (parent value, widget shown for it)

    @property
    def name(self) -> str:
        return FIELD_PREFIX + self.option_id


def widgets_of(view: dict[str, Any] | None) -> list[Widget]:
    options = (view or {}).get("inputOptions") or []
    return [_widget(option) for option in options if isinstance(option, dict) and option.get("id")]


def has_submit_button(widgets: list[Widget]) -> bool:
    return any(widget.kind in {"buttons", "complete"} for widget in _all(widgets))


def _widget(option: dict[str, Any]) -> Widget:
    tags = (option.get("tags") or {}).get("values") or []
    values = [v for v in option.get("possibleValues") or [] if isinstance(v, dict)]
    kind = next((KINDS[tag] for tag in tags if tag in KINDS), "dropdown" if values else "text")
    choices = [(_text(v.get("value")), _text(v.get("displayValue", v.get("value")))) for v in values]
    dependents = option.get("possibleDependentValues") or {}
    return Widget(
        option_id=str(option["id"]), kind=kind, label=_text(option.get("description") or option["id"]),
        choices=choices, text=_static_text(option) if kind == "static" else "",
        dependents=[(str(parent_value), _widget(dependent)) for parent_value, dependent in dependents.items()
                    if isinstance(dependent, dict) and dependent.get("id")],
    )


def _static_text(option: dict[str, Any]) -> str:
    """The description with `{{name}}` filled from the instructions' (already resolved) template variables."""
    variables: dict[str, Any] = {}
    for instruction in option.get("instructions") or []:
        if isinstance(instruction, dict) and isinstance(instruction.get("templateVariables"), dict):
            variables |= instruction["templateVariables"]
    description = option.get("description")
    if not isinstance(description, str):
        return ", ".join(f"{key}: {_text(value)}" for key, value in variables.items())
    return TEMPLATE.sub(lambda match: _text(variables.get(match.group(1), "")), description)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _all(widgets: list[Widget]):
    for widget in widgets:
        yield widget
        yield from _all([dependent for _, dependent in widget.dependents])


# --- posted form -> selectedOptions ---------------------------------------------------------


def selected_options(widgets: list[Widget], posted: Any) -> dict[str, str]:
    """The answers of the widgets in play (a dependent only under its parent's chosen value); raises
    InvalidInput naming each bad field."""
    selected: dict[str, str] = {}
    problems: list[Problem] = []
    _collect(widgets, posted, selected, problems)
    if problems:
        raise InvalidInput("Some answers are not valid.", problems)
    return selected


def _collect(widgets: list[Widget], posted: Any, selected: dict[str, str], problems: list[Problem]) -> None:
    for widget in widgets:
        if widget.kind not in INPUT_KINDS:
            continue
        raw = posted.get(widget.name, "")
        problem = _problem(widget, raw)
        if problem:
            problems.append(Problem(widget.option_id, problem))
        elif raw != "":
            selected[widget.option_id] = raw
        _collect([dependent for value, dependent in widget.dependents if value == raw], posted, selected, problems)


def _problem(widget: Widget, raw: str) -> str | None:
    if raw == "":
        return None
    if widget.kind in {"dropdown", "buttons"} and raw not in {value for value, _ in widget.choices}:
        return "is not one of the offered values"
    if widget.kind == "date":
        try:
            date.fromisoformat(raw)
        except ValueError:
            return "must be a date (YYYY-MM-DD)"
    if len(raw) > MAX_TEXT:
        return f"must be at most {MAX_TEXT} characters"
    if any(0xD800 <= ord(char) <= 0xDFFF for char in raw):
        return "is not valid text"
    return None
