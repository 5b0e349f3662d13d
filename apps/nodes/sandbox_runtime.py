"""Restricted execution of scripts: compile policy, guards, safe builtins and the sandbox child loop.

This module runs inside the sandbox processes. It imports only the standard library,
RestrictedPython and `apps.nodes.nullsafe`: never Django, never project settings (the limits
arrive on the command line).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import os
import string
import struct
import sys
import traceback
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta
from types import CodeType, SimpleNamespace
from typing import Any

from RestrictedPython import compile_restricted_function, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

from apps.nodes.nullsafe import Null, NullType, is_view, unwrap, wrap

SCRIPT_FILENAME = "<script>"
FUNCTION_NAME = "drift_script"
# Names given to scripts that start with "_" (RestrictedPython refuses such names by default).
CONTEXT_NAMES = frozenset({"_global", "_enum_store", "_response", "_status_code", "_headers"})

MAX_SEQUENCE_ITEMS = 10_000_000  # result length of `seq * n`
MAX_INT_BITS = 100_000  # result size of `**`, `*` and `<<` on ints (~30,000 decimal digits)
MAX_RANGE = 10_000_000
COMPILE_CACHE_SIZE = 512

BLOCKED_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES) | {
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "gi_suspended",
    "cr_frame", "cr_code", "cr_await", "cr_origin", "ag_frame", "ag_code", "ag_await",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace",
    "tb_frame", "tb_next", "co_code", "func_globals", "func_code",
    "mro", "format", "format_map",  # str.format walks attributes: '{0.__class__}'.format(x)
}


class ScriptSecurityError(Exception):
    """A script tried something the sandbox forbids."""


# --- compile --------------------------------------------------------------------------------


class DriftPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus the context names and size guards on `*`, `**`, `<<`."""

    _guarded_ops = {ast.Mult: "mul", ast.Pow: "pow", ast.LShift: "lshift"}

    def check_name(self, node, name, allow_magic_methods=False):  # noqa: ANN001 - RestrictedPython signature
        if name in CONTEXT_NAMES:
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        op = self._guarded_ops.get(type(node.op))
        if op is None:
            return node
        # `a * b` -> `_binop_("mul", a, b)`: checks result size before CPython allocates it.
        func, name = ast.Name("_binop_", ast.Load()), ast.Constant(op)
        call = ast.Call(func=func, args=[name, node.left, node.right], keywords=[])
        for new in (call, func, name):
            ast.copy_location(new, node)
        return call


def compile_script(source: str) -> tuple[CodeType | None, list[str]]:
    """Compile a function body; (code, []) or (None, errors)."""
    if not isinstance(source, str):
        return None, ["script must be a string"]
    try:
        result = compile_restricted_function("", source, FUNCTION_NAME, filename=SCRIPT_FILENAME, policy=DriftPolicy)
    except (ValueError, TypeError, RecursionError, MemoryError, SyntaxError) as exc:  # e.g. absurdly nested source
        return None, [f"{type(exc).__name__}: {exc}"]
    if result.errors:
        return None, [str(error) for error in result.errors]
    return result.code, []


class _CodeCache:
    """Compiled code by source hash (an LRU)."""

    def __init__(self, size: int = COMPILE_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[CodeType | None, list[str]]] = OrderedDict()

    def get(self, source: str) -> tuple[CodeType | None, list[str]]:
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        compiled = compile_script(source)
        self._items[key] = compiled
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return compiled


# --- guards ---------------------------------------------------------------------------------


def _check_attribute_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_") or name in BLOCKED_ATTRIBUTES:
        hint = "; use fmt(template, ...)" if name in ("format", "format_map") else ""
        raise ScriptSecurityError(f"access to attribute '{name}' is not allowed{hint}")


_MISSING = object()


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    _check_attribute_name(name)
    if is_view(obj):
        return obj.attribute(name)
    if default is _MISSING:
        return getattr(obj, name)
    return getattr(obj, name, default)


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except (AttributeError, ScriptSecurityError):
        return False
    return not (is_view(obj) and guarded_getattr(obj, name) is Null)


def guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


_WRITABLE = (dict, list, set)


