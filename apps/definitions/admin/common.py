"""What every definitions admin page shares: the JSON editor's stylesheet, the acting user, errors as messages.

Every write goes through apps.definitions.services with the admin username as the actor."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest

from drift.errors import DriftError

ADMIN_MEDIA_CSS = "definitions/json_editor.css"


def actor_of(request: HttpRequest) -> str:
    return request.user.get_username()


def report_error(request: HttpRequest, exc: DriftError) -> None:
    messages.error(request, exc.message)
    for problem in exc.details:
        messages.error(request, f"{problem.path}: {problem.problem}")

