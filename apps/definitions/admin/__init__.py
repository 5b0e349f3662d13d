"""Admin of definitions (spec §6): the node and workflow definition pages with their builder (`definitions`),
their version, diff and import pages (`pages`), the pictures of a workflow (`pictures`), routes, the enum store
and the audit trail. Apps above extend the definition pages through drift.admin's extension points
(apps/trials/admin.py)."""

from apps.definitions.admin import audit, definitions, enums, routes  # noqa: F401 - each module registers its admin
