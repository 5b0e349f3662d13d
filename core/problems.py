"""The validation problem type: one finding with its JSON path. Shared by node types, the DSL validator,
the workflow and the API (drift/errors.py turns lists of them into 400 responses)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str
    problem: str
    severity: str = "error"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "problem": self.problem}
