"""What a host limit may say (spec §13, `HostLimit {host, requestsPerSecond, burst, maxInFlight}`): the host's
normal form and the limits' ranges. Plain Python: the model, the admin form, the API and the worker's lookup of a
URL's host all normalise through here, so a row and a URL meet on the same key."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any
from urllib.parse import urlsplit

from core.problems import Problem

MIN_RATE, MAX_RATE = 0.001, 100_000.0  # requests per second: one per ~17 min at least, so a wait stays bounded
MAX_BURST = 100_000.0
MAX_IN_FLIGHT = 100_000
MAX_HOST_CHARS = 253 + 6  # a DNS name (253) and ":65535"
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_FIELDS = {"host": "$.host", "requestsPerSecond": "$.requestsPerSecond", "burst": "$.burst",
           "maxInFlight": "$.maxInFlight"}


def normalize_host(raw: Any) -> str:
    """`raw` as the key a limit is stored under: `name` or `name:port`, lower-case, an internationalised name in its
    ASCII (IDNA, `xn--`) form, an IPv6 address in brackets. ValueError says what is wrong."""
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    text = raw.strip().lower()
    if not text or len(text) > MAX_HOST_CHARS:
        raise ValueError(f"must be a host name or name:port of 1 to {MAX_HOST_CHARS} characters")
    name, port = _split_port(text)
    return f"{name}:{port}" if port is not None else name


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        try:
            name = f"[{ipaddress.IPv6Address(address).compressed}]"
        except ValueError:
            raise ValueError("is not a valid IPv6 address in brackets") from None
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("must be [IPv6 address] or [IPv6 address]:port")
        return name, _port(rest[1:]) if rest else None
    if text.count(":") > 1:
        raise ValueError("an IPv6 address goes in brackets: [2001:db8::1]:8443")
    name, colon, port = text.partition(":")
    return _dns_name(name), _port(port) if colon else None


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise ValueError("the port must be a number from 1 to 65535")
    return int(text)


def _dns_name(name: str) -> str:
    name = name.removesuffix(".")  # the fully qualified spelling is the same host
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError("is not a valid internationalised domain name") from None
    if re.fullmatch(r"[0-9.]+", name):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValueError("is not a valid IPv4 address") from None
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError("must be a DNS name: labels of letters, digits, '-' and '_', 1-63 characters each")
    return name


def url_keys(url: str) -> tuple[str, ...]:
    """The keys a request to `url` is limited under, most specific first: `name:port` (the scheme's default port
    when the URL names none), then `name`. Empty for a URL without a usable host (the call fails on its own)."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        name = normalize_host(f"[{hostname}]" if ":" in hostname else hostname)
    except ValueError:
        return ()
    return (f"{name}:{port}", name) if port else (name,)


def limit_problems(body: dict[str, Any], *, host_required: bool = True) -> list[Problem]:
    """Problems of a host limit as the API takes it (`{host, requestsPerSecond, burst, maxInFlight}`), each with
    its JSON path. `requestsPerSecond` or `maxInFlight` may be null (no rate, no cap), not both."""
    problems = [Problem(f"$.{key}", "is not a field of a host limit") for key in body if key not in _FIELDS]
    if "host" in body or host_required:
        try:
            normalize_host(body.get("host"))
        except ValueError as exc:
            problems.append(Problem("$.host", "is required" if "host" not in body else str(exc)))
    problems += number_problems(body.get("requestsPerSecond"), body.get("burst", 1), body.get("maxInFlight"))
    return problems


def number_problems(rate: Any, burst: Any, in_flight: Any) -> list[Problem]:
    """Problems of the three limits (None: rate or cap not set), with the API's paths."""
    problems = []
    if rate is not None and not _number_within(rate, MIN_RATE, MAX_RATE):
        problems.append(Problem("$.requestsPerSecond", f"must be a number from {MIN_RATE:g} to {MAX_RATE:g}"))
    if not _number_within(burst, 1, MAX_BURST):
        problems.append(Problem("$.burst", f"must be a number from 1 to {MAX_BURST:g} (the bucket's size)"))
    if in_flight is not None and not (type(in_flight) is int and 1 <= in_flight <= MAX_IN_FLIGHT):
        problems.append(Problem("$.maxInFlight", f"must be an integer from 1 to {MAX_IN_FLIGHT}"))
    if rate is None and in_flight is None:
        problems.append(Problem("$", "set requestsPerSecond, maxInFlight or both: a limit must limit something"))
    return problems


def _number_within(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)
