"""Histories recorded by earlier builds replay against today's workflow code (issue 20).

Three sets, each of closed runs on the real services (worker/tests/histories/README.md):
- `histories/*.json`, recorded with the build before the workflow was split into state kinds (base 121bc5e): a
  PARALLEL state carried over continue-as-new, a MAP over several batches, a screen that escalates and times out,
  ON_EVENT waits with a timeout (arrived and expired), SYNC and ASYNC CHILD calls, a disconnected node and a
  terminate during a SYNC child. They predate segments and pinned starts: they prove the unpatched paths.
- `histories/kinds/`, the same flows recorded with the kinds split (worker/kinds), plus a segment of pure nodes
  a start the API pinned, and `segments_1` (segments that end before a screen and before a wait, which
  segments-2 extends over them): they prove the paths behind the patches `segments-1` and `pinned-start-1`.
- `histories/segments-2/`, the same flows recorded with segments-2 (a segment may end with a node that suspends the
  run), the segment closers under `segment_closers`: the paths behind all three patches.
- `histories/engine-2/`, `histories/engine-3/` and `histories/engine-4/`, recorded at engine levels 2, 3 and 4
  (worker/versions.py); from level 3 with `remote_segment` (an HTTP node as a local activity leading a segment,
  and one with a long timeout as a regular activity), at level 4 with `run_end` (the run's end stored by the
  segment that leads to it, and an end whose digest does not match).
Any change to the order of the workflow's commands fails `test_recorded_histories_replay`: such a change needs
`workflow.patched`.

The payloads are stored decrypted (`worker.replay.save_history`), so the files replay without a Temporal server
and whatever DRIFT_PAYLOAD_KEYS says. To record a new set (only when a change is *meant* to be incompatible and
is patched), with the real services: `.venv/bin/pytest worker/tests/record_histories.py` (named outside
`test_*.py`, so only an explicit run records).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from temporalio.client import WorkflowHistory

from drift.temporal import run_async
from worker.engine import END_DIFFERS
from worker.kinds.segment import CLOSERS_PATCH as SEGMENT_CLOSERS
from worker.kinds.segment import PATCH as SEGMENTS
from worker.replay import load_history_files, replay_histories
from worker.tests.reordered import ReorderedWorkflow
from worker.versions import ENGINE_PATCHES
from worker.workflows import PINNED_START

HISTORIES = Path(__file__).parent / "histories"
FLOWS = ("parallel_handover", "map_batches", "screen_escalation", "event_timeout", "child_sync_async",
         "disconnected", "terminate_in_child")
SETS = {
    "before-kinds": (HISTORIES, FLOWS),
    "kinds": (HISTORIES / "kinds", (*FLOWS, "segment", "pinned_start", "segments_1")),
    "segments-2": (HISTORIES / "segments-2", (*FLOWS, "segment", "pinned_start", "segment_closers")),
    "engine-2": (HISTORIES / "engine-2", (*FLOWS, "segment", "pinned_start", "segment_closers")),
    "engine-3": (HISTORIES / "engine-3", (*FLOWS, "segment", "pinned_start", "segment_closers", "remote_segment")),
    "engine-4": (HISTORIES / "engine-4", (*FLOWS, "segment", "pinned_start", "segment_closers", "remote_segment",
                                          "run_end")),
}
by_set = pytest.mark.parametrize(("folder", "flows"), SETS.values(), ids=SETS.keys())


def _patches(histories: list[WorkflowHistory]) -> set[str]:
    """The ids of the `workflow.patched` markers the histories recorded."""
    return {json.loads(event.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
            for history in histories for event in history.events
            if event.marker_recorded_event_attributes.marker_name == "core_patch"}


@by_set
def test_every_flow_has_fixtures(folder: Path, flows: tuple[str, ...]):
    saved = {path.name.split(".")[0] for path in folder.glob("*.json")}
    assert saved == set(flows)


def test_each_set_takes_the_patched_paths_of_its_build():
    assert _patches(load_history_files([HISTORIES])) == set()
    assert _patches(load_history_files([HISTORIES / "kinds"])) == {SEGMENTS, PINNED_START}
    assert _patches(load_history_files([HISTORIES / "segments-2"])) == {SEGMENTS, PINNED_START, SEGMENT_CLOSERS}
    assert _patches(load_history_files([HISTORIES / "engine-2"])) == {ENGINE_PATCHES[2]}  # one, at the run's start
    assert _patches(load_history_files([HISTORIES / "engine-3"])) == {ENGINE_PATCHES[3]}
    # and where a segment's stored end differed from the run's (run_end.03: its digest forced to differ)
    differed = _patches(load_history_files([HISTORIES / "engine-4"])) - {ENGINE_PATCHES[4]}
    assert len(differed) == 1 and next(iter(differed)).startswith(f"{END_DIFFERS}-"), differed


@by_set
def test_recorded_histories_replay_without_a_server(folder: Path, flows: tuple[str, ...]):
    histories = load_history_files([folder])
    report = run_async(replay_histories(histories))
    assert len(report.outcomes) == len(histories) >= len(flows)
    assert report.ok, [(outcome.workflow_id, outcome.error) for outcome in report.failures]


@by_set
def test_the_fixtures_catch_a_changed_command_order(folder: Path, flows: tuple[str, ...]):
    histories = [h for h in load_history_files([folder]) if ".batch" not in h.workflow_id]
    report = run_async(replay_histories(histories, workflow_class=ReorderedWorkflow))
    assert len(report.failures) == len(histories) and all(f.nondeterminism for f in report.failures)


def test_manage_py_replay_takes_the_fixture_directories(db):
    out = io.StringIO()
    folders = [folder for folder, _ in SETS.values()]
    call_command("replay", *(f"--history={folder}" for folder in folders), stdout=out)
    assert f"{sum(len(list(folder.glob('*.json'))) for folder in folders)} replayed, 0 failed" in out.getvalue()
