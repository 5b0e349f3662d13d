"""A second process for the cache invalidation test: reads through the definition cache on request.

Protocol (one JSON object per line): stdin {"tenant", "key"} -> stdout {"snapshot", "enums", "stats"}.
Prints {"ready": true} once its invalidation subscriber is connected.
"""

import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drift.settings")
    import django

    django.setup()
    from apps.definitions.cache import cache_stats, definition_cache
    from apps.definitions.models import Kind
    from apps.definitions.selectors import definition_get, enum_store_for

    print(json.dumps({"ready": definition_cache.wait_subscribed(15)}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        snapshot = definition_get(tenant=request["tenant"], kind=Kind.NODE, key=request["key"], version="SNAPSHOT")
        enums = enum_store_for(tenant=request["tenant"])
        print(json.dumps({"snapshot": snapshot, "enums": enums, "stats": cache_stats()}), flush=True)


if __name__ == "__main__":
    main()