def guarded_write(obj: Any) -> Any:
    """Scripts may modify the plain dicts, lists and sets they build, nothing else."""
    if type(obj) in _WRITABLE:
        return obj
    if is_view(obj) or isinstance(obj, NullType):
        raise ScriptSecurityError("the run context is read-only; copy it into a new dict or list first")
    raise ScriptSecurityError(f"cannot modify a {type(obj).__name__} object")


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _check_mul(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
            if len(seq) * max(times, 0) > MAX_SEQUENCE_ITEMS:
                raise ScriptSecurityError(f"sequence repetition too large (more than {MAX_SEQUENCE_ITEMS} items)")
            return
    if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
        raise ScriptSecurityError("integer result too large")


def _check_pow(base: Any, exponent: Any) -> None:
    big = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if big and _int_bits(base) * exponent > MAX_INT_BITS + 64:
        raise ScriptSecurityError("integer result too large")


def _check_lshift(value: Any, shift: Any) -> None:
    if isinstance(value, int) and isinstance(shift, int) and value and _int_bits(value) + shift > MAX_INT_BITS:
        raise ScriptSecurityError("integer result too large")


_BINOP_CHECKS = {"mul": (_check_mul, operator.mul), "pow": (_check_pow, operator.pow),
                 "lshift": (_check_lshift, operator.lshift)}


def guarded_binop(op: str, left: Any, right: Any) -> Any:
    check, apply = _BINOP_CHECKS[op]
    check(left, right)
    return apply(left, right)


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "|=": operator.ior, "&=": operator.iand, "^=": operator.ixor,
}
_INPLACE_CHECKS = {"*=": _check_mul, "**=": _check_pow, "<<=": _check_lshift}


def guarded_inplacevar(op: str, left: Any, right: Any) -> Any:
    if op not in _INPLACE:
        raise ScriptSecurityError(f"operator {op} is not allowed")
    check = _INPLACE_CHECKS.get(op)
    if check:
        check(left, right)
    return _INPLACE[op](left, right)


def guarded_pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is None:
        _check_pow(base, exponent)
        return pow(base, exponent)
    return pow(base, exponent, modulo)


def bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ScriptSecurityError(f"range() is limited to {MAX_RANGE} items")
    return result


_ISINSTANCE_TYPES = (str, int, float, bool, list, dict, tuple, set, frozenset, type(None))


def safe_isinstance(obj: Any, types: Any) -> bool:
    """isinstance over the plain value types only; context views count as dict/list/None."""
    checked = types if isinstance(types, tuple) else (types,)
    if not all(t in _ISINSTANCE_TYPES for t in checked):
        raise ScriptSecurityError("isinstance() only accepts str, int, float, bool, list, dict, tuple, set, None")
    return isinstance(unwrap(obj, deep=False), types)


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _blocked(name: str):
    def blocked(*args: Any, **kwargs: Any) -> Any:
        raise ScriptSecurityError(f"{name}() is not allowed in scripts")

    blocked.__name__ = name
    return blocked


# --- helpers given to scripts ---------------------------------------------------------------


