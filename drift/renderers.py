"""The API's JSON renderer: never a 500 for data stored before the strict parser refused it.

DRF renders non-ASCII as UTF-8; a lone surrogate cannot be encoded so, and the answer would be a 500 on
every read of the row that holds it. Such a document is rendered with \\u escapes instead (valid JSON).
"""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return json.dumps(data, cls=self.encoder_class, ensure_ascii=True, allow_nan=False).encode("ascii")
