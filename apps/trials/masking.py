"""Where secrets are hidden before a dry run or a test report shows values to an operator.

Every value a dry run reports (resolved components, the request made, the response seen, the output) passes
through here. The HTTP call masks what it resolved itself; this also catches a secret value that reached a
report another way (a script's output, a context sample that holds one).
"""

from __future__ import annotations

from typing import Any

from apps.secrets.selectors import secret_values
from core.redaction import redact


def mask_secrets(value: Any, *, tenant: str) -> Any:
    """`value` with every secret value of `tenant` replaced by a mask."""
    values = secret_values(tenant=tenant)
    return redact(value, values) if values else value
