"""The engine level of a run: which behaviours it takes, asked once where the run starts.

Each behaviour change that alters the commands a run issues is patched, so that runs begun before it replay as
recorded. Asking `workflow.patched` for an id the history does not hold yet records a marker, and Core adds a
`TemporalChangeVersion` search-attribute upsert in that workflow task (a history event and a visibility write on
the Temporal server). The sample paid three markers and two upserts per run for the behaviours of issue 26, asked
where each one first applied. A run now asks one patch, `engine-2`, before its first command; with it, it takes
every behaviour of level 2 without asking their own patches:
- the pinned start ("pinned-start-1", worker/workflows.py), segments ("segments-1") and their closing nodes
  ("segments-2", worker/kinds/segment.py);
- the RUNNING state after a resume stored by the next local activity (worker/engine.py, `Engine.running`).
A run whose history lacks the marker (begun before it, on any worker) asks the older patches where it did. The
decision is the worker's, recorded in history, so workers of two builds side by side during a deploy stay safe.
"""

from __future__ import annotations

from temporalio import workflow

ENGINE_PATCH = "engine-2"
CURRENT = 2


def level() -> int:
    """The run's engine level: CURRENT for a run begun by this build, 0 for one begun before `engine-2`."""
    return CURRENT if workflow.patched(ENGINE_PATCH) else 0
