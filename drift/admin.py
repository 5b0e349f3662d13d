"""Admin building blocks shared by the apps: read-only admins for rows other processes own, and JSON display."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html


def json_block(value: Any) -> str:
    """A value as indented JSON inside <pre>, or an em dash when empty."""
    if value in (None, "", {}, []):
        return "—"
    return format_html('<pre class="drift-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False, default=str))


class ReadOnlyInline(admin.TabularInline):
    """Rows written by the worker or Celery: shown, never edited in admin."""

    extra = 0
    can_delete = False
    classes = ["drift-readonly"]  # the row's own label repeats its columns: hidden (json_editor.css)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdminMixin:
    """A ModelAdmin for rows other processes own: browse and search only (actions may still act on them)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
