"""TEMPORARY STUB (replaced by the nodes work): the node type registry's public functions."""

from drift.errors import Problem


def validate_node_definition(node: dict, path: str) -> list[Problem]:
    """Every problem of one node definition (common fields and its type's fields), with JSON paths."""
    if not isinstance(node, dict):
        return [Problem(path, "must be an object")]
    return []
