"""Pure parts of the inbox: the View as widgets (every tag, untagged Options, templates) and who sees which
task (groups held in the task's tenant, assignment by name, superusers)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from apps.runs.models import Run
from apps.tasks import forms, selectors
from apps.tasks.models import Task
from drift.errors import InvalidInput

VIEW = {"inputOptions": [
    {"id": "hello", "tags": {"values": ["ui.static_text"]}, "description": "Hi {{name}}, order {{order}}",
     "instructions": [{"templateId": "t", "templateVariables": {"name": "Ada", "order": 7}}]},
    {"id": "vars_only", "tags": {"values": ["ui.static_text"]},
     "instructions": [{"templateId": "t", "templateVariables": {"amount": 12.5, "vip": True}}]},
    {"id": "pick", "possibleValues": [{"displayValue": "One", "value": 1}]},
    {"id": "words"},
    {"id": "done", "description": "Finish", "tags": {"values": ["x.custom", "ui.complete"]}},
]}


def test_widgets_from_tags_and_defaults():
    widgets = forms.widgets_of(VIEW)
    assert [(w.option_id, w.kind) for w in widgets] == [
        ("hello", "static"), ("vars_only", "static"), ("pick", "dropdown"), ("words", "text"), ("done", "complete")]
    assert widgets[0].text == "Hi Ada, order 7"
    assert widgets[1].text == "amount: 12.5, vip: true"
    assert widgets[2].choices == [("1", "One")]
    assert forms.has_submit_button(widgets)
    assert not forms.has_submit_button(widgets[:4])
    assert forms.widgets_of(None) == [] and forms.widgets_of({"inputOptions": ["junk", {"no": "id"}]}) == []


def test_answers_are_checked_against_the_options():
    widgets = forms.widgets_of(VIEW)
    posted = {"opt:pick": "1", "opt:words": "fine", "opt:done": "true", "opt:hello": "ignored"}
    assert forms.selected_options(widgets, posted) == {"pick": "1", "words": "fine", "done": "true"}
    with pytest.raises(InvalidInput) as refused:
        forms.selected_options(widgets, {"opt:pick": "2", "opt:words": "\ud800"})
    assert [p.path for p in refused.value.details] == ["pick", "words"]


def _run(workflow_id: str) -> Run:
    return Run.objects.create(workflow_id=workflow_id, tenant="t1", definition_key="w")


def _task(workflow_id: str, *, group: str = "", user: str = "") -> Task:
    return Task.objects.create(run=_run(workflow_id), tenant="t1", workflow_id=workflow_id, node="ask", screen=1,
                               group=group, user=user, waiting_since=timezone.now())


@pytest.mark.django_db
def test_who_sees_which_task():
    _task("by-group", group="support")
    _task("by-name", user="dora")
    _task("nobodys")  # neither group nor user: only superusers see it

    def seen(operator: selectors.Operator) -> set[str]:
        return set(selectors.tasks_visible(operator).values_list("workflow_id", flat=True))

    support = {"t1": frozenset({"support"})}
    assert seen(selectors.Operator("eve", support)) == {"by-group"}
    assert seen(selectors.Operator("dora", {"t1": frozenset()})) == {"by-name"}
    assert seen(selectors.Operator("dora", {"t2": frozenset({"support"})})) == set()  # held in another tenant
    assert seen(selectors.Operator("", {"t1": frozenset({""})})) == set()  # blank names match nothing
    assert seen(selectors.Operator("root", everything=True)) == {"by-group", "by-name", "nobodys"}
    assert selectors.tasks_visible(selectors.Operator("eve", support), tenant="t2").count() == 0
    assert selectors.operator_of_user(AnonymousUser()) == selectors.Operator("")
