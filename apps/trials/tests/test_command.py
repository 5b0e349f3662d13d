"""`manage.py test_definitions`: CI for definition repositories (exit code, JUnit XML)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command

from devtools.testing import trial_flows
from devtools.testing.definitions import publish_definitions

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]


def test_passing_then_failing_with_junit_xml(api, tenant, worker, tmp_path):
    publish_definitions(tenant, trial_flows.nodes(), [trial_flows.refund(trial_flows.cases())])
    out = io.StringIO()
    call_command("test_definitions", "refund", tenant=tenant, junit_xml=tmp_path / "ok.xml", stdout=out)
    assert "3 test case(s) of 1 definition(s) passed." in out.getvalue()
    assert ET.parse(tmp_path / "ok.xml").getroot().find("testsuite").get("failures") == "0"

    changed = trial_flows.refund(trial_flows.cases(), threshold=1000)
    assert api.put("/workflowDefinition/", changed, format="json").status_code == 200
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 of 3 test case"):
        call_command("test_definitions", tenant=tenant, definition_version="SNAPSHOT", junit_xml=tmp_path / "bad.xml",
                     stdout=out)
    assert "FAIL " in out.getvalue() and "status: expected WAITING, got COMPLETED" in out.getvalue()
    suite = ET.parse(tmp_path / "bad.xml").getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    failure = suite.findall("testcase")[1].find("failure")
    assert failure.get("message").startswith("status: expected WAITING") and "3. auto (SCRIPT) SUCCESS" in failure.text


def test_unknown_ids_and_bad_version_are_errors(tenant, worker, transactional_db):
    with pytest.raises(CommandError, match="Unknown workflow definition"):
        call_command("test_definitions", "nope", tenant=tenant)
    with pytest.raises(CommandError):
        call_command("test_definitions", definition_version="x")


def test_exit_code_through_manage_py(tenant, worker, transactional_db):
    """Run as CI would: a non-zero exit status on failure (call_command raises; manage.py exits 1)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "manage.py", "test_definitions", "--definition-version", "x"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "version" in result.stderr
