"""Admin of run operations: bulk jobs, schedules, and what they add to the run admin (rerun, redrive, bulk)."""

from apps.operations.admin import bulk, runs, schedules  # noqa: F401 - each module registers its admin
