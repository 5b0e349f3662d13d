"""Definitions for tests: publishing through the services, and the spec's sample documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

SAMPLES = Path(settings.BASE_DIR).parent / "shared/spec/samples"


def publish_definitions(tenant: str, nodes: list[dict[str, Any]], workflows: list[dict[str, Any]]) -> None:
    """Save, publish and activate node and workflow definitions through the services."""
    from apps.definitions.models import DefinitionKind
    from apps.definitions.services import definition_activate, definition_publish, definition_save_snapshot

    for kind, bodies in ((DefinitionKind.NODE, nodes), (DefinitionKind.WORKFLOW, workflows)):
        for body in bodies:
            definition_save_snapshot(tenant=tenant, kind=kind, body=body, actor="tests", create=True)
            published = definition_publish(tenant=tenant, kind=kind, key=body["id"], actor="tests")
            definition_activate(tenant=tenant, kind=kind, key=body["id"], version=published.version, actor="tests")
