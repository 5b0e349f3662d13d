import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class NodesConfig(AppConfig):
    name = "apps.nodes"
    label = "nodes"

    def ready(self) -> None:
        if settings.DRIFT_DEV_ALLOW_LOOPBACK:  # every process (API, worker, Celery) says so at start
            logger.warning("DEV ONLY: DRIFT_DEV_ALLOW_LOOPBACK is on: HTTP nodes and webhooks may reach loopback "
                           "(127.0.0.0/8, ::1). Never use it in production.")
