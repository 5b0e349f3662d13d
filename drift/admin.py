"""Admin building blocks shared by the apps: the tenant boundary of every admin, read-only admins for rows other
processes own, and JSON display."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.html import format_html

from apps.clients.access import (
    has_permission,
    is_platform_operator,
    may_act_for,
    scope_queryset,
    tenant_choices,
    tenants_of,
)


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


# --- the tenant boundary (docs/security.md, "Admin"): every admin of tenant-bearing rows asks apps.clients.access


class TenantScopedAdminMixin:
    """Rows, forms, permissions and custom views narrowed to the tenants the user may act for.

    - `get_queryset` keeps the user's tenants only (`tenant_field` reaches the tenant through a relation), so
      the change, delete and history pages and every changelist action see nothing of another tenant;
    - a `tenant` form field offers `tenant_choices(user)` (a superuser types any tenant: they create tenants) and
      `save_form` refuses an object of a tenant the user may not write to, whatever was posted;
    - `has_*_permission(request, obj)` asks `may_act_for(user, obj's tenant, "<app>.<action>_<model>")`;
    - custom views fetch their object with `scoped_object` (404 for another tenant's pk, 403 without the
      permission).

    Put ReadOnlyAdminMixin before this mixin: it refuses writes before the tenant is asked.
    """

    tenant_field: str = "tenant"
    permission_model: str | None = None  # the codename's model when it is not the admin's (proxy models)

    def permission_name(self, action: str) -> str:
        return f"{self.opts.app_label}.{action}_{self.permission_model or self.opts.model_name}"

    def tenant_of(self, obj: Any) -> str:
        value = obj
        for part in self.tenant_field.split("__"):
            value = getattr(value, part)
        return value

    def may(self, request: HttpRequest, permission: str, obj: Any = None) -> bool:
        """`permission` for `obj`'s tenant, or (no object) for at least one tenant of the user."""
        if obj is None:
            # EVERY_TENANT is an empty set that contains every name: a superuser acts for some tenant too.
            some_tenant = is_platform_operator(request.user) or bool(tenants_of(request.user))
            return some_tenant and has_permission(request.user, permission)
        return may_act_for(request.user, self.tenant_of(obj), permission)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_queryset(super().get_queryset(request), request.user, field=self.tenant_field)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may(request, self.permission_name("view"), obj) or self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may(request, self.permission_name("change"), obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may(request, self.permission_name("delete"), obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.may(request, self.permission_name("add"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def tenant_form_field(self, request: HttpRequest, field: forms.Field | None = None) -> forms.Field:
        """The `tenant` field a form offers this user: their tenants as choices, or free text for a superuser."""
        if is_platform_operator(request.user) and field is not None:
            return field
        return forms.ChoiceField(choices=[("", "---------"), *tenant_choices(request.user)], label="Tenant",
                                 help_text=getattr(field, "help_text", ""))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "tenant" in form.base_fields:  # a fresh dict per generated class: replacing the entry is safe
            form.base_fields["tenant"] = self.tenant_form_field(request, form.base_fields["tenant"])
        return form

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> Any:
        obj = super().save_form(request, form, change)
        # A form may carry the tenant outside the model's fields (the definition form): the posted one counts.
        tenant = self.tenant_of(obj) if change else form.cleaned_data.get("tenant") or self.tenant_of(obj)
        self.require_tenant(request, tenant, self.permission_name("change" if change else "add"))
        return obj

    def require_tenant(self, request: HttpRequest, tenant: str, permission: str) -> None:
        """403 unless the user may act for `tenant` with `permission` (the server-side check of a POST)."""
        if not may_act_for(request.user, tenant, permission):
            raise PermissionDenied

    def require(self, request: HttpRequest, permission: str, obj: Any) -> None:
        self.require_tenant(request, self.tenant_of(obj), permission)

    def scoped_object(self, request: HttpRequest, pk: Any, permission: str | None = None) -> Any:
        """The object `pk` through the scoped queryset (404 if another tenant's), with `permission` (default:
        view) for its tenant (403 otherwise). Every custom view fetches its object this way."""
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        self.require(request, permission or self.permission_name("view"), obj)
        return obj


class TenantScopedInlineMixin:
    """An inline of a tenant-scoped parent: shown and edited only where the parent's tenant allows it (the
    parent's admin already scopes which parents can be opened; this keeps the inline's own checks aligned)."""

    parent_tenant_field: str = "tenant"  # from the parent object; "run.tenant" follows a relation

    def _parent_allows(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None:
            return True
        for part in self.parent_tenant_field.split("."):
            obj = getattr(obj, part)
        return obj in tenants_of(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_allows(request, obj) and super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_allows(request, obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_allows(request, obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_allows(request, obj) and super().has_delete_permission(request, obj)


# --- extension points: an app above adds views and page parts to another app's model admin, never re-registering it


class AdminExtension:
    """What an app adds to a model admin of an app below it (registered with `admin_extend` from its admin
    module). Every method receives the extended ModelAdmin; templates are fragments the extended admin's change
    form includes: `tools` in its object tools (`<li>` items), `panels` after its content."""

    tools: tuple[str, ...] = ()
    panels: tuple[str, ...] = ()
    actions: tuple = ()  # admin actions (functions decorated with @admin.action) offered on the change list

    def get_urls(self, model_admin: admin.ModelAdmin) -> list:
        return []

    def change_context(self, model_admin: admin.ModelAdmin, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """Context for the change form of `obj` (None on the add form)."""
        return {}


_EXTENSIONS: dict[type[admin.ModelAdmin], list[AdminExtension]] = {}


def admin_extend(admin_class: type[admin.ModelAdmin], extension: AdminExtension) -> None:
    """Add `extension` to every page of `admin_class` (an ExtensibleAdminMixin)."""
    if not issubclass(admin_class, ExtensibleAdminMixin):
        raise TypeError(f"{admin_class.__name__} offers no extension points (ExtensibleAdminMixin).")
    _EXTENSIONS.setdefault(admin_class, []).append(extension)


def admin_extensions_of(admin_class: type[admin.ModelAdmin]) -> list[AdminExtension]:
    """The extensions registered for `admin_class`, in registration (INSTALLED_APPS) order."""
    return list(_EXTENSIONS.get(admin_class, ()))


class ExtensibleAdminMixin:
    """A model admin that apps above its own extend with `admin_extend`: their URLs come first, their actions
    join the change list's, their context and template fragments join the change form's."""

    def admin_extensions(self) -> list[AdminExtension]:
        return admin_extensions_of(type(self))

    def get_urls(self):
        return [url for extension in self.admin_extensions() for url in extension.get_urls(self)] + \
            super().get_urls()

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:  # as Django: no actions at all
            return actions
        for extension in self.admin_extensions():
            for function in extension.actions:
                permissions = getattr(function, "allowed_permissions", ())
                if not permissions or any(getattr(self, f"has_{name}_permission")(request) for name in permissions):
                    action = self.get_action(function)
                    actions[action[1]] = action
        return actions

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        extensions = self.admin_extensions()
        for extension in extensions:
            context.update(extension.change_context(self, request, obj))
        context.update(extension_tools=[name for extension in extensions for name in extension.tools],
                       extension_panels=[name for extension in extensions for name in extension.panels])
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
