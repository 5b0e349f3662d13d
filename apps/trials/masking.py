"""Where secrets are hidden before a dry run or a test report shows values to an operator.

Hook for the secrets feature: its masking helper replaces `mask_secrets`' body. Every value a dry run
reports (resolved components, the request made, the response seen, the output) passes through here.
"""

from __future__ import annotations

from typing import Any


def mask_secrets(value: Any, *, tenant: str) -> Any:
    """`value` with any secret replaced by a mask. No secrets exist yet: returned unchanged."""
    return value
