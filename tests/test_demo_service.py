"""Issue 8.8/8.10: the sample's demo order service is its own process; the API serves no demo endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from devtools.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_api_serves_no_demo_endpoints() -> None:
    assert Client().get("/demo/oms/orders/42").status_code == 404


def test_the_demo_order_service_runs_as_its_own_server() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "drift.demo", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30, server, "demo")
        for order_id, status in (("42", "DELIVERED"), ("7", "SHIPPED")):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/demo/oms/orders/{order_id}", timeout=10) as reply:
                body = json.loads(reply.read())
            assert body["id"] == order_id and body["status"] == status
    finally:
        server.kill()
        server.wait()
