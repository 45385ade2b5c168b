"""Issue 16 item 8: property-based requests over every operation of the OpenAPI document
(schemathesis, in process against the WSGI app, no server). Each generated request is sent
as finance, as a unit and with no token; no answer may be a 5xx, and every answer must match
what the document says of it (status, content type, body).

Bounded for ``make test`` and CI: a fixed number of examples per operation, derandomized (the
same requests on every run), no deadline. To hunt for more, run it broadly by hand, e.g.
``FUNDWATCH_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest tests/test_api_fuzz.py``.
"""
from __future__ import annotations

import os
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from api import api, create_app

EXAMPLES = int(os.environ.get("FUNDWATCH_FUZZ_EXAMPLES", "20"))
PARTIES = ("finance", "unit", None)  # None: no token


def _document() -> dict:
    """The OpenAPI document as the app serves it; building it touches no database."""
    with tempfile.TemporaryDirectory() as folder:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "FUNDWATCH_UPLOAD_DIR": folder})
        return api.spec.to_dict()


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_is_a_5xx_and_every_answer_matches_the_document(case, app, demo):
    for party in PARTIES:
        headers = {"Authorization": f"Bearer {demo.tokens[party]}"} if party else {}
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=[not_a_server_error])
        case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])
