"""The DSL's JSON Schema (issue 9): a valid 2020-12 schema that the project's samples and the original's
documents satisfy, that catches shape errors, served at /dslSchema/ and in the OpenAPI components."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from apps.definitions.drift_import import translate_document
from apps.definitions.dsl_schema import dsl_json_schema
from devtools.testing.definitions import SAMPLES
from devtools.testing.drift_original import classified_examples

VALIDATOR = Draft202012Validator(dsl_json_schema())


def _errors(document: dict) -> list[str]:
    return sorted(f"{error.json_path}: {error.message}" for error in VALIDATOR.iter_errors(document))


def test_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(dsl_json_schema())


def test_samples_and_the_originals_documents_pass():
    documents = json.loads((SAMPLES / "order_status.nodes.json").read_text())
    documents.append(json.loads((SAMPLES / "order_status.workflow.json").read_text()))
    kinds = classified_examples()
    documents += kinds["node"]
    documents += [translate_document(doc)[0] for doc in kinds["groovy node"] + kinds["workflow"]]
    for document in documents:
        assert _errors(document) == [], document.get("id")


@pytest.mark.parametrize("document, fragment", [
    ({"id": "w", "type": "WAIT"}, "'config' is a required property"),
    ({"id": "h", "type": "HTTP", "httpComponents": {"url": "https://x/"}, "retry": {"attempts": 3}},
     "Additional properties are not allowed ('attempts' was unexpected)"),
    ({"id": "i", "type": "INSTRUCTION", "inputOptions": [{"description": "no id"}]}, "$.inputOptions[0]"),
    ({"id": "x", "type": "GROOVY"}, "$.type"),
    ({"id": "f", "startNode": "a", "states": {"a": {"type": "SUBWORKFLOW"}}}, "$.states.a.type"),
])
def test_shape_errors_are_caught(document, fragment):
    assert any(fragment in error for error in _errors(document)), _errors(document)


def test_served_and_in_the_openapi_components(client, admin_user):
    client.force_login(admin_user)
    served = client.get("/dslSchema/")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(dsl_json_schema()))
    components = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert {"DslNodeDefinition", "DslWorkflowDefinition", "DslRetry", "DslOption"} <= set(components)
    state = components["DslState"]["properties"]
    assert state["nodeDefinition"] == {"allOf": [{"$ref": "#/components/schemas/DslNodeDefinition"}], "nullable": True}
