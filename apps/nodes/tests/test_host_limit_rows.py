"""Host limits as rows kept by platform operators (spec §13): `/v3/host-limits/` and the admin for superusers only,
bad input a 4xx naming the field, and an edit changing the limit the HTTP node waits for (a real local server and
the test session's Redis)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from pytest_httpserver import HTTPServer

from apps.clients.models import TenantMembership
from apps.clients.services import api_key_create
from apps.nodes import host_limits
from apps.nodes import settings as node_settings
from apps.nodes.base import NodeError
from apps.nodes.host_limits import KEY_PREFIX, admitted, limit_for
from apps.nodes.http_client import limited_send
from apps.nodes.models import HostLimit

pytestmark = pytest.mark.django_db
LIMIT = {"host": "api.partner.example", "requestsPerSecond": 5, "burst": 2, "maxInFlight": 3}


@pytest.fixture(autouse=True)
def _fresh_rows():
    """Each test reads the rows anew (another test's table may be cached in this process)."""
    host_limits.forget_rows()
    yield
    host_limits.forget_rows()


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("platform-op", "op@example.com", "pw"))
    return client


def send(client: Client, method: str, path: str, body=None, raw: bytes | None = None, **headers):
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return client.generic(method, path, data, content_type="application/json", headers=headers)


def test_an_operator_adds_reads_replaces_and_deletes_a_host_limit(operator):
    created = send(operator, "POST", "/v3/host-limits/", {**LIMIT, "host": "API.Partner.example"})
    assert created.status_code == 201, created.content
    assert created.json() | {"updatedAt": None} == {**LIMIT, "updatedAt": None, "updatedBy": "platform-op"}
    assert send(operator, "POST", "/v3/host-limits/", LIMIT).status_code == 409
    assert [row["host"] for row in send(operator, "GET", "/v3/host-limits/").json()] == ["api.partner.example"]
    assert send(operator, "GET", "/v3/host-limits/API.PARTNER.example").json()["maxInFlight"] == 3

    replaced = send(operator, "PUT", "/v3/host-limits/api.partner.example", {"maxInFlight": 1})
    assert replaced.status_code == 200
    assert replaced.json() | {"updatedAt": None} == {"host": "api.partner.example", "requestsPerSecond": None,
                                                     "burst": 1.0, "maxInFlight": 1, "updatedAt": None,
                                                     "updatedBy": "platform-op"}
    assert send(operator, "PUT", "/v3/host-limits/api.partner.example:8443", {"requestsPerSecond": 2}).status_code \
        == 201
    assert HostLimit.objects.filter(host="api.partner.example:8443").exists()

    assert send(operator, "DELETE", "/v3/host-limits/api.partner.example").status_code == 204
    assert send(operator, "GET", "/v3/host-limits/api.partner.example").status_code == 404
    assert send(operator, "DELETE", "/v3/host-limits/api.partner.example").status_code == 404
    assert send(operator, "GET", "/v3/host-limits/a..b").status_code == 404


