"""Pictures of a workflow: the inline SVG graph and the visual builder's mount points (the editable builder of
the workflow page, the read-only canvas with a run's path that the run page shows)."""

from __future__ import annotations

import copy
import json

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join, json_script
from django.utils.safestring import mark_safe

from apps.definitions import selectors
from apps.definitions.graph_render import GraphRenderError, inline_svg


def workflow_graph_html(tenant: str, body: dict, *, path: list[str] | None = None, title: str | None = None) -> str:
    """Inline SVG of a workflow document (node definitions inlined as the selectors do), or a note."""
    body = selectors.workflow_inline_nodes(tenant=tenant, body=copy.deepcopy(body), pin=False, strict=False)
    try:
        return mark_safe(f'<div class="drift-graph">{inline_svg(body, path=path, title=title)}</div>')  # noqa: S308
    except GraphRenderError as exc:
        return format_html('<p class="errornote">{}</p>', str(exc))


BUILDER_JS, BUILDER_CSS = "definitions/builder/builder.js", "definitions/builder/builder.css"


def builder_built() -> bool:
    return finders.find(BUILDER_JS) is not None


def builder_html(*, tenant: str, url: str, extra: dict[str, str] | None = None) -> str:
    """The builder's mount point (frontend/builder, built by scripts/bootstrap) for the `document` textarea. A
    new definition has no tenant yet: the builder reads the form's tenant field. `extra`: more data-* attributes
    (the trials app's "Try" and "Run tests" URLs)."""
    if not builder_built():
        return format_html('<p class="errornote">The builder is not built: run scripts/bootstrap.</p>')
    attrs = format_html_join("", ' data-{}="{}"', sorted((extra or {}).items()))
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>'
        '<div id="drift-builder" class="drift-builder" data-document="id_document" data-tenant="{}" '
        'data-tenant-input="id_tenant" data-url="{}"{}></div>', static(BUILDER_CSS), static(BUILDER_JS), tenant, url,
        attrs)


def path_canvas_html(tenant: str, body: dict, *, path: list[str]) -> str:
    """A stored workflow drawn read-only by the builder with a run's path on it (node definitions inlined as the
    graph picture's); "" when the builder is not built (the graph picture stays the fallback)."""
    if not builder_built():
        return ""
    body = selectors.workflow_inline_nodes(tenant=tenant, body=copy.deepcopy(body), pin=False, strict=False)
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>{}'
        '<div id="drift-builder" class="drift-builder drift-path-canvas" data-readonly="true" '
        'data-body="drift-run-body" data-path="{}"></div>', static(BUILDER_CSS), static(BUILDER_JS),
        json_script(body, "drift-run-body"), json.dumps(path))

