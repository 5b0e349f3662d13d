"""The DSL as a JSON Schema (2020-12): served at `GET /dslSchema/`, appended to the OpenAPI components
(`openapi_components`), and used by the admin JSON editor for validation and field hints.

The Python validators (`dsl.py`, `apps/nodes/types`) stay the authority (they also check references,
scripts and graphs); this schema describes shapes and is open to unknown fields, as the server is, so the
original Drift's documents (which carry extra fields) pass it.
"""

from __future__ import annotations

import copy
from typing import Any

from apps.definitions.dsl import LIMIT_OVERFLOWS, MAX_CONCURRENT_RUNS, MAX_STARTS_PER_MINUTE
from apps.definitions.map_state import MAX_CONCURRENCY
from apps.definitions.parallel import FAILURE_POLICIES
from apps.definitions.state_types import STATE_TYPES
from apps.nodes.base import NodeType, Schema
from apps.nodes.registry import NODE_TYPES
from apps.nodes.retry import RETRY_DEFAULTS
from apps.nodes.values import COMPONENT_TYPES, VALUE_TYPES

SCHEMA_ID = "https://drift.local/dsl.schema.json"
OPENAPI_PREFIX = "Dsl"
CANVAS = "canvas"  # a workflow document's builder layout (positions): the engine never reads it


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _str(description: str, **extra: Any) -> dict:
    return {"type": "string", "description": description, **extra}


def _schema_name(node_type: str) -> str:
    """HTTP -> HttpNode: each registered type's definition in the schema (its fields come from its module)."""
    return node_type.title().replace("_", "") + "Node"


def _node(name: str, node_type: NodeType) -> dict:
    schema = node_type.schema or Schema(f"A {name} node.")
    return {
        "type": "object", "description": schema.description,
        "properties": {"type": {"enum": [name]}, **schema.properties},
        "required": ["id", "type", *schema.required],
    }


