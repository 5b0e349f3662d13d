"""The JSON payload converter of Drift's Temporal clients: the SDK's, minus two costs on every activity.

Measured with bench/profile_engine.py (issue 11), the SDK's JSON converter spent more per run on the run
contract's dataclasses (RunInput, NodeRequest, PersistRequest...) than on the JSON itself:
- encoding: `dataclasses.asdict` deep-copies the whole value (the run context) before `json.dumps` walks it
  again. Here a dataclass becomes a shallow dict of its fields; nested values are encoded as they are.
- decoding: `value_to_type` resolves the dataclass's type hints and rebuilds every dict field, per payload.
  Here the hints are read once per class, and a field whose JSON value already has its declared type (a str
  for `str`, a dict for `dict[str, Any]`...) is taken as is. Any other value goes through the SDK's
  `value_to_type`, so what it refuses is still refused, with its error.
The bytes on the wire are the same (same encoder settings), so both converters read each other's payloads.

A local activity's input (a NodeRequest with the run context, a PersistRequest, start_run's RunInput) never leaves
the worker process: Temporal records a local activity's result, not its input. Converted in a local activity's
serialization context, a dataclass (our activities' inputs; their results are dicts) is marked `LOCAL_INPUT`, and
drift/codec.py leaves marked payloads unencrypted: 13 encryptions and decryptions per run of bench/engine.py's chain.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.converter import value_to_type as sdk_value_to_type

# Payload metadata of a local activity's input (see the module docstring); its value is irrelevant.
LOCAL_INPUT = "drift-local-input"
_PLAIN = {str: (str,), int: (int,), float: (float,), bool: (bool,), type(None): (type(None),)}


class ShallowDataclassEncoder(AdvancedJSONEncoder):
    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {field.name: getattr(o, field.name) for field in dataclasses.fields(o)}
        return super().default(o)


def _accepted(hint: Any) -> tuple[type, ...] | None:
    """The JSON value types that `value_to_type(hint, value)` would return unchanged; None: always convert."""
    if hint in _PLAIN:
        return _PLAIN[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is dict and args in ((), (str, Any)):
        return (dict,)
    if origin is list and args in ((), (Any,)):
        return (list,)
    if origin in (typing.Union, types.UnionType):
        accepted = [_accepted(arg) for arg in args]
        return None if None in accepted else tuple(kind for kinds in accepted for kind in kinds)
    return None


def _field_reader(hint: Any, converters: list[JSONTypeConverter]) -> Callable[[Any], Any]:
    if hint is Any:
        return lambda value: value
    accepted = _accepted(hint)
    if hint == list[str]:  # the sensitive paths: a list whose items are checked too
        def read_strings(value: Any) -> Any:
            if type(value) is list and all(type(item) is str for item in value):
                return value
            return sdk_value_to_type(hint, value, converters)
        return read_strings
    if accepted is None:
        return lambda value: sdk_value_to_type(hint, value, converters)
    return lambda value: value if type(value) in accepted else sdk_value_to_type(hint, value, converters)


class DataclassConverter(JSONTypeConverter):
    """Builds dataclasses from decoded JSON with per-class readers (see the module docstring)."""

    def __init__(self) -> None:
        self._readers: dict[type, dict[str, Callable[[Any], Any]] | None] = {}

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint) and type(value) is dict):
            return JSONTypeConverter.Unhandled
        readers = self._readers.get(hint, ())
        if readers == ():
            readers = self._readers[hint] = self._readers_of(hint)
        if readers is None:  # init=False fields or the like: the SDK knows how
            return JSONTypeConverter.Unhandled
        try:
            fields = {name: read(value[name]) for name, read in readers.items() if name in value}
        except Exception as error:
            raise TypeError(f"Failed converting a field of dataclass {hint}") from error
        return hint(**fields)

    def _readers_of(self, hint: type) -> dict[str, Callable[[Any], Any]] | None:
        fields = dataclasses.fields(hint)
        if any(not field.init for field in fields):
            return None
        hints = typing.get_type_hints(hint)
        return {field.name: _field_reader(hints[field.name], [self]) for field in fields}


class DriftPayloadConverter(CompositePayloadConverter):
    """The SDK's default converters, with the JSON one replaced (same encoding name, same bytes)."""

    def __init__(self) -> None:  # the SDK builds one per DataConverter clone (dozens per run): kept cheap
        super().__init__(*_encoding_converters())

    def with_context(self, context: SerializationContext) -> typing.Self:
        """The SDK builds a new composite (all five converters) for every payload converted in a local activity's
        context, ~40 per run; the component converters are the same few instances each time, so each composite
        of them is built once."""
        converters = self.get_converters_with_context(context)
        return self if converters is None else typing.cast(typing.Self, _composite(tuple(converters)))


@functools.cache
def _encoding_converters() -> tuple[EncodingPayloadConverter, ...]:
    return tuple(_json() if isinstance(converter, JSONPlainPayloadConverter) else converter
                 for converter in DefaultPayloadConverter.default_encoding_payload_converters)


@functools.cache
def _composite(converters: tuple[EncodingPayloadConverter, ...]) -> DriftPayloadConverter:
    composite = DriftPayloadConverter()
    composite._set_converters(*converters)
    return composite


class _DriftJSON(JSONPlainPayloadConverter, WithSerializationContext):
    """The JSON converter; in a local activity's context, the one that marks its inputs."""

    def with_context(self, context: SerializationContext) -> JSONPlainPayloadConverter:
        local = isinstance(context, ActivitySerializationContext) and context.is_local
        return _local_json() if local else _json()


class _LocalInputJSON(_DriftJSON):
    def to_payload(self, value: Any) -> Payload | None:
        payload = super().to_payload(value)
        if payload is not None and dataclasses.is_dataclass(value):
            payload.metadata[LOCAL_INPUT] = b"1"
        return payload


@functools.cache
def _json() -> JSONPlainPayloadConverter:
    return _DriftJSON(encoder=ShallowDataclassEncoder, custom_type_converters=[DataclassConverter()])


@functools.cache
def _local_json() -> JSONPlainPayloadConverter:
    return _LocalInputJSON(encoder=ShallowDataclassEncoder, custom_type_converters=[DataclassConverter()])
