"""`manage.py import_drift` and its Groovy translator (spec §7): mechanical translations, precise reports,
nothing half-translated saved."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.definitions.groovy import translate
from apps.definitions.models import Definition
from apps.nodes.sandbox import compile_problems, evaluate

CONTEXT = {"_global": {"a": {"b": 2}, "n": 3, "params": {"id": 7}, "flag": True, "empty": None}}


@pytest.mark.parametrize("groovy, expected", [
    ("return [:]", {}),
    ("def m = ['k': 1, name: 'x', (\"dyn\"): [1, 2]]; return m", {"k": 1, "name": "x", "dyn": [1, 2]}),
    ("return _global?.a?.b", 2),
    ("return _global?.missing?.deeper", None),
    ("return _global.missing ?: 'fallback'", "fallback"),
    ("return _global.flag && !_global.empty || false", True),
    ("return !_global.a.b == false", True),  # Groovy: (!2) == false
    ("return 'id-' + _global.params.id + '/' + _global.n * 2", "id-7/6"),
    ("def x = 1\nString s = 'v' + x\nreturn s", "v1"),
    ("return [[\"id\": \"w\", \"possibleValues\": [[\"value\": 'A']]]]",
     [{"id": "w", "possibleValues": [{"value": "A"}]}]),
    ("// comment\nreturn null /* block */", None),
    ("return 10L + 2", 12),
    ("return _global.params?.keySet()?.size() + _global.a.b.toString().size()", 2),
    ("return !_global.params.isEmpty() && ['x', 'y'].contains('y') && 'Ab '.trim().toUpperCase() == 'AB'", True),
    ("return 'n=' + _global.n.toString() + ' ' + 'abc'.startsWith('ab') + ' ' + _global.missing.size()", "n=3 True 0"),
])
def test_mechanical_translations_compile_and_mean_the_same(groovy, expected):
    translation = translate(groovy)
    assert translation.problems == [], translation.problems
    assert compile_problems(translation.source) == []
    assert evaluate(translation.source, CONTEXT) == expected


@pytest.mark.parametrize("groovy, reason", [
    ("return new Date().toString()", "object construction (`new`)"),
    ("return _global.items.collect { it * 2 }", "closures or blocks ({ ... })"),
    ('return "hello ${name}"', 'GString interpolation in "hello ${name}"'),
    ("return a ? b : c", "the ternary a ? b : c"),
    ("if (a) return 1", "if/else statements"),
    ("return x.sum()", "method call .sum()"),
    ("return Math.max(1, 2)", "Java/Groovy class Math"),
    ("return x =~ /a/", "regular expressions"),
    ("x++", "++ (write x += 1)"),
    ("return '''long'''", "triple-quoted strings"),
    ("return [1, 2", "unclosed ["),
])
def test_what_is_not_mechanical_is_reported_not_guessed(groovy, reason):
    translation = translate(groovy)
    assert translation.source is None
    assert reason in translation.problems


def _node(node_id: str, script: str, node_type: str = "GROOVY") -> dict:
    return {"id": node_id, "name": node_id, "type": node_type, "version": "3",
            "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": script}}}


def _import(path, tenant: str = "acme", **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_drift", str(path), tenant=tenant, stdout=out, stderr=err, **options)
    except CommandError as exc:
        err.write(f"\nCommandError: {exc}")
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_a_file_is_saved_whole_or_not_at_all_and_others_go_on(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps([_node("ok_one", "return [a: 1]"), _node("ok_two", "return 2")]))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mixed.json").write_text(json.dumps([
        _node("fine", "return 1"), _node("bad", "def d = new Date(); return d.time")]))
    (tmp_path / "invalid.json").write_text(json.dumps([_node("valid_script", "return 1"),
                                                       _node("no_such_type", "return 1", "PROCESSOR")]))
    (tmp_path / "broken.json").write_text("{not json")
    out, err = _import(tmp_path)
    assert "good.json: node ok_one: SNAPSHOT" in out and "good.json: node ok_two: SNAPSHOT" in out
    assert "sub/mixed.json: NOT imported" in err
    assert "sub/mixed.json:$[1].transformer.value.data: cannot translate Groovy: object construction (`new`)" in err
    assert "invalid.json:$[1].type: unknown node type 'PROCESSOR'" in err
    assert "broken.json:$: is not valid JSON" in err
    assert "CommandError: 3 of 4 file(s) not imported" in err
    keys = set(Definition.objects.filter(tenant="acme").values_list("key", flat=True))
    assert keys == {"ok_one", "ok_two"}  # neither `fine` nor `valid_script`: their files failed


@pytest.mark.django_db
def test_imported_groovy_node_is_a_script_node_and_publish_works(tmp_path):
    file = tmp_path / "node.json"
    file.write_text(json.dumps(_node("calc", "def r = [:]; r['v'] = _global?.n ?: 0; return r")))
    out, err = _import(file, publish=True)
    assert "node.json: node calc: LATEST = 1" in out, err
    from apps.definitions.selectors import definition_get

    stored = definition_get(tenant="acme", kind="NODE", key="calc", version=1)
    assert stored["type"] == "SCRIPT"
    assert stored["transformer"]["value"]["data"] == "r = {}; r['v'] = _global.n or 0; return r\n"
    again_out, _ = _import(file, publish=True)  # unchanged: no new version
    assert "LATEST = 1" in again_out


@pytest.mark.django_db
def test_missing_path_is_reported(tmp_path):
    _, err = _import(tmp_path / "nope")
    assert "nope:$: does not exist" in err
