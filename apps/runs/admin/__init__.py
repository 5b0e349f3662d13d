"""Admin of runs: the run page (`runs`, its `timeline`) and webhook deliveries (`webhooks`). Apps above extend
the run page through drift.admin's extension points (apps/operations/admin, apps/trials/admin.py)."""

from apps.runs.admin import runs, webhooks  # noqa: F401 - each module registers its admin
