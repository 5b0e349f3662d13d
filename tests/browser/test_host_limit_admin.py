"""A platform operator in a real browser adds a downstream host limit (spec §13) in the admin, sees it listed in
its normal spelling, and is told which field is wrong when a value is out of range."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.nodes.models import HostLimit
from devtools.testing.browser import OPERATOR, PASSWORD, admin_login

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_adds_a_host_limit_and_sees_it_listed(page, screenshot, live_server):
    get_user_model().objects.create_superuser(OPERATOR, "op@example.com", PASSWORD)
    base = live_server.url
    admin_login(page, base)

    page.goto(f"{base}/admin/")
    page.click("a[href='/admin/nodes/hostlimit/add/']")
    page.fill("#id_host", "API.Partner.example:8443")
    page.fill("#id_requests_per_second", "5")
    page.fill("#id_burst", "0.5")
    page.fill("#id_max_in_flight", "2")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "the bucket's size" in page.inner_text(".field-burst")
    assert not HostLimit.objects.exists()

    page.fill("#id_burst", "2")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist .success")
    listed = page.inner_text("#result_list")
    assert "api.partner.example:8443" in listed and OPERATOR in listed
    screenshot("host-limits-list")
    row = HostLimit.objects.get()
    assert (row.host, row.requests_per_second, row.burst, row.max_in_flight) == ("api.partner.example:8443", 5, 2, 2)
