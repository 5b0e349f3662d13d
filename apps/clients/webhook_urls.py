"""Webhook URLs (a run's `callbackUrl`, a client's default) are checked against the SSRF guard when they are
given, so a target Celery would refuse is a 400 at once instead of a delivery that fails later."""

from __future__ import annotations

import logging

from apps.nodes.http_guard import BlockedAddress, check_url

logger = logging.getLogger(__name__)


def webhook_url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook target, or None. The guard's own reason (which names the resolved address)
    goes to the log only: callers must not learn how internal names resolve."""
    if not url.lower().startswith(("http://", "https://")):
        return "Must be an http(s) URL."
    try:
        check_url(url)
    except BlockedAddress as exc:
        logger.info("webhook URL refused by the SSRF guard: %s", exc)
        return "Refused: the host is not a public address (private, loopback or reserved targets need "\
               "DRIFT_HTTP_ALLOWED_NETWORKS on the server)."
    return None
