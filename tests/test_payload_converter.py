"""drift/payloads.py: Drift's JSON payload converter writes and reads exactly what the SDK's does, and refuses
what it refuses. (Every Temporal test runs through it too: conftest's clients use drift.codec.data_converter.)"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.converter import ActivitySerializationContext, DefaultPayloadConverter

from apps.runs.contract import MapBatch, NodeRequest, PersistRequest, RunInput
from drift.codec import ENCODING, data_converter
from drift.payloads import LOCAL_INPUT, DriftPayloadConverter

NODE = {"id": "step1", "type": "SCRIPT", "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "1"}}}
CONTEXT = {"workflowId": "w", "params": {"start": 1, "nested": [{"deep": [1, 2.5, None, True]}]}, "s0": "\u00e9",
           "nodeParameters": {}}
VALUES = [
    (RunInput(tenant="t", workflow_key="k", start={"params": {"x": 1}}, depth=2, carry={"context": CONTEXT},
              test={"cases": []}, redrive_context=None), RunInput),
    (NodeRequest("t", "w", NODE, {"nodeDefinition": NODE, "nextNode": "s2"}, CONTEXT, sensitive_paths=["a.b"]),
     NodeRequest),
    (PersistRequest("w", 3, "COMPLETED", "done", CONTEXT, {"workflowStatus": "COMPLETED"},
                    timeline=[{"seq": 1, "durationMs": 1.5}], task=None), PersistRequest),
    (MapBatch("t", "w", "w.m", {"workflowId": "it"}, [1, "two", {"3": None}], 0, 4, 1), MapBatch),
    ({"plain": [1, 2, {"x": None}]}, dict),
    ("text", str),
    (None, type(None)),
]


@pytest.mark.parametrize(("value", "hint"), VALUES, ids=[hint.__name__ for _, hint in VALUES])
def test_same_bytes_and_values_as_the_sdk_converter(value, hint):
    ours, sdk = DriftPayloadConverter(), DefaultPayloadConverter()
    payloads = ours.to_payloads([value])
    assert payloads == sdk.to_payloads([value])
    assert ours.from_payloads(payloads, [hint]) == sdk.from_payloads(payloads, [hint]) == [value]
    assert type(ours.from_payloads(payloads, [hint])[0]) is type(value)


def test_nested_dataclasses_are_encoded_too():
    inner = RunInput(tenant="t")
    payloads = DriftPayloadConverter().to_payloads([{"inner": inner, "list": [inner]}])
    assert payloads == DefaultPayloadConverter().to_payloads([{"inner": inner, "list": [inner]}])


@pytest.mark.parametrize("fields", [
    {"tenant": 5},  # wrong type
    {"tenant": "t", "depth": "3"},
    {"tenant": "t", "start": ["not", "a", "dict"]},
    {"tenant": "t", "carry": "text"},
    {"workflow_key": "k"},  # a required field missing
])
def test_refuses_what_the_sdk_refuses(fields):
    payloads = DefaultPayloadConverter().to_payloads([fields])
    with pytest.raises(TypeError):
        DefaultPayloadConverter().from_payloads(payloads, [RunInput])
    with pytest.raises(TypeError):
        DriftPayloadConverter().from_payloads(payloads, [RunInput])


def test_a_field_of_another_type_is_converted_like_the_sdk_does():
    payloads = DefaultPayloadConverter().to_payloads([{"tenant": "t", "depth": 2.0, "sensitive_paths": ["a"]}])
    ours = DriftPayloadConverter().from_payloads(payloads, [NodeRequest | RunInput])[0]
    assert ours == DefaultPayloadConverter().from_payloads(payloads, [NodeRequest | RunInput])[0]
    assert ours.depth == 2 and type(ours.depth) is int


def test_sensitive_paths_items_are_checked():
    payloads = DefaultPayloadConverter().to_payloads([
        {"tenant": "t", "workflow_id": "w", "node": {}, "instance": {}, "context": {}, "sensitive_paths": [1]}])
    with pytest.raises(TypeError):
        DriftPayloadConverter().from_payloads(payloads, [NodeRequest])


def test_every_drift_client_uses_it():
    assert data_converter().payload_converter_class is DriftPayloadConverter


def _activity_context(*, local: bool) -> ActivitySerializationContext:
    return ActivitySerializationContext(namespace="default", activity_id="1", activity_type="execute_node",
                                        activity_task_queue="q", workflow_id="w", workflow_type="DriftWorkflow",
                                        is_local=local)


def test_local_activity_inputs_stay_in_clear_everything_else_is_encrypted():
    """A local activity's input never leaves the worker (Temporal records its result, not its input): the codec
    leaves it unencrypted. A regular activity's input, and every result, are recorded in history: encrypted."""
    request = VALUES[1][0]
    converter = data_converter()
    local, remote = converter.with_context(_activity_context(local=True)), converter.with_context(
        _activity_context(local=False))

    clear = asyncio.run(local.encode([request]))[0]
    assert clear.metadata["encoding"] == b"json/plain" and LOCAL_INPUT in clear.metadata
    assert asyncio.run(local.decode([clear], [NodeRequest])) == [request]
    for encoded in (asyncio.run(remote.encode([request]))[0], asyncio.run(local.encode([{"output": 1}]))[0],
                    asyncio.run(converter.encode([request]))[0]):
        assert encoded.metadata["encoding"] == ENCODING
    # the SDK's converter reads the marked payload like any other
    assert DefaultPayloadConverter().from_payloads([clear], [NodeRequest]) == [request]
