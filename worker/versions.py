"""The engine level of a run: which behaviours it takes, asked once where the run starts.

Each behaviour change that alters the commands a run issues is patched, so that runs begun before it replay as
recorded. Asking `workflow.patched` for an id the history does not hold yet records a marker, and Core adds a
`TemporalChangeVersion` search-attribute upsert in that workflow task (a history event and a visibility write on
the Temporal server). So a run asks one patch per engine level, before its first command, newest first, and takes
every behaviour up to that level without asking their own patches:
- level 2 (`engine-2`): the pinned start ("pinned-start-1", worker/workflows.py), segments ("segments-1") and
  their closing nodes ("segments-2", worker/kinds/segment.py); the RUNNING state after a resume stored by the next
  local activity (worker/engine.py, `Engine.running`);
- level 3 (`engine-3`): a short remote node (HTTP; `timeoutSeconds` within the run's `localNodeSeconds` limit)
  runs as a local activity, and may lead a segment (worker/kinds/node.py, worker/kinds/segment.py).
- level 4 (`engine-4`): a segment whose nodes lead to the run's end stores that end in its own activity, and
  the final persist is not a local activity of its own when the stored end is the run's (worker/run_end.py).
A run begun by an older build finds only its own level's marker (or none: level 0, which asks the older patches
where it did). Replaying, `workflow.patched` of an id the history does not hold answers False and records
nothing, so asking the newer ids first is safe. The decision is the worker's, recorded in history, so workers of
two builds side by side during a deploy stay safe.
"""

from __future__ import annotations

from temporalio import workflow

ENGINE_PATCHES = {4: "engine-4", 3: "engine-3", 2: "engine-2"}  # newest first
ENGINE_PATCH = ENGINE_PATCHES[4]
CURRENT = 4


def level() -> int:
    """The run's engine level: CURRENT for a run begun by this build, an older one for a run begun before it."""
    for engine_level, patch in ENGINE_PATCHES.items():
        if workflow.patched(patch):
            return engine_level
    return 0
