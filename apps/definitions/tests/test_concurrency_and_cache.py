import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from apps.definitions import selectors, services
from apps.definitions.cache import definition_cache
from apps.definitions.models import Definition, DefinitionVersion, Kind
from devtools.testing.cache_reader import NODE, TENANT, Reader


def save(body: dict, create: bool) -> None:
    services.definition_save_snapshot(tenant=TENANT, kind=Kind.NODE, body=body, actor="tests", create=create)


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_publishes_are_gap_free():
    save(NODE, create=True)
    barrier = threading.Barrier(20)

    def publish(_: int) -> int:
        try:
            barrier.wait()
            return services.definition_publish(tenant=TENANT, kind=Kind.NODE, key="done", actor="tests").version
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(20) as pool:
        versions = list(pool.map(publish, range(20)))
    assert sorted(versions) == list(range(1, 21))
    assert Definition.objects.get(key="done").latest_version == 20
    stored = DefinitionVersion.objects.filter(definition__key="done").values_list("version", flat=True)
    assert sorted(stored) == list(range(21))
    assert selectors.definition_get(tenant=TENANT, kind=Kind.NODE, key="done")["version"] == 20


def poll(reader: Reader, done, seconds: float = 10) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        seen = reader.read()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_other_process_drops_stale_entries_on_change():
    assert settings.REDIS_URL, "the test session starts redis-server"
    assert definition_cache.wait_subscribed(15)
    save(NODE, create=True)
    services.enum_entry_set(tenant=TENANT, key="oms", value={"base_url": "http://a"}, actor="tests")
    reader = Reader()
    try:
        first = reader.read()
        assert first["snapshot"]["comment"] == "v0"
        again = reader.read()
        # Served from the reader's own memory: only an invalidation message can make it see a change.
        assert again["stats"]["local_hits"] > first["stats"]["local_hits"]
        assert (again["stats"]["misses"], again["stats"]["shared_hits"]) == (
            first["stats"]["misses"], first["stats"]["shared_hits"])

        save({**NODE, "comment": "v1"}, create=False)
        services.enum_entry_set(tenant=TENANT, key="oms", value={"base_url": "http://b"}, actor="tests")
        seen = poll(reader, lambda r: r["snapshot"]["comment"] == "v1" and r["enums"]["oms"]["base_url"] == "http://b")
        assert seen["snapshot"]["comment"] == "v1"
        assert seen["enums"] == {"oms": {"base_url": "http://b"}}
    finally:
        reader.close()


@pytest.mark.django_db
def test_numbered_versions_are_cached_and_aliases_follow_changes():
    save(NODE, create=True)
    services.definition_publish(tenant=TENANT, kind=Kind.NODE, key="done", actor="t")
    assert selectors.definition_get(tenant=TENANT, kind=Kind.NODE, key="done", version=1)["comment"] == "v0"
    hits = definition_cache.stats.local_hits
    selectors.definition_get(tenant=TENANT, kind=Kind.NODE, key="done", version=1)
    assert definition_cache.stats.local_hits > hits
    save({**NODE, "comment": "v1"}, create=False)
    services.definition_publish(tenant=TENANT, kind=Kind.NODE, key="done", actor="t")
    assert selectors.definition_get(tenant=TENANT, kind=Kind.NODE, key="done")["comment"] == "v1"
    assert selectors.definition_get(tenant=TENANT, kind=Kind.NODE, key="done", version=1)["comment"] == "v0"
