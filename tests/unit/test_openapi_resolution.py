"""The OpenAPI document describes the resolution routes, and every reference in it resolves."""

from __future__ import annotations

import json

from shared.api_models import openapi_document
from shared.api_models_resolution import extend_openapi


def test_the_resolution_routes_are_documented_and_every_ref_resolves():
    doc = extend_openapi(openapi_document("http://127.0.0.1:8080/api"))
    for path in ("/incidents/{incident_id}/timeline", "/incidents/{incident_id}/notes",
                 "/incidents/{incident_id}/changes", "/incidents/{incident_id}/review", "/rcas", "/rcas/import",
                 "/rcas/{rca_id}", "/rcas/{rca_id}.md", "/metrics", "/digest"):
        assert path in doc["paths"], path
    assert set(doc["paths"]["/rcas/{rca_id}"]) == {"get", "patch"}
    refs = {part.split('"')[0] for part in json.dumps(doc).split('"$ref": "#/components/schemas/')[1:]}
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
    schemas = set(doc["components"]["schemas"])
    assert {"Rca", "RcaPatch", "TimelinePage", "MetricsReport", "PreventionMeasure"} <= schemas
