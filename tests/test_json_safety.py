"""core.json_safety: one strict serialization measures a document; only a suspect one is walked for the path."""

from __future__ import annotations

import json

import pytest

from core.json_safety import LONE_SURROGATE, NOT_FINITE, json_problem, json_size


def _nested(levels: int) -> list:
    document: list = []
    for _ in range(levels - 1):
        document = [document]
    return document


@pytest.mark.parametrize(("document", "path", "problem"), [
    ({"a": [1, float("nan")]}, "$.a[1]", NOT_FINITE),
    ({"a": {"b": float("-inf")}}, "$.a.b", NOT_FINITE),
    ({"a": ["ok", "\ud800"]}, "$.a[1]", LONE_SURROGATE),
    ({"k\udfff": 1}, "$.k\\udfff", LONE_SURROGATE),
    ({"big": [10 ** 400]}, "$.big[0]", NOT_FINITE),
])
def test_problems_name_their_path(document, path, problem):
    _, found = json_size(document)
    assert (found.path, found.problem) == (path, problem)


def test_nesting_is_measured_against_the_limit_even_past_the_recursion_limit():
    assert json_problem({"a": _nested(10)}, max_depth=11) is None
    assert json_problem({"a": _nested(10)}, max_depth=10).problem == "is nested deeper than 10 levels"
    assert json_problem(_nested(5000), max_depth=100).problem == "is nested deeper than 100 levels"
    assert json_problem({"a": _nested(150)}) is None  # no limit asked: only values are checked


def test_the_size_is_the_utf8_json_and_clean_documents_pass():
    document = {"name": "Zoë", "n": [1, 2.5, None, True], "big": 10 ** 300, "text": "[[[[" * 50}
    assert json_size(document, max_depth=3) == (len(json.dumps(document, ensure_ascii=False).encode()), None)
