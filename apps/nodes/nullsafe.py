"""Null-safe, read-only views of JSON values for scripts (the Groovy `?.` habit without the syntax).

`x["k"]` and `x.k` both work on views; a missing key (or a JSON null) yields `Null`, which is falsy,
equals None, and absorbs further `.attr` / `[k]`. Scalars are handed out as plain Python values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class NullType:
    """The missing value. `Null == None` is true; `Null is None` is not (use `== None` or `not x`)."""

    _instance: NullType | None = None

    def __new__(cls) -> NullType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def attribute(self, name: str) -> NullType:
        return self

    def __getitem__(self, key: Any) -> NullType:
        return self

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is None or other is self

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None)

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, item: object) -> bool:
        return False

    def __str__(self) -> str:
        return "None"

    def __repr__(self) -> str:
        return "Null"


Null = NullType()


class DictView:
    """Read-only view of a JSON object. Keys win over the mapping methods (`keys/values/items/get`)."""

    __slots__ = ("_data",)
    _methods = frozenset({"keys", "values", "items", "get"})

    def __init__(self, data: dict) -> None:
        self._data = data

    def attribute(self, name: str) -> Any:
        if name in self._data:
            return wrap(self._data[name])
        if name in self._methods:
            return getattr(self, name)
        return Null

    def __getitem__(self, key: Any) -> Any:
        key = unwrap(key)
        try:
            return wrap(self._data[key])
        except (KeyError, TypeError):
            return Null

    def get(self, key: Any, default: Any = None) -> Any:
        value = self[key]
        return default if value is Null else value

    def keys(self) -> list:
        return list(self._data)

    def values(self) -> list:
        return [wrap(v) for v in self._data.values()]

    def items(self) -> list[tuple[Any, Any]]:
        return [(k, wrap(v)) for k, v in self._data.items()]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return unwrap(key) in self._data

    def __eq__(self, other: object) -> bool:
        return self._data == unwrap(other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    __str__ = __repr__


class ListView:
    """Read-only view of a JSON array; an index out of range yields Null."""

    __slots__ = ("_data",)

    def __init__(self, data: list) -> None:
        self._data = data

    def attribute(self, name: str) -> Any:
        if name in ("index", "count"):
            return getattr(self, name)
        return Null

    def __getitem__(self, key: Any) -> Any:
        key = unwrap(key)
        if isinstance(key, slice):
            return ListView(self._data[key])
        try:
            return wrap(self._data[key])
        except (IndexError, TypeError):
            return Null

    def index(self, value: Any) -> int:
        return self._data.index(unwrap(value))

    def count(self, value: Any) -> int:
        return self._data.count(unwrap(value))

    def __iter__(self) -> Iterator[Any]:
        return (wrap(v) for v in list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, item: object) -> bool:
        return unwrap(item) in self._data

    def __eq__(self, other: object) -> bool:
        return self._data == unwrap(other)

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> list:
        return list(self._data) + list(unwrap(other))

    def __radd__(self, other: Any) -> list:
        return list(unwrap(other)) + list(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    __str__ = __repr__


def wrap(value: Any) -> Any:
    """JSON value -> view (dict/list), Null (None) or the scalar itself."""
    if isinstance(value, dict):
        return DictView(value)
    if isinstance(value, list):
        return ListView(value)
    if value is None:
        return Null
    return value


def is_view(value: Any) -> bool:
    return isinstance(value, DictView | ListView | NullType)


def unwrap(value: Any, deep: bool = True) -> Any:
    """View -> its plain value. `deep` also unwraps views nested in plain dicts/lists/tuples."""
    if isinstance(value, NullType):
        return None
    if isinstance(value, DictView | ListView):
        return value._data
    if not deep:
        return value
    if isinstance(value, dict):
        return {unwrap(k): unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unwrap(v) for v in value]
    return value
