"""Version specs: "SNAPSHOT", "LATEST", "ACTIVE" or a published number (>= 1)."""

from core.problems import Problem
from drift.errors import InvalidInput

SNAPSHOT, LATEST, ACTIVE = "SNAPSHOT", "LATEST", "ACTIVE"
ALIASES = (SNAPSHOT, LATEST, ACTIVE)
MAX_VERSION = 2**31 - 1

VersionSpec = str | int


def is_version_number(raw: object) -> bool:
    """An int, or a string of ASCII digits ("²".isdigit() is True, yet int("²") fails)."""
    if isinstance(raw, bool):
        return False
    return isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit())


def version_problem(raw: object, *, path: str, allowed: tuple[str, ...] = ALIASES) -> Problem | None:
    """The problem with `raw` as a version spec, or None when it is valid (None/"" are valid: the default)."""
    if raw is None or raw == "" or (isinstance(raw, str) and raw.strip().upper() in allowed):
        return None
    if isinstance(raw, bool):
        return Problem(path, _expected(allowed))
    if is_version_number(raw):
        if 1 <= int(raw) <= MAX_VERSION:
            return None
        return Problem(path, "a published version number is at least 1")
    return Problem(path, _expected(allowed))


def parse_version(raw: object, *, path: str, default: VersionSpec = LATEST,
                  allowed: tuple[str, ...] = ALIASES) -> VersionSpec:
    """Normalise a version spec to an alias string or an int; InvalidInput (with `path`) otherwise."""
    problem = version_problem(raw, path=path, allowed=allowed)
    if problem:
        raise InvalidInput("Invalid version.", [problem])
    if raw is None or raw == "":
        return default
    if isinstance(raw, int):
        return raw
    raw = raw.strip().upper()
    return int(raw) if is_version_number(raw) else raw


def _expected(allowed: tuple[str, ...]) -> str:
    return f"must be one of {', '.join(allowed)} or a version number"
