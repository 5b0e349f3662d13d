"""One JSON error format for every API response: {"error", "message", "details": [{"path", "problem"}]}."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from temporalio.service import RPCError, RPCStatusCode

from core.problems import Problem
from drift.db import the_row

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

M = TypeVar("M", bound="Model")


class DriftError(Exception):
    """Base of the errors the services raise; views never build error responses by hand."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "BAD_REQUEST"

    def __init__(self, message: str, details: list[Problem] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.extra = extra


class InvalidInput(DriftError):
    code = "INVALID"


class NotFound(DriftError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "NOT_FOUND"


def first_or_not_found(queryset: "QuerySet[M]", message: str) -> M:
    """The row of a lookup by a unique key (`the_row`), else NotFound(message): the selectors' lookups of one of
    the tenant's rows."""
    found = the_row(queryset)
    if found is None:
        raise NotFound(message)
    return found


class Conflict(DriftError):
    status_code = status.HTTP_409_CONFLICT
    code = "CONFLICT"


class Forbidden(DriftError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "FORBIDDEN"


class ServiceUnavailable(DriftError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "UNAVAILABLE"
    retry_after_seconds = 5


class TooManyRequests(DriftError):
    """A start over a workflow's `limits` with `overflow: REJECT` (apps/runs/admission.py)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass
class ErrorBody:
    error: str
    message: str
    details: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "details": self.details}


def _flatten_drf_detail(detail: Any, path: str = "$") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            sub = path if key == "non_field_errors" else f"{path}.{key}"
            out += _flatten_drf_detail(value, sub)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"path": path, "problem": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out += _flatten_drf_detail(item, f"{path}[{index}]")
        return out
    return [{"path": path, "problem": str(detail)}]


_DRF_CODES = {
    exceptions.ParseError: "MALFORMED",
    exceptions.NotAuthenticated: "UNAUTHENTICATED",
    exceptions.AuthenticationFailed: "UNAUTHENTICATED",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "THROTTLED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
}


# Temporal answers these while it is down or overloaded; the lazy client raises RuntimeError
# ("Failed client connect: ...") while it cannot connect at all.
_UNREACHABLE_RPC = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                              RPCStatusCode.RESOURCE_EXHAUSTED})


def unavailable_error(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for an infrastructure failure (Temporal or the database unreachable), else None."""
    if isinstance(exc, RPCError) and exc.status in _UNREACHABLE_RPC:
        return ServiceUnavailable("The workflow engine is unreachable; retry later.")
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return ServiceUnavailable("The workflow engine is unreachable; retry later.")
    if isinstance(exc, OperationalError | InterfaceError):
        return ServiceUnavailable("The database is unreachable; retry later.")
    return None


def error_response(exc: Exception) -> Response | None:
    """Map an exception to the JSON error response, or None for unexpected errors."""
    exc = unavailable_error(exc) or exc
    if isinstance(exc, DriftError):
        body = ErrorBody(exc.code, exc.message, [p.as_dict() for p in exc.details])
        response = Response(body.as_dict() | exc.extra, status=exc.status_code)
        if isinstance(exc, ServiceUnavailable | TooManyRequests):
            response["Retry-After"] = str(exc.retry_after_seconds)
        return response
    if isinstance(exc, RequestDataTooBig):  # Django's own body limit, hit before the JSON parser's
        body = ErrorBody("TOO_LARGE", "The request body exceeds the allowed size.").as_dict()
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten_drf_detail(exc.detail)
        return Response(ErrorBody("INVALID", "The request is invalid.", details).as_dict(), status=400)
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "BAD_REQUEST")
        response = Response(ErrorBody(code, str(exc.detail)).as_dict(), status=exc.status_code)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response.status_code = 401
            response["WWW-Authenticate"] = "Api-Key"
        return response
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    return error_response(exc)


def json_error_view(status_code: int, code: str, message: str):
    def view(request, exception=None):  # noqa: ARG001 - Django handler signature
        return JsonResponse(ErrorBody(code, message).as_dict(), status=status_code)

    return view
