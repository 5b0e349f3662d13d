import pytest
from django.core.management import call_command

from apps.definitions import selectors
from apps.definitions.models import AuditEntry, DefinitionVersion, Kind


@pytest.mark.django_db
def test_load_samples_is_idempotent(sample_nodes):
    call_command("load_samples", "--tenant", "demo", "--oms-base-url", "http://oms.test")
    versions = DefinitionVersion.objects.count()
    call_command("load_samples", "--tenant", "demo", "--oms-base-url", "http://oms.test")
    assert DefinitionVersion.objects.count() == versions == 2 * (len(sample_nodes) + 1)
    assert AuditEntry.objects.filter(action="PUBLISH").count() == len(sample_nodes) + 1

    resolved = selectors.workflow_resolve_for_run(tenant="demo", issue_id="order_status", bucket_key="c-1")
    assert (resolved["id"], resolved["version"]) == ("order_status", 1)
    assert resolved["definition"]["states"]["decide"]["nodeDefinition"]["type"] == "BRANCH"
    assert selectors.enum_store_for(tenant="demo") == {"oms": {"base_url": "http://oms.test"}}
    head = selectors.definition_head_get(tenant="demo", kind=Kind.NODE, key="get_order")
    assert (head.latest_version, head.active_version) == (1, 1)
