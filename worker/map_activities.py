"""Activities of MAP batches (worker/workflows.py, DriftMapBatch): the Run rows of their items, in bulk.

`no_thread_cancel_exception`: a timed-out or cancelled attempt must not get an exception raised inside its
thread, which could land inside a transaction and leave the thread's connection holding SQLite's write lock
(every other writer then waits forever). The attempt finishes; a retry finds its rows and keeps them."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from apps.runs.contract import ACTIVITY_END_UNSTARTED_MAP_ITEMS, ACTIVITY_REGISTER_MAP_ITEMS, MapBatch
from apps.runs.services import map_items_end_unstarted, map_items_register
from worker.activities import _with_db


@activity.defn(name=ACTIVITY_REGISTER_MAP_ITEMS, no_thread_cancel_exception=True)
@_with_db
def register_map_items(batch: MapBatch) -> None:
    map_items_register(batch)


@activity.defn(name=ACTIVITY_END_UNSTARTED_MAP_ITEMS, no_thread_cancel_exception=True)
@_with_db
def end_unstarted_map_items(request: dict[str, Any]) -> None:
    map_items_end_unstarted(tenant=request["tenant"], workflow_ids=request["workflowIds"], reason=request["reason"])


MAP_ACTIVITIES = [register_map_items, end_unstarted_map_items]
