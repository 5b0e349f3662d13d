"""The run page's timeline: executed nodes with their PARALLEL lane, and the item runs of each MAP execution."""

from __future__ import annotations

import zlib
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.runs.models import NodeExecution, Run
from apps.runs.selectors import MapItems, run_steps
from drift.admin import ReadOnlyInline, TenantScopedInlineMixin


def run_path(run: Run) -> list[str]:
    """The executed instances in order (the timeline)."""
    return list(run_steps(run).values_list("instance_name", flat=True))


MAP_ITEMS_SHOWN = 50  # item rows per MAP execution on the run page: the first ones, and as many failed ones
# Lane badge colours: one per PARALLEL branch, stable across page loads (picked by the lane's hash).
LANE_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#283593")


def lane_badge(lane: str) -> str:
    """A timeline row's lane: `main` or the PARALLEL branch (nested: outer › inner), coloured per branch."""
    if not lane:
        return mark_safe('<span class="drift-lane drift-lane-main">main</span>')  # noqa: S308 - a constant
    colour = LANE_COLOURS[zlib.crc32(lane.encode()) % len(LANE_COLOURS)]
    label = " › ".join(part.replace("/", " / ") for part in lane.split(" > "))
    return format_html('<span class="drift-lane" style="border-color: {0}; color: {0}" title="PARALLEL state / '
                       'branch">{1}</span>', colour, label)


def _duration(run: Run) -> str:
    if run.finished_at is None:
        return "running"
    seconds = (run.finished_at - run.created_at).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _item_row(index: int, run: Run) -> str:
    url = reverse("admin:runs_run_change", args=[run.pk])
    return format_html(
        '<tr class="drift-map-item drift-status-{}" data-index="{}"><td>{}</td><td class="drift-map-run">'
        '<a href="{}">{}</a></td><td><span class="drift-badge drift-status-{}">{}</span></td>'
        '<td class="drift-map-error">{}</td><td>{}</td></tr>', run.status, index, index, url, run.workflow_id,
        run.status, run.status, run.error_message or "", _duration(run))


def map_items_html(execution: MapItems) -> str:
    """One MAP execution: counts by status, links to its item runs, and the bounded table of items."""
    changelist = reverse("admin:runs_run_changelist")
    every = f"{changelist}?{urlencode({'workflow_id__startswith': f'{execution.prefix}.'})}"
    failed = f"{every}&{urlencode({'status__exact': 'FAILED'})}"
    counts = format_html_join(" ", '<span class="drift-badge drift-status-{}">{} {}</span>',
                              ((status, status, count) for status, count in execution.counts.items()))
    rows, previous = [], -1
    for index, run in execution.rows:
        if index > previous + 1:
            rows.append(format_html('<tr class="drift-map-gap"><td colspan="5">… {} items not listed</td></tr>',
                                    index - previous - 1))
        rows.append(_item_row(index, run))
        previous = index
    if execution.total > previous + 1:
        rows.append(format_html('<tr class="drift-map-gap"><td colspan="5">… {} more items</td></tr>',
                                execution.total - previous - 1))
    return format_html(
        '<div class="drift-map" id="drift-map-{}" data-prefix="{}"><p><strong>{}</strong> · {} item runs: {} · '
        '<a href="{}" class="drift-map-all">all item runs</a> · <a href="{}" class="drift-map-failed">failed only'
        '</a></p><table class="drift-table drift-map-items"><thead><tr><th>item</th><th>item run</th><th>status'
        '</th><th>error</th><th>duration</th></tr></thead><tbody>{}</tbody></table><p class="help">The first {} '
        'items and up to {} failed or terminated ones; the links list them all.</p></div>',
        execution.state, execution.prefix, execution.state, execution.total, counts, every, failed,
        format_html_join("", "{}", ((row,) for row in rows)), MAP_ITEMS_SHOWN, MAP_ITEMS_SHOWN)


class NodeExecutionInline(TenantScopedInlineMixin, ReadOnlyInline):
    model = NodeExecution
    verbose_name = "executed node"
    verbose_name_plural = "Timeline (executed nodes)"
    fields = ("seq", "branch_lane", "instance_name", "node_type", "outcome", "actor", "duration", "error",
              "started_at")
    readonly_fields = fields
    ordering = ("seq",)

    @admin.display(description="lane")
    def branch_lane(self, obj: NodeExecution) -> str:
        return lane_badge(obj.lane)

    @admin.display(description="duration")
    def duration(self, obj: NodeExecution) -> str:
        if obj.host_limit_wait_ms:  # the part spent waiting for the called host's limit (DRIFT_HOST_LIMITS)
            return f"{obj.duration_ms:.0f} ms ({obj.host_limit_wait_ms:.0f} ms waiting for the host limit)"
        return f"{obj.duration_ms:.0f} ms"
