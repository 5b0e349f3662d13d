"""The original Drift's documentation (../shared/reference/drift-original/, read as it is): its code examples,
each JSON one classified by what it shows (a workflow, a node, a start, ...)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings

REFERENCE = Path(settings.BASE_DIR).parent / "shared" / "reference" / "drift-original"
PAGES = ("06-DSL-CONTRACTS.md", "07-DSL-RECIPES.md", "08-API-CONTRACTS.md", "09-INTERACTION-MODES.md")
# The two blocks that are excerpts, not documents: a `states` fragment with `{ ... }` placeholders and a bare
# `"transformer": ...` member. Named here so that a new or changed fragment fails the classification.
FRAGMENT_STARTS = ('"states": {', '"transformer": {')


def example_blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = (REFERENCE / page).read_text()
        found += [(page, match.group(1)) for match in re.finditer(rf"```{language}\n(.*?)```", text, re.DOTALL)]
    return found


def _parse(block: str):
    """A block as JSON; the docs annotate some lines with `// ...` comments, which JSON does not have."""
    return json.loads(re.sub(r"(?m)\s+//[^\n\"]*$", "", block))


def classified_examples() -> dict[str, list]:
    kinds: dict[str, list] = {}
    for page, block in example_blocks("json"):
        try:
            data = _parse(block)
        except ValueError:
            assert block.strip().startswith(FRAGMENT_STARTS), f"{page}: unparseable JSON example:\n{block}"
            kinds.setdefault("fragment", []).append(block)
            continue
        kinds.setdefault(_kind(data, page), []).append(data)
    return kinds


def _kind(data: dict, page: str) -> str:
    text = json.dumps(data)
    if "states" in data:
        return "workflow"
    if "type" in data and "id" in data:
        return "groovy node" if '"SCRIPT"' in text or '"GROOVY"' in text else "node"
    for key, kind in (("issueDetail", "start"), ("viewResponse", "resume"), ("selectedOptions", "view response"),
                      ("workflowStatus", "response"), ("context", "context")):
        if key in data:
            return kind
    raise AssertionError(f"{page}: an example of unknown shape: {text[:200]}")