class SafeFormatter(string.Formatter):
    """str.format semantics without attribute access and with bounded field widths."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if "." in field_name:
            raise ScriptSecurityError("attribute lookups are not allowed in format fields")
        return super().get_field(field_name, args, kwargs)

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        return unwrap(super().get_value(key, args, kwargs))

    def format_field(self, value: Any, format_spec: str) -> str:
        digits = "".join(ch if ch.isdigit() else " " for ch in format_spec).split()
        if any(len(d) > 4 for d in digits):
            raise ScriptSecurityError("format width too large")
        return super().format_field(value, format_spec)


_formatter = SafeFormatter()


def fmt(template: str, *args: Any, **kwargs: Any) -> str:
    return _formatter.vformat(str(template), args, kwargs)


def _json_dumps(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    return json.dumps(unwrap(value), indent=indent, sort_keys=sort_keys, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def parse_datetime(text: Any) -> datetime:
    """ISO-8601 -> aware datetime (naive input is taken as UTC)."""
    parsed = datetime.fromisoformat(str(unwrap(text)).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    return now().isoformat().replace("+00:00", "Z")


def now_epoch() -> float:
    return now().timestamp()


def to_iso(value: Any) -> str:
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    value = value if isinstance(value, datetime) else parse_datetime(value)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_epoch(value: Any) -> float:
    return (value if isinstance(value, datetime) else parse_datetime(value)).timestamp()


def add_seconds(value: Any, seconds: float) -> str:
    base = value if isinstance(value, datetime) else parse_datetime(value)
    return to_iso(base + timedelta(seconds=seconds))


def seconds_between(start: Any, end: Any) -> float:
    return to_epoch(end) - to_epoch(start)


def coalesce(*values: Any) -> Any:
    """First value that is not None/Null."""
    return next((v for v in values if v is not None and v is not Null), None)


def get_path(obj: Any, path: str, default: Any = None) -> Any:
    """`get_path(_global, "order.items.0.sku")`: dotted (and numeric) lookup, default when missing."""
    current = wrap(unwrap(obj))
    for part in str(path).removeprefix("$.").split("."):
        current = current[int(part)] if part.lstrip("-").isdigit() and not isinstance(current, dict) else current[part]
    return default if current is Null else current


def is_blank(value: Any) -> bool:
    return value is None or value is Null or (isinstance(value, str) and not value.strip())


def unique(items: Any) -> list:
    seen: list = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def flatten(items: Any) -> list:
    return [inner for item in items for inner in (item if isinstance(unwrap(item, deep=False), list) else [item])]


def pluck(items: Any, key: str) -> list:
    return [wrap(unwrap(item))[key] for item in items]


_MATH_NAMES = ("ceil", "floor", "sqrt", "log", "log10", "log2", "exp", "fabs", "isclose", "isfinite", "isnan",
               "pi", "e", "inf", "trunc", "sin", "cos", "tan", "atan2", "hypot", "fsum", "gcd")

_EXTRA_BUILTINS: dict[str, Any] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict,
    "tuple": tuple, "set": set, "frozenset": frozenset, "sorted": sorted, "reversed": reversed,
    "min": min, "max": max, "sum": sum, "any": any, "all": all, "abs": abs, "round": round,
    "enumerate": enumerate, "zip": zip, "map": map, "filter": filter, "next": next,
    "range": bounded_range, "isinstance": safe_isinstance, "pow": guarded_pow,
    "getattr": guarded_getattr, "hasattr": guarded_hasattr,
    "__import__": _blocked("import"),
}
_DROPPED_BUILTINS = ("__build_class__", "id", "issubclass")  # no classes, no identity/type games
# Named explicitly so the error says "not allowed" rather than "not defined".
_BLOCKED_NAMES = ("open", "exec", "eval", "compile", "type", "vars", "globals", "locals", "dir", "help",
                  "input", "breakpoint", "memoryview", "object", "super", "setattr", "delattr", "classmethod",
                  "staticmethod", "property", "bytearray", "exit", "quit")


def _builtins() -> dict[str, Any]:
    names = {k: v for k, v in safe_builtins.items() if k not in _DROPPED_BUILTINS}
    names.update(_EXTRA_BUILTINS)
    names.update({name: _blocked(name) for name in _BLOCKED_NAMES})
    return names


def _helpers() -> dict[str, Any]:
    return {
        "json": SimpleNamespace(loads=json.loads, dumps=_json_dumps),
        "math": SimpleNamespace(**{name: getattr(math, name) for name in _MATH_NAMES}),
        "fmt": fmt, "now": now, "now_iso": now_iso, "now_epoch": now_epoch, "parse_datetime": parse_datetime,
        "to_iso": to_iso, "to_epoch": to_epoch, "add_seconds": add_seconds, "seconds_between": seconds_between,
        "timedelta": timedelta, "coalesce": coalesce, "get_path": get_path, "is_blank": is_blank,
        "unique": unique, "flatten": flatten, "pluck": pluck, "null": Null,
    }


def base_globals() -> dict[str, Any]:
    return {
        "__builtins__": _builtins(),
        "__name__": "drift_script",
        "__metaclass__": type,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": iter,
        "_write_": guarded_write,
        "_binop_": guarded_binop,
        "_inplacevar_": guarded_inplacevar,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_apply_": _apply,
        "_print_": PrintCollector,
        **_helpers(),
    }


# --- run ------------------------------------------------------------------------------------


class ScriptFailure(Exception):
    """Carries the user-facing message of a failed evaluation and its kind."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def _script_line(exc: BaseException) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            line = lineno
    return line