def _definitions() -> dict[str, dict]:
    component = _ref("ValueComponent")
    return {
        "ValueComponent": {
            "description": "How a configurable field is given: STATIC data, or a SCRIPT (a Python function body) "
                           "whose return value is the field's value. A bare literal is taken as-is.",
            "anyOf": [
                {"type": "object", "required": ["type", "value"], "properties": {
                    "type": {"enum": list(COMPONENT_TYPES)},
                    "value": {"type": "object", "required": ["data"], "properties": {
                        "type": {"enum": list(VALUE_TYPES), "description": "Conversion of the resolved value."},
                        "data": {"description": "STATIC: the value; SCRIPT: the Python source."}}}}},
                {"type": ["string", "number", "boolean", "array"]},
            ],
        },
        "Attribute": {"description": 'An INSTRUCTION attribute: {"attribute": value component} or a bare literal.',
                      "anyOf": [{"type": "object", "required": ["attribute"], "properties": {"attribute": component}},
                                {"type": ["string", "number", "boolean"]}]},
        "Instruction": {"type": "object", "properties": {
            "templateId": _str("Client-side message template."),
            "templateVariables": {"type": "object", "description": "{{dotted.path}} values are resolved by Drift."}}},
        "PossibleValue": {"type": "object", "properties": {
            "displayValue": {"description": "Text to show."}, "value": {"description": "Token sent back."},
            "metaData": {"description": "Extra data (any JSON)."}}},
        "Option": {
            "type": "object",
            "description": "A widget. An entry with only `possibleDynamicValues` is replaced by the list of Options "
                           "found at that dotted _global path (the original Drift's behaviour).",
            "properties": {
                "id": _str("Unique id (the key of the resume's selectedOptions)."),
                "parentId": _str("Parent widget, for hierarchies."),
                "description": {"type": "string"},
                "tags": {"type": "object", "properties": {"values": {"type": "array", "items": {"type": "string"}}}},
                "instructions": {"type": "array", "items": _ref("Instruction")},
                "possibleValues": {"type": "array", "items": _ref("PossibleValue")},
                "possibleDependentValues": {"type": "object", "additionalProperties": _ref("Option")},
                "possibleDynamicValues": _str("Dotted path into _global holding a list of Options."),
            },
            "anyOf": [{"required": ["id"]}, {"required": ["possibleDynamicValues"]}],
        },
        "Retry": {
            "type": "object", "additionalProperties": False,
            "description": "HTTP retries (defaults: " + ", ".join(f"{k}={v}" for k, v in RETRY_DEFAULTS.items()) + ").",
            "properties": {
                "maxAttempts": {"type": "integer", "minimum": 1},
                "initialIntervalSeconds": {"type": "number", "exclusiveMinimum": 0},
                "backoffCoefficient": {"type": "number", "minimum": 1},
                "maximumIntervalSeconds": {"type": "number", "exclusiveMinimum": 0},
                "retryOn4xx": {"type": "boolean"},
            },
        },
        **{_schema_name(name): _node(name, node_type) for name, node_type in NODE_TYPES.items()},
        "NodeDefinition": {
            "type": "object",
            "description": "A node definition. `version` is ignored on save (the SNAPSHOT is written).",
            "properties": {
                "id": _str("Unique per tenant.", pattern="^[A-Za-z0-9_][A-Za-z0-9_.\\-]{0,199}$"),
                "name": {"type": "string"}, "comment": {"type": "string"},
                "type": {"enum": list(NODE_TYPES)},
                "parameters": {"type": "array", "items": {"type": "string"}},
                "version": {"type": ["string", "integer"]},
            },
            "required": ["id", "type"],
            # if/then per type (not oneOf): a validator then names the field at fault, not "no schema matched".
            "allOf": [{"if": {"required": ["type"], "properties": {"type": {"enum": [name]}}},
                       "then": _ref(_schema_name(name))} for name in NODE_TYPES],
        },
        "State": {
            "type": "object",
            "description": "A node instance (type NODE: resourceId (+ resourceVersion) or an inline nodeDefinition), "
                           "or a PARALLEL or MAP state (spec §8), which references no node definition.",
            "properties": {
                "instanceName": {"type": "string"}, "resourceId": {"type": "string"},
                "resourceVersion": {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]},
                "type": {"enum": ["NODE", *STATE_TYPES]},
                "branches": {"type": "array", "description": "PARALLEL: the branches, each from its startNode.",
                             "items": {"type": "object", "required": ["name", "startNode"],
                                       "properties": {"name": {"type": "string"}, "startNode": {"type": "string"}}}},
                "failurePolicy": {"enum": list(FAILURE_POLICIES)},
                "items": {"description": "MAP: a $.path, a value component or a list."},
                "iterator": {"type": "object", "required": ["workflowId"], "properties": {
                    "workflowId": {"type": "string"}, "version": {"type": ["string", "integer"]},
                    "resultPath": {"type": "string"}}},
                "maxConcurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY},
                "toleratedFailurePercentage": {"type": "number", "minimum": 0, "maximum": 100},
                "parameters": {"type": "object", "description": "Name -> `$.`-path into _global, or a literal."},
                "contextOverrideKey": _nullable({"type": "string", "minLength": 1}),
                "nextNode": _nullable({"type": "string"}), "end": {"type": "boolean"},
                "nodeDefinition": _nullable(_ref("NodeDefinition")),
            },
        },
        "Limits": {
            "type": "object", "additionalProperties": False,
            "anyOf": [{"required": ["maxConcurrentRuns"]}, {"required": ["startsPerMinute"]}],
            "description": "At most maxConcurrentRuns runs of this workflow open (not ended, not QUEUED) at once, "
                           "and at most startsPerMinute of them started in any 60 s, per tenant; a start over "
                           "either is QUEUED (started in arrival order as runs end and the window moves) or "
                           "REJECTed (429 with Retry-After). Without it: the tenant's default (admin), else "
                           "settings.DRIFT_TENANT_LIMITS.",
            "properties": {
                "maxConcurrentRuns": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENT_RUNS},
                "startsPerMinute": {"type": "integer", "minimum": 1, "maximum": MAX_STARTS_PER_MINUTE},
                "overflow": {"enum": list(LIMIT_OVERFLOWS), "default": "QUEUE"},
            },
        },
        "WorkflowDefinition": {
            "type": "object",
            "description": "A workflow definition. `version` is ignored on save (the SNAPSHOT is written).",
            "required": ["id", "startNode", "states"],
            "properties": {
                "id": {"type": "string"}, "comment": {"type": "string"}, "startNode": {"type": "string"},
                "defaultFailureNode": _nullable({"type": "string"}),
                "postWorkflowCompletionNodes": {"type": "array", "items": {"type": "string"}},
                "states": {"type": "object", "minProperties": 1, "additionalProperties": _ref("State")},
                "version": {"type": ["string", "integer"]},
                "limits": _ref("Limits"),
                CANVAS: {
                    "type": "object",
                    "description": "The admin builder's drawing: where each state sits on the canvas ('@start' is "
                                   "the workflow's own start/failure/after-completion node). Ignored by the engine "
                                   "and by validation; kept by save, export, load and publish like any field.",
                    "properties": {"positions": {"type": "object", "additionalProperties": {
                        "type": "object", "required": ["x", "y"],
                        "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}}}},
            },
        },
    }


def dsl_json_schema() -> dict:
    """The whole document: a node or a workflow definition."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, "title": "Drift DSL",
        "if": {"required": ["states"]}, "then": _ref("WorkflowDefinition"), "else": _ref("NodeDefinition"),
        "$defs": _definitions(),
    }


def dsl_json_schema_for(kind: str) -> dict:
    """The schema of one kind of document ("NODE" or "WORKFLOW"), for the admin editor."""
    root = "NodeDefinition" if kind == "NODE" else "WorkflowDefinition"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, "title": f"Drift {root}",
            "$ref": f"#/$defs/{root}", "$defs": _definitions()}


def openapi_components() -> dict[str, dict]:
    """The definitions as OpenAPI 3.0 components (`Dsl<Name>`): refs rewritten, `null` as `nullable`."""
    return {f"{OPENAPI_PREFIX}{name}": _to_openapi(schema) for name, schema in _definitions().items()}


def _to_openapi(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_to_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _to_openapi(value) for key, value in copy.deepcopy(schema).items()}
    branches = converted.get("allOf")
    if isinstance(branches, list) and branches and all("then" in branch for branch in branches):
        converted["oneOf"] = [branch["then"] for branch in converted.pop("allOf")]  # OpenAPI 3.0 has no if/then
    ref = converted.get("$ref")
    if isinstance(ref, str):
        return {"$ref": ref.replace("#/$defs/", f"#/components/schemas/{OPENAPI_PREFIX}")}
    options = converted.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        converted.pop("anyOf")
        base = rest[0] if len(rest) == 1 else {"anyOf": rest}
        if "$ref" in base:  # OpenAPI 3.0 ignores siblings of $ref
            base = {"allOf": [base]}
        return {**converted, **base, "nullable": True}
    if isinstance(converted.get("type"), list):
        types = converted.pop("type")
        converted["anyOf"] = [{"type": t} if t != "array" else {"type": "array", "items": {}} for t in types]
    if "exclusiveMinimum" in converted:
        converted["minimum"], converted["exclusiveMinimum"] = converted["exclusiveMinimum"], True
    return converted


def spectacular_postprocess(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular hook: the DSL's components join the API's (POSTPROCESSING_HOOKS)."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(openapi_components())
    return result
