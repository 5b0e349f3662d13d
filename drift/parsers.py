"""The API's JSON parser (DRF's default here, settings.REST_FRAMEWORK): bounded and strict.

Bounded: DATA_UPLOAD_MAX_MEMORY_SIZE holds for every body (DRF streams bodies past Django's own check).
Strict: NaN, Infinity, numbers that overflow to infinity, lone surrogates and nesting deeper than
DRIFT_MAX_JSON_DEPTH are refused with 400 and the JSON path of the offending value, so none of them can
reach a run, a definition or the enum store (see core/json_safety.py).
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.problems import Problem
from drift.errors import DriftError, InvalidInput
from drift.json_input import refuse_unsafe_json


class PayloadTooLarge(DriftError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "TOO_LARGE"


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = (stream.read() if limit is None else stream.read(limit + 1)) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            # NaN/Infinity tokens and 1e999 come out as floats that the walk below reports with their path.
            data = json.loads(raw.decode(self._encoding(parser_context)))
        except RecursionError as exc:  # json's C decoder on absurdly deep nesting
            raise InvalidInput("The body is nested too deeply.",
                               [Problem("$", f"is nested deeper than {settings.DRIFT_MAX_JSON_DEPTH} levels")]) from exc
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from exc
        refuse_unsafe_json(data)
        return data

    @staticmethod
    def _encoding(parser_context: dict | None) -> str:
        return (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
