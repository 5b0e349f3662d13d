import logging
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

logger = logging.getLogger(__name__)


class NodesConfig(AppConfig):
    name = "apps.nodes"
    label = "nodes"
    verbose_name = "Downstream hosts (platform operators)"

    def ready(self) -> None:
        checks.register(check_host_limits)
        if settings.DRIFT_DEV_ALLOW_LOOPBACK:  # every process (API, worker, Celery) says so at start
            logger.warning("DEV ONLY: DRIFT_DEV_ALLOW_LOOPBACK is on: HTTP nodes and webhooks may reach loopback "
                           "(127.0.0.0/8, ::1). Never use it in production.")


def check_host_limits(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A malformed DRIFT_HOST_LIMITS is refused at `manage.py check` (and deploy), not at a node's first call."""
    from apps.nodes.host_limits import validate_limits

    problems = validate_limits(settings.DRIFT_HOST_LIMITS)
    if str(settings.DRIFT_HOST_LIMITS_ON_REDIS_DOWN).lower() not in ("open", "closed"):
        problems.append("DRIFT_HOST_LIMITS_ON_REDIS_DOWN must be open or closed")
    return [checks.Error(f"DRIFT_HOST_LIMITS: {problem}", id="nodes.E001") for problem in problems]
