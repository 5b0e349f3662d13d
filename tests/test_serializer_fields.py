"""drift.api.StrictSerializer reuses a thread's bound fields instead of DRF's deep copy per serializer: each
validation still sees its own context and root, leaves nothing behind for the next one, and threads never share
fields."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework import serializers

from drift.api import StrictSerializer, validated


class WhoField(serializers.CharField):
    """Answers with the context of the serializer it belongs to (through `root`)."""

    def to_internal_value(self, data: Any) -> str:
        return f"{super().to_internal_value(data)}@{self.context['who']}"


class Inner(serializers.Serializer):
    tag = WhoField()


class Outer(StrictSerializer):
    name = WhoField()
    inner = Inner(required=False)
    count = serializers.IntegerField(min_value=0, required=False)


def test_each_validation_sees_its_own_context_through_nested_fields():
    first = validated(Outer, {"name": "a", "inner": {"tag": "x"}}, who="alice")
    second = validated(Outer, {"name": "b", "inner": {"tag": "y"}}, who="bob")
    assert first == {"name": "a@alice", "inner": {"tag": "x@alice"}}
    assert second == {"name": "b@bob", "inner": {"tag": "y@bob"}}
    assert Outer().fields is Outer().fields  # reused on this thread, not copied


def test_a_refused_body_leaves_nothing_for_the_next():
    with pytest.raises(serializers.ValidationError, match="Unknown field"):
        validated(Outer, {"name": "a", "count": -1, "typo": 1}, who="c")
    assert validated(Outer, {"name": "a", "count": 2}, who="c") == {"name": "a@c", "count": 2}


def test_threads_validate_with_fields_of_their_own():
    seen: dict[str, Any] = {}
    start = threading.Barrier(8)

    def work(index: int) -> None:
        start.wait()
        for round_ in range(200):
            who = f"t{index}-{round_}"
            assert validated(Outer, {"name": "n", "inner": {"tag": "t"}}, who=who) == {
                "name": f"n@{who}", "inner": {"tag": f"t@{who}"}}
        seen[f"t{index}"] = id(Outer().fields)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen.values())) == 8