@pytest.mark.parametrize(("method", "path", "raw", "where"), [
    ("POST", "/v3/host-limits/", b'{"host": "a.example", "requestsPerSecond": NaN}', "$.requestsPerSecond"),
    ("POST", "/v3/host-limits/", b'{"host": "a.example", "requestsPerSecond": Infinity}', "$.requestsPerSecond"),
    ("POST", "/v3/host-limits/", b'{"host": "a.example", "maxInFlight": 1e999}', "$.maxInFlight"),
    ("POST", "/v3/host-limits/", b'{"host": "\\ud800.example", "maxInFlight": 1}', "$.host"),
    ("PUT", "/v3/host-limits/a.example", b'{"maxInFlight": 1, "x": ' + b"[" * 200 + b"]" * 200 + b"}", "$.x"),
    ("POST", "/v3/host-limits/", b'{"host": "a.example", "maxInFlight": "2"}', "$.maxInFlight"),
    ("POST", "/v3/host-limits/", b'{"host": "a.example", "maxInFlight": 2, "burst": true}', "$.burst"),
    ("POST", "/v3/host-limits/", b'{"host": {"name": "a.example"}, "maxInFlight": 2}', "$.host"),
    ("POST", "/v3/host-limits/", b'{"host": "a.example:70000", "maxInFlight": 2}', "$.host"),
    ("POST", "/v3/host-limits/", b'{"host": "a.example"}', "$"),
    ("POST", "/v3/host-limits/", b'{"maxInFlight": 2}', "$.host"),
    ("POST", "/v3/host-limits/", b'[{"host": "a.example", "maxInFlight": 2}]', "$"),
    ("PUT", "/v3/host-limits/a.example", b'{"host": "b.example", "maxInFlight": 2}', "$.host"),
    ("PUT", "/v3/host-limits/a..b", b'{"maxInFlight": 2}', "$.host"),
    ("PUT", "/v3/host-limits/a.example", b'{"maxInFlight": 2, "maxInflight": 3}', "$.maxInflight"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(operator, method, path, raw, where):
    response = send(operator, method, path, raw=raw)
    assert response.status_code == 400, response.content
    paths = [detail["path"] for detail in response.json()["details"]]
    assert any(path == where or path.startswith(f"{where}[") for path in paths), response.json()
    assert not HostLimit.objects.exists()


def test_a_huge_body_is_413(operator, settings):
    huge = json.dumps({**LIMIT, "pad": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}).encode()
    assert send(operator, "POST", "/v3/host-limits/", raw=huge).status_code == 413
    assert not HostLimit.objects.exists()


def _tenant_staff_with_every_permission(tenant: str) -> Client:
    staff = User.objects.create_user("tenant-staff", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.all())  # nodes.*_hostlimit included: still refused
    TenantMembership.objects.create(user=staff, tenant=tenant)
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize("who", ["api key", "tenant staff", "nobody"])
def test_only_platform_operators_reach_the_api(who, tenant):
    HostLimit.objects.create(host="kept.example", max_in_flight=4)
    headers = {"X-Tenant-Id": tenant}
    client = _tenant_staff_with_every_permission(tenant) if who == "tenant staff" else Client()
    if who == "api key":
        _, raw_key = api_key_create(tenant=tenant, client_id="c", scopes=["runtime", "definitions", "reveal"])
        headers["Authorization"] = f"Api-Key {raw_key}"
    answers = [send(client, "GET", "/v3/host-limits/", **headers),
               send(client, "POST", "/v3/host-limits/", {**LIMIT, "host": "new.example"}, **headers),
               send(client, "GET", "/v3/host-limits/kept.example", **headers),
               send(client, "PUT", "/v3/host-limits/kept.example", {"maxInFlight": 99}, **headers),
               send(client, "DELETE", "/v3/host-limits/kept.example", **headers)]
    assert [answer.status_code for answer in answers] == [401 if who == "nobody" else 403] * 5
    assert all("kept.example" not in answer.content.decode() for answer in answers)
    assert list(HostLimit.objects.values_list("host", "max_in_flight")) == [("kept.example", 4)]


def test_only_platform_operators_see_the_admin(operator, tenant):
    add = {"host": "Admin.Partner.example:8443", "requests_per_second": "2", "burst": "1", "max_in_flight": ""}
    staff = _tenant_staff_with_every_permission(tenant)
    assert staff.get("/admin/nodes/hostlimit/").status_code == 403
    assert staff.post("/admin/nodes/hostlimit/add/", add).status_code == 403
    assert "hostlimit" not in staff.get("/admin/").content.decode()
    assert not HostLimit.objects.exists()

    assert operator.post("/admin/nodes/hostlimit/add/", add).status_code == 302
    row = HostLimit.objects.get()
    assert (row.host, row.requests_per_second, row.max_in_flight, row.updated_by) == \
        ("admin.partner.example:8443", 2.0, None, "platform-op")
    assert staff.get(f"/admin/nodes/hostlimit/{row.pk}/change/").status_code == 403
    assert staff.post(f"/admin/nodes/hostlimit/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "admin.partner.example:8443" in operator.get("/admin/nodes/hostlimit/").content.decode()
    bad = operator.post("/admin/nodes/hostlimit/add/", {**add, "host": "a..b", "burst": "0.5"})
    assert bad.status_code == 200 and "must be a DNS name" in bad.content.decode()
    assert "the bucket" in bad.content.decode()
    assert HostLimit.objects.count() == 1


# --- what the HTTP node sees


@pytest.fixture
def partner(httpserver: HTTPServer, settings) -> str:
    """The local server's URL; its host has no limit but the rows' (and its Redis keys start empty)."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.DRIFT_HOST_LIMITS = {}
    httpserver.expect_request("/charge").respond_with_json({"ok": True})
    client = node_settings.redis_client()
    for key in client.scan_iter(f"{KEY_PREFIX}:{httpserver.host}:{httpserver.port}:*"):
        client.delete(key)
    return httpserver.url_for("/charge")


def _call(url: str, timeout: float):
    return limited_send({"method": "POST", "url": url, "headers": {}, "params": {}, "data": None}, timeout)


def test_an_edit_of_a_row_changes_the_limit_the_http_node_waits_for(operator, partner, httpserver: HTTPServer):
    host = f"{httpserver.host}:{httpserver.port}"
    assert send(operator, "POST", "/v3/host-limits/", {"host": host, "maxInFlight": 1}).status_code == 201
    with admitted(partner, timeout=5):  # a call in flight: the host's one slot is taken
        with pytest.raises(NodeError, match=f"host limit of {host}"):
            _call(partner, 0.2)
        assert len(httpserver.log) == 0  # refused before sending

        assert send(operator, "PUT", f"/v3/host-limits/{host}", {"maxInFlight": 2}).status_code == 200
        assert _call(partner, 5).status_code == 200  # the second slot the edit added
    assert len(httpserver.log) == 1

    assert send(operator, "DELETE", f"/v3/host-limits/{host}").status_code == 204
    assert limit_for(partner) is None


def test_a_row_wins_over_the_setting_and_name_port_over_name(partner, httpserver: HTTPServer, settings):
    name, port = httpserver.host, httpserver.port
    settings.DRIFT_HOST_LIMITS = {name: {"inFlight": 7}, f"{name}:{port}": {"inFlight": 8}}
    assert (limit_for(partner).host, limit_for(partner).in_flight) == (f"{name}:{port}", 8)
    HostLimit.objects.create(host=name, max_in_flight=1)
    host_limits.forget_rows()
    assert limit_for(partner).in_flight == 8  # the setting's name:port is more specific than the row's name
    HostLimit.objects.create(host=f"{name}:{port}", requests_per_second=3, burst=2)
    host_limits.forget_rows()
    limit = limit_for(partner)
    assert (limit.host, limit.rate, limit.burst, limit.in_flight) == (f"{name}:{port}", 3.0, 2.0, None)


def test_another_processs_edit_applies_once_the_cached_rows_expire(partner, httpserver: HTTPServer, settings,
                                                                    monkeypatch):
    settings.DRIFT_HOST_LIMITS_REFRESH_SECONDS = 5
    now = [1000.0]
    monkeypatch.setattr(host_limits, "_clock", lambda: now[0])
    row = HostLimit.objects.create(host=f"{httpserver.host}:{httpserver.port}", max_in_flight=1)
    assert limit_for(partner).in_flight == 1
    HostLimit.objects.filter(pk=row.pk).update(max_in_flight=9)  # as another process's save: no forget here
    now[0] += 4.9
    assert limit_for(partner).in_flight == 1  # the cached table: no query per request
    now[0] += 0.2
    assert limit_for(partner).in_flight == 9


def test_the_database_unreachable_keeps_the_last_rows_read(partner, httpserver: HTTPServer, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(host_limits, "_clock", lambda: now[0])
    HostLimit.objects.create(host=f"{httpserver.host}:{httpserver.port}", max_in_flight=2)
    assert limit_for(partner).in_flight == 2

    def unreachable() -> dict:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(node_settings, "host_limit_rows", unreachable)
    now[0] += 60
    assert limit_for(partner).in_flight == 2
    assert _call(partner, 5).status_code == 200
