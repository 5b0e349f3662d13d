"""`limits` on a workflow definition (spec §13): bad values are 400 with the path, good ones are kept."""

import jsonschema
import pytest

from apps.definitions.dsl import limits_problems
from apps.definitions.dsl_schema import dsl_json_schema_for

pytestmark = pytest.mark.django_db

NODE = {"id": "done", "name": "Completed", "type": "SUCCESS"}


def _workflow(limits: object) -> dict:
    return {"id": "w", "startNode": "done", "postWorkflowCompletionNodes": [],
            "states": {"done": {"instanceName": "done", "resourceId": "done", "type": "NODE", "nextNode": None}},
            "limits": limits}


MCR = "$.limits.maxConcurrentRuns"
SPM = "$.limits.startsPerMinute"


@pytest.mark.parametrize(("limits", "bad_path"), [
    ("5", "$.limits"), ([5], "$.limits"), (5, "$.limits"),
    ({}, MCR), ({"maxConcurrentRuns": "5"}, MCR), ({"maxConcurrentRuns": 5.0}, MCR),
    ({"maxConcurrentRuns": 2.5}, MCR), ({"maxConcurrentRuns": True}, MCR), ({"maxConcurrentRuns": 0}, MCR),
    ({"maxConcurrentRuns": -3}, MCR), ({"maxConcurrentRuns": 10**30}, MCR), ({"maxConcurrentRuns": None}, MCR),
    ({"maxConcurrentRuns": 5, "overflow": "DROP"}, "$.limits.overflow"),
    ({"maxConcurrentRuns": 5, "overflow": 1}, "$.limits.overflow"),
    ({"maxConcurrentRuns": 5, "overflow": ["QUEUE"]}, "$.limits.overflow"),
    ({"maxConcurrentRuns": 5, "burst": 3}, "$.limits.burst"),
    ({"overflow": "REJECT"}, MCR), ({"startsPerMinute": 0}, SPM), ({"startsPerMinute": "5"}, SPM),
    ({"startsPerMinute": True}, SPM), ({"startsPerMinute": 1.5}, SPM), ({"startsPerMinute": 10**30}, SPM),
    ({"startsPerMinute": None}, SPM), ({"maxConcurrentRuns": 5, "startsPerMinute": -1}, SPM),
])
def test_bad_limits_are_400_with_the_path(api, limits, bad_path):
    api.post("/nodeDefinition/", NODE, format="json")
    response = api.post("/workflowDefinition/", _workflow(limits), format="json")
    assert response.status_code == 400, response.json()
    assert bad_path in [d["path"] for d in response.json()["details"]]
    # The JSON Schema (the admin editor's) refuses it too; but for it 5.0 is an integer (the server is stricter).
    if limits != {"maxConcurrentRuns": 5.0}:
        assert not jsonschema.Draft202012Validator(dsl_json_schema_for("WORKFLOW")).is_valid(_workflow(limits))


@pytest.mark.parametrize("raw", ['{"maxConcurrentRuns": NaN}', '{"maxConcurrentRuns": Infinity}',
                                 '{"maxConcurrentRuns": 1e999}', '{"startsPerMinute": NaN}',
                                 '{"startsPerMinute": -Infinity}'])
def test_non_finite_limits_are_400(api, raw):
    body = '{"id": "w", "startNode": "done", "states": {"done": {"resourceId": "done"}}, "limits": ' + raw + "}"
    response = api.post("/workflowDefinition/", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("limits", [{"maxConcurrentRuns": 5}, {"maxConcurrentRuns": 1, "overflow": "REJECT"},
                                    {"maxConcurrentRuns": 100_000, "overflow": "QUEUE"}, {"startsPerMinute": 30},
                                    {"maxConcurrentRuns": 2, "startsPerMinute": 100_000, "overflow": "REJECT"}])
def test_good_limits_are_kept(api, limits):
    api.post("/nodeDefinition/", NODE, format="json")
    api.post("/nodeDefinition/done/publishNode/")
    response = api.post("/workflowDefinition/", _workflow(limits), format="json")
    assert response.status_code in (200, 201), response.json()
    got = api.get("/workflowDefinition/w?version=SNAPSHOT").json()
    assert got.get("limits") == limits, got
    assert limits_problems(limits) == []
    assert jsonschema.Draft202012Validator(dsl_json_schema_for("WORKFLOW")).is_valid(_workflow(limits))
