"""Histories recorded by an earlier build replay against today's workflow code (issue 20).

`worker/tests/histories/` holds histories of closed runs recorded with the build before the workflow was split
into state kinds (base 121bc5e): a PARALLEL state carried over continue-as-new, a MAP over several batches, a
screen that escalates and times out, ON_EVENT waits with a timeout (arrived and expired), SYNC and ASYNC CHILD
calls, a disconnected node and a terminate during a SYNC child; and `segments_1`, recorded with segments-1 (issue
26) before segments-2: segments that end before a screen and before a wait. Any change to the order of the workflow's
commands fails `test_recorded_histories_replay`: such a change needs `workflow.patched`.

The payloads are stored decrypted (`worker.replay.save_history`), so the files replay without a Temporal server
and whatever DRIFT_PAYLOAD_KEYS says. To record them again (only when a change is *meant* to be incompatible and
is patched), with the real services: `.venv/bin/pytest worker/tests/record_histories.py` (named outside
`test_*.py`, so only an explicit run records).
"""

from __future__ import annotations

import io
from pathlib import Path

from django.core.management import call_command

from drift.temporal import run_async
from worker.replay import load_history_files, replay_histories
from worker.tests.reordered import ReorderedWorkflow

HISTORIES = Path(__file__).parent / "histories"
FLOWS = ("parallel_handover", "map_batches", "screen_escalation", "event_timeout", "child_sync_async",
         "disconnected", "terminate_in_child", "segments_1")

def test_every_flow_has_fixtures():
    saved = {path.name.split(".")[0] for path in HISTORIES.glob("*.json")}
    assert saved == set(FLOWS)


def test_recorded_histories_replay_without_a_server():
    histories = load_history_files([HISTORIES])
    report = run_async(replay_histories(histories))
    assert len(report.outcomes) == len(histories) >= len(FLOWS)
    assert report.ok, [(outcome.workflow_id, outcome.error) for outcome in report.failures]


def test_the_fixtures_catch_a_changed_command_order():
    histories = [h for h in load_history_files([HISTORIES]) if ".batch" not in h.workflow_id]
    report = run_async(replay_histories(histories, workflow_class=ReorderedWorkflow))
    assert len(report.failures) == len(histories) and all(f.nondeterminism for f in report.failures)


def test_manage_py_replay_takes_the_fixture_directory(db):
    out = io.StringIO()
    call_command("replay", "--history", str(HISTORIES), stdout=out)
    assert f"{len(list(HISTORIES.glob('*.json')))} replayed, 0 failed" in out.getvalue()
