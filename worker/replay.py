"""Replay: run closed runs' histories against the current workflow code and report nondeterminism.

Used by `manage.py replay` (and CI) before a worker change ships: a history that no longer replays means
the new code would break the runs that are open when it is deployed. Always sandboxed, whatever
DRIFT_WORKFLOW_SANDBOX says: the sandbox is what catches nondeterministic calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from apps.runs.contract import MAP_BATCH_WORKFLOW, WORKFLOW_NAME
from drift.codec import data_converter
from worker.main import sandboxed_workflow_runner
from worker.workflows import DriftMapBatch, DriftWorkflow

# Runs and the batch workflows of their MAP states.
CLOSED_RUNS_QUERY = (f"(WorkflowType = '{WORKFLOW_NAME}' OR WorkflowType = '{MAP_BATCH_WORKFLOW}') "
                     "AND ExecutionStatus != 'Running'")


# A MAP item's run: <parent>.<state>.<12-hex nonce>.<item index> (worker/workflows.py, DriftWorkflow._map).
MAP_ITEM_ID = re.compile(r"^.+\.[0-9a-f]{12}\.(?P<index>\d+)$")
REPLAYED_ITEMS_PER_MAP = 20


@dataclass(frozen=True)
class ReplayOutcome:
    workflow_id: str
    run_id: str
    error: str = ""
    nondeterminism: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class ReplayReport:
    outcomes: list[ReplayOutcome] = field(default_factory=list)

    @property
    def failures(self) -> list[ReplayOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def ok(self) -> bool:
        return not self.failures


def closed_runs_query(extra: str | None = None) -> str:
    return f"{CLOSED_RUNS_QUERY} AND ({extra})" if extra else CLOSED_RUNS_QUERY


async def fetch_closed_histories(
    client: Client, *, query: str | None = None, limit: int | None = None, workflow_ids: Iterable[str] = ()
) -> list[WorkflowHistory]:
    """Histories of the latest run of each id in `workflow_ids`; without ids (or with a `query`), also of the
    closed DriftWorkflow runs the visibility query finds (`query` narrows it), at most `limit` of those."""
    workflow_ids = list(workflow_ids)
    histories = [await client.get_workflow_handle(workflow_id).fetch_history() for workflow_id in workflow_ids]
    if query or not workflow_ids:
        async for execution in client.list_workflows(closed_runs_query(query), limit=limit):
            item = MAP_ITEM_ID.match(execution.id)
            if item and int(item["index"]) >= REPLAYED_ITEMS_PER_MAP:
                continue  # every item of a MAP runs the same iterator: a sample of each MAP is replayed
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            histories.append(await handle.fetch_history())
    return histories


def load_history_files(paths: Iterable[str | Path]) -> list[WorkflowHistory]:
    """Histories saved by `save_history` (a file, or every *.json under a directory), in name order."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    histories = []
    for file in files:
        saved = json.loads(file.read_text())
        histories.append(WorkflowHistory.from_json(saved["workflowId"], saved["history"]))
    return histories


def save_history(history: WorkflowHistory, path: Path) -> None:
    """Write `history` with every payload decrypted (drift/codec.py): the file replays with any payload key, or
    none, because the codec passes unencrypted payloads through."""
    codec = data_converter().payload_codec
    for event in history.events:
        _decode_payloads(event, codec)
    saved = {"workflowId": history.workflow_id, "history": json.loads(history.to_json())}
    path.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n")


def _decode_payloads(message: Message, codec: Any) -> None:
    """Decode, in place, every Payload anywhere inside `message` (events, failures, headers, memo)."""
    for descriptor, value in message.ListFields():
        target = descriptor.message_type
        if target is None:
            continue
        if target.GetOptions().map_entry:
            if target.fields_by_name["value"].message_type is None:
                continue
            children = list(value.values())
        else:
            children = [value] if isinstance(value, Message) else list(value)
        for child in children:
            if isinstance(child, Payload):
                child.CopyFrom(codec.decode_now([child])[0])
            else:
                _decode_payloads(child, codec)


async def replay_histories(
    histories: Iterable[WorkflowHistory], workflow_class: type = DriftWorkflow
) -> ReplayReport:
    """Replay every history against `workflow_class`; each failure is kept, none is raised."""
    replayer = Replayer(workflows=[workflow_class, DriftMapBatch], workflow_runner=sandboxed_workflow_runner(),
                        data_converter=data_converter())
    report = ReplayReport()
    async with replayer.workflow_replay_iterator(_aiter(histories)) as results:
        async for result in results:
            failure = result.replay_failure
            report.outcomes.append(ReplayOutcome(
                workflow_id=result.history.workflow_id, run_id=result.history.run_id,
                error=f"{type(failure).__name__}: {failure}" if failure else "",
                nondeterminism=isinstance(failure, NondeterminismError),
            ))
    return report


async def _aiter(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history
