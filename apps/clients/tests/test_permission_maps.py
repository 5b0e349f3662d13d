"""Issue 19, finding 7: every REST route asks its own permissions (per method, per bulk operation and schedule
action), through `may_act_for`.

The routes come from the URL resolver, so a new API route without a row in PERMISSIONS fails the first test. For a
staff session bound to the tenant with exactly the route's permissions minus one, the route answers 403 naming the
missing one; with all of them it gets past authorization (whatever the empty body then earns: 400, 404...).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from apps.clients.models import TenantMembership

TENANT = "acme"
VIEW_RUN, START_RUN, TERMINATE_RUN = "runs.view_run", "runs.start_run", "runs.terminate_run"
CHANGE_SCHEDULE, VIEW_TASK = "operations.change_schedule", "tasks.view_task"
VIEW_DEF, CHANGE_DEF = "definitions.view_definition", "definitions.change_definition"

# (method, path) -> the permissions it needs: the agreed map (docs/security.md, "API permissions").
PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/v3/workflow"): (VIEW_RUN,),
    ("POST", "/v3/workflow/start"): (START_RUN,),
    ("PUT", "/v3/workflow/resume/x"): (START_RUN,),
    ("DELETE", "/v3/workflow/terminate/x"): (TERMINATE_RUN,),
    ("GET", "/v3/workflow/x"): (VIEW_RUN,),
    ("POST", "/v3/workflow/x/disconnected-node/execute"): (START_RUN,),
    ("POST", "/v3/workflow/x/event/x"): (START_RUN,),
    ("POST", "/v3/workflow/x/redrive"): (START_RUN,),
    ("POST", "/v3/bulk/terminate"): (TERMINATE_RUN,),
    ("POST", "/v3/bulk/rerun"): (START_RUN,),
    ("POST", "/v3/bulk/redrive"): (START_RUN,),
    ("GET", "/v3/bulk/x"): (VIEW_RUN,),
    ("GET", "/v3/schedules/"): ("operations.view_schedule",),
    ("POST", "/v3/schedules/"): ("operations.add_schedule",),
    ("GET", "/v3/schedules/x"): ("operations.view_schedule",),
    ("PUT", "/v3/schedules/x"): (CHANGE_SCHEDULE,),
    ("DELETE", "/v3/schedules/x"): ("operations.delete_schedule",),
    ("POST", "/v3/schedules/x/pause"): (CHANGE_SCHEDULE,),
    ("POST", "/v3/schedules/x/resume"): (CHANGE_SCHEDULE,),
    ("POST", "/v3/schedules/x/trigger"): (CHANGE_SCHEDULE, START_RUN),
    ("POST", "/v3/schedules/x/backfill"): (CHANGE_SCHEDULE, START_RUN),
    ("GET", "/v3/tasks"): (VIEW_TASK,),
    ("POST", "/v3/tasks/x/claim"): (VIEW_TASK, START_RUN),
    ("POST", "/v3/tasks/x/release"): (VIEW_TASK, START_RUN),
    ("GET", "/v3/triggers/"): ("triggers.view_trigger",),
    ("POST", "/v3/triggers/"): ("triggers.add_trigger",),
    ("GET", "/v3/triggers/x"): ("triggers.view_trigger",),
    ("PUT", "/v3/triggers/x"): ("triggers.change_trigger",),
    ("DELETE", "/v3/triggers/x"): ("triggers.delete_trigger",),
    ("GET", "/v3/triggers/x/events"): ("triggers.view_trigger",),
    ("GET", "/secrets/"): ("secrets.view_secret",),
    ("PUT", "/secrets/x"): ("secrets.add_secret", "secrets.change_secret"),
    ("DELETE", "/secrets/x"): ("secrets.delete_secret",),
    ("POST", "/nodeDefinition/x/dryRun"): (CHANGE_DEF,),
    ("POST", "/workflowDefinition/x/test"): (CHANGE_DEF,),
    ("GET", "/workflowDefinition/treeView/x"): (VIEW_DEF,),
    ("GET", "/routes/"): ("definitions.view_route",),
    ("GET", "/routes/x"): ("definitions.view_route",),
    ("PUT", "/routes/x"): ("definitions.change_route",),
    ("DELETE", "/routes/x"): ("definitions.delete_route",),
    ("GET", "/enumStore/"): ("definitions.view_enumentry",),
    ("GET", "/enumStore/x"): ("definitions.view_enumentry",),
    ("PUT", "/enumStore/x"): ("definitions.change_enumentry",),
    ("DELETE", "/enumStore/x"): ("definitions.delete_enumentry",),
    ("GET", "/auditLog/"): ("definitions.view_auditentry",),
    ("GET", "/dslSchema/"): (VIEW_DEF,),
    **{pair: perms for kind, publish in (("nodeDefinition", "publishNode"), ("workflowDefinition", "publishWorkflow"))
       for pair, perms in {
        ("GET", f"/{kind}/"): (VIEW_DEF,),
        ("POST", f"/{kind}/"): ("definitions.add_definition",),
        ("PUT", f"/{kind}/"): (CHANGE_DEF,),
        ("POST", f"/{kind}/validate"): (CHANGE_DEF,),
        ("POST", f"/{kind}/x/{publish}"): (CHANGE_DEF,),
        ("POST", f"/{kind}/x/activate"): (CHANGE_DEF,),
        ("GET", f"/{kind}/x/versions"): (VIEW_DEF,),
        ("GET", f"/{kind}/x/diff"): (VIEW_DEF,),
        ("GET", f"/{kind}/x"): (VIEW_DEF,),
    }.items()},
}
# URL arguments: an operation argument takes each of its values (each is its own row above).
ARGUMENTS = {"op": ("terminate", "rerun", "redrive"), "action": ("pause", "resume", "trigger", "backfill")}
HANDLERS = ("get", "post", "put", "patch", "delete")


def _patterns(resolver: URLResolver) -> Iterator[URLPattern]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry)
        else:
            yield entry


def session_routes() -> set[tuple[str, str]]:
    """(method, path) of every DRF route a staff session may call, from the URL resolver."""
    routes = set()
    for pattern in _patterns(get_resolver()):
        view = getattr(pattern.callback, "view_class", None)
        if not (isinstance(view, type) and issubclass(view, APIView) and pattern.name):
            continue
        if not any(issubclass(auth, SessionAuthentication) for auth in view.authentication_classes):
            continue  # API keys only (the client's webhook settings)
        names = list(pattern.pattern.regex.groupindex)
        for values in itertools.product(*(ARGUMENTS.get(name, ("x",)) for name in names)):
            path = reverse(pattern.name, kwargs=dict(zip(names, values, strict=True)))
            routes |= {(handler.upper(), path) for handler in HANDLERS if hasattr(view, handler)}
    return routes


# Routes outside the permission maps, and why.
UNMAPPED = {"/codec/": "platform operators (superusers) only (issue 19, finding 6)",
            "/v3/host-limits/": "platform operators (superusers) only: shared by every tenant (spec §13)",
            "/api/": "the OpenAPI schema and its UI: no tenant data"}


def test_every_session_route_of_the_api_has_a_permission_row():
    routes = {(method, path) for method, path in session_routes() if not path.startswith(tuple(UNMAPPED))}
    assert routes - set(PERMISSIONS) == set(), "a route without a permission row"
    assert set(PERMISSIONS) - routes == set(), "a row without a route"


def staff_with(permissions: tuple[str, ...]) -> Client:
    user = User.objects.create_user(f"op{User.objects.count()}", password="x", is_staff=True)
    for name in permissions:
        app, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    TenantMembership.objects.create(user=user, tenant=TENANT)
    client = Client(HTTP_X_TENANT_ID=TENANT, HTTP_X_CLIENT_ID="admin")
    client.force_login(user)
    return client


def call(client: Client, method: str, path: str):
    return client.generic(method, path, b"", content_type="application/json")


MINUS_ONE = [(method, path, missing) for (method, path), needed in sorted(PERMISSIONS.items()) for missing in needed]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "missing"), MINUS_ONE)
def test_each_route_refuses_a_session_lacking_one_of_its_permissions(method, path, missing):
    granted = tuple(name for name in PERMISSIONS[(method, path)] if name != missing)
    response = call(staff_with(granted), method, path)
    assert response.status_code == 403, response.content
    assert f"'{missing}'" in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), sorted(PERMISSIONS))
def test_each_route_lets_a_session_with_its_permissions_through(method, path):
    response = call(staff_with(PERMISSIONS[(method, path)]), method, path)
    assert response.status_code != 403, response.content
    assert response.status_code < 500, response.content
