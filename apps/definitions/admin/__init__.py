"""Admin of definitions."""

from apps.definitions.admin import definitions  # noqa: F401 - registers the admins
