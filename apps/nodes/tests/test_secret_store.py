"""Node types reach secrets only through the store registered in apps/nodes/extensions.py (apps.secrets
registers it when Django starts): resolution asks it per tenant, and with no store a node fails loudly."""

import pytest

from apps.nodes import extensions
from apps.nodes.extensions import SecretStore, SecretStoreMissing
from apps.nodes.scope import ScriptScope
from apps.nodes.types import http


def node(url: str) -> dict:
    return {"id": "call", "type": "HTTP", "httpComponents": {
        "url": {"type": "STATIC", "value": {"type": "STRING", "data": url}},
        "headers": {"type": "STATIC", "value": {"type": "MAP", "data": {"X-Key": "{{secret:crm.key}}"}}}}}


def test_references_resolve_through_the_registered_store_for_the_scopes_tenant(monkeypatch, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    asked = []

    def value(tenant: str, name: str) -> str:
        asked.append((tenant, name))
        return f"{tenant}-key-value"

    monkeypatch.setattr(extensions, "_secret_store", SecretStore(value=value, encrypt=bytes, decrypt=bytes))
    httpserver.expect_request("/contact", headers={"X-Key": "acme-key-value"}).respond_with_json(
        {"echo": "acme-key-value"})
    result = http.call(node(httpserver.url_for("/contact")), ScriptScope(tenant="acme"))
    assert asked == [("acme", "crm.key")]
    assert result == {"output": {"echo": "***"}}  # what leaves the node has the value masked


def test_with_no_store_registered_a_secret_reference_fails_loudly(monkeypatch):
    monkeypatch.setattr(extensions, "_secret_store", None)
    with pytest.raises(SecretStoreMissing, match="apps.secrets registers it"):
        http.call(node("https://crm.example/contact"), ScriptScope(tenant="acme"))
