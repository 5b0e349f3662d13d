"""A JSON parser that enforces DATA_UPLOAD_MAX_MEMORY_SIZE (DRF streams bodies past Django's check)
and turns pathological documents into 400s instead of 500s."""

import io

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from drift.errors import DriftError, InvalidInput, Problem


class PayloadTooLarge(DriftError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "TOO_LARGE"


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
            if b"\\u" in raw:  # only an escape can smuggle in a lone surrogate
                _refuse_lone_surrogates(data, "$")
        except RecursionError as exc:  # json's C decoder on absurdly deep nesting
            raise ParseError("JSON parse error - nested too deeply.") from exc
        return data


def _refuse_lone_surrogates(value, path: str) -> None:
    """A lone surrogate ("\\ud800") is valid JSON but no valid text: stored, it would break every later answer."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput("The body holds a lone surrogate, which is not text.",
                               [Problem(path, "contains a lone surrogate")]) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_lone_surrogates(key, path)
            _refuse_lone_surrogates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_lone_surrogates(item, f"{path}[{index}]")