def _describe(exc: BaseException) -> str:
    name = "Not allowed" if isinstance(exc, ScriptSecurityError) else type(exc).__name__
    text = f"{name}: {exc}" if str(exc) else name
    line = _script_line(exc)
    return f"{text} (line {line})" if line else text


def to_json_value(value: Any) -> Any:
    """Script results as plain JSON values (views unwrapped; tuples/sets -> lists; datetimes -> ISO)."""
    value = unwrap(value, deep=False)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(unwrap(k)): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_value(v) for v in value]
    if isinstance(value, datetime | date):
        return to_iso(value) if isinstance(value, datetime) else value.isoformat()
    raise ScriptFailure(f"script returned a {type(value).__name__}, which is not a JSON value")


class Runner:
    """Evaluates scripts in this process. Only ever used inside a sandbox child (or in tests)."""

    def __init__(self) -> None:
        self._cache = _CodeCache()
        self._globals = base_globals()

    def run(self, source: str, names: dict[str, Any]) -> Any:
        code, errors = self._cache.get(source)
        if code is None:
            raise ScriptFailure("script does not compile: " + "; ".join(errors), kind="compile")
        scope = dict(self._globals)
        scope.update({name: wrap(value) for name, value in names.items()})
        try:
            exec(code, scope)  # defines the function; the body runs on the call below
            result = scope[FUNCTION_NAME]()
            return to_json_value(result)
        except ScriptFailure:
            raise
        except MemoryError:
            raise ScriptFailure("script exceeded its memory limit", kind="memory") from None
        except RecursionError as exc:
            message = _describe(exc).replace("RecursionError", "RecursionError (recursion too deep)")
            raise ScriptFailure(message) from None
        except Exception as exc:  # noqa: BLE001 - every script error becomes a message
            raise ScriptFailure(_describe(exc)) from None


# --- child process protocol: 4-byte big-endian length + UTF-8 JSON, over stdin/stdout -------

_HEADER = struct.Struct(">I")


def write_frame(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message, default=_json_default).encode("utf-8", "surrogatepass")
    payload = _HEADER.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    body = read_exact(fd, _HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


def _limit_memory(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _names(request: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """The script's names: a request with `names` sends them all (and replaces what this child kept); the next
    scripts of one activity (a segment, apps/nodes/sandbox.py `session`) send only what changed since:
    `set` (whole names), `global` (keys of `_global`) and `drop` (keys gone from `_global`)."""
    if "names" in request:
        kept.clear()
        kept.update(request["names"] or {})
        return kept
    kept.update(request.get("set") or {})
    context = kept.setdefault("_global", {})
    context.update(request.get("global") or {})
    for key in request.get("drop") or ():
        context.pop(key, None)
    return kept


def _handle(runner: Runner, request: dict[str, Any], kept: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        return {"ok": True, "value": runner.run(request["source"], _names(request, {} if kept is None else kept))}
    except ScriptFailure as failure:
        return {"ok": False, "kind": failure.kind, "error": failure.message}
    except MemoryError:
        return {"ok": False, "kind": "memory", "error": "script exceeded its memory limit"}
    except Exception as exc:  # noqa: BLE001 - a sandbox bug must not kill the child
        return {"ok": False, "kind": "error", "error": f"sandbox error: {type(exc).__name__}: {exc}"}


def serve(memory_mb: int) -> None:
    """Sandbox child main loop: answer one request per frame until stdin closes."""
    in_fd, out_fd = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    sys.stdout = sys.stderr  # stray prints must never corrupt the protocol stream
    runner = Runner()
    if memory_mb > 0:
        _limit_memory(memory_mb)
    write_frame(out_fd, {"ready": True})
    kept: dict[str, Any] = {}  # the last request's names (see _names)
    while True:
        request = read_frame(in_fd)
        if request is None:
            return
        response = _handle(runner, request, kept)
        try:
            write_frame(out_fd, response)
        except (TypeError, ValueError, MemoryError) as exc:
            kind = "memory" if isinstance(exc, MemoryError) else "error"
            write_frame(out_fd, {"ok": False, "kind": kind, "error": f"script result could not be sent: {exc}"})


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
