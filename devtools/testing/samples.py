"""Fixtures: the spec's sample order_status workflow, loaded for the test's tenant with a local order service."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

ORDERS = {"1": {"status": "DELIVERED", "returnable": True}, "2": {"status": "SHIPPED", "returnable": False}}


@pytest.fixture
def oms(httpserver):
    """The order service the sample's HTTP node calls."""
    for order_id, body in ORDERS.items():
        httpserver.expect_request(f"/oms/orders/{order_id}", method="GET").respond_with_json(body)
    return httpserver


@pytest.fixture
def samples(runs, tenant: str, oms, settings) -> str:
    """The sample order_status workflow loaded for `tenant`, routed by issue `order_status`."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    call_command("load_samples", tenant=tenant, oms_base_url=oms.url_for("/oms"), stdout=io.StringIO())
    return "order_status"
