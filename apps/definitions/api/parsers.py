"""A JSON parser that enforces DATA_UPLOAD_MAX_MEMORY_SIZE (DRF streams bodies past Django's check)
and turns pathological documents into 400s instead of 500s."""

import io

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from drift.errors import DriftError


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
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError as exc:  # json's C decoder on absurdly deep nesting
            raise ParseError("JSON parse error - nested too deeply.") from exc
