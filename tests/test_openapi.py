"""The OpenAPI document is complete enough to generate a working client (issue 16 item 5):
every ``$ref`` resolves, public operations need no token, closed vocabularies are enums
taken from the domain's own tables."""
from __future__ import annotations

import pytest

from api.auth import HTTP_METHODS, PUBLIC_BLUEPRINTS
from workflow.accounts import ACCOUNT_KINDS, ACCOUNT_STATUSES
from workflow.complaints import CHANNELS, COMPLAINT_STATUSES, PUBLIC_STATUSES
from workflow.monitoring.models import (
    EXCEPTIONS,
    METHODS,
    PAYEE_KINDS,
    PAYMENT_STATUSES,
    SETTLEMENTS,
    WARNING_LEVELS,
    WARNING_STATUSES,
)
from workflow.parties import ORG_KINDS


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def _resolve(spec, pointer):
    assert pointer.startswith("#/"), f"{pointer}: only local references"
    node = spec
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{pointer} does not resolve"
        node = node[part]
    return node


def _refs(node, where="#"):
    if isinstance(node, dict):
        if "$ref" in node:
            yield where, node["$ref"]
        for key, value in node.items():
            yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{where}/{index}")


def test_issue16_every_reference_in_the_document_resolves(spec):
    refs = list(_refs(spec))
    assert any(ref == "#/components/schemas/SettlementLine" for _, ref in refs)
    unresolved = []
    for where, ref in refs:
        try:
            _resolve(spec, ref)
        except AssertionError:
            unresolved.append(f"{where} -> {ref}")
    assert unresolved == []


def test_issue16_public_operations_need_no_token_and_the_others_do(app, spec):
    from api.auth import _is_public

    assert spec["security"] == [{"bearer": []}]
    public, checked = set(), 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS:
            continue
        path = rule.rule
        for converter in rule.arguments:
            path = path.replace(f"<int:{converter}>", f"{{{converter}}}").replace(f"<{converter}>", f"{{{converter}}}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path][method.lower()]
            with app.test_request_context(rule.rule, method=method):
                is_public = _is_public(rule.endpoint)
            checked += 1
            if is_public:
                public.add(f"{method} {path}")
                assert operation.get("security") == [], f"{method} {path} is public but documented with a token"
            else:
                assert "security" not in operation, f"{method} {path} needs a token but says otherwise"
    assert public == {"GET /api/v1/health", "POST /api/v1/complaints", "GET /api/v1/complaints/form",
                      "POST /api/v1/complaints/status"}  # Art. 20: the form, the report, the receipt's look-up
    assert checked == sum(1 for item in spec["paths"].values() for method in item if method in HTTP_METHODS)


def _property(spec, schema, name):
    return spec["components"]["schemas"][schema]["properties"][name]


@pytest.mark.parametrize("schema,field,values", [
    ("Payment", "settlement", SETTLEMENTS),
    ("Payment", "method", METHODS),
    ("Payment", "payee_kind", PAYEE_KINDS),
    ("Payment", "exception", (*EXCEPTIONS, None)),
    ("Payment", "status", PAYMENT_STATUSES),
    ("PaymentWarning", "level", WARNING_LEVELS),
    ("PaymentWarning", "status", WARNING_STATUSES),
    ("Screened", "status", PAYMENT_STATUSES),
    ("Warning", "level", WARNING_LEVELS),
    ("Warning", "status", WARNING_STATUSES),
    ("WarningPayment", "settlement", SETTLEMENTS),
    ("Rule", "level", WARNING_LEVELS),
    ("Account", "kind", ACCOUNT_KINDS),
    ("Account", "status", ACCOUNT_STATUSES),
    ("Org", "kind", ORG_KINDS),
    ("ComplaintFinance", "status", COMPLAINT_STATUSES),
    ("ComplaintReceipt", "status", PUBLIC_STATUSES),
    ("ComplaintPublicStatus", "status", PUBLIC_STATUSES),
    ("ComplaintFinance", "channel", CHANNELS),
    ("BankReport", "payment_status", PAYMENT_STATUSES),
])
def test_issue16_closed_vocabularies_are_enums_from_the_domain(spec, schema, field, values):
    assert _property(spec, schema, field)["enum"] == list(values)


def test_issue16_the_other_closed_choices_are_enums_too(spec):
    for schema, field in [("Case", "machine"), ("Case", "state"), ("Case", "rung"), ("Case", "resolution"),
                          ("CaseCreate", "rung"), ("Step", "kind"), ("Response", "kind"), ("Response", "org_kind"),
                          ("Document", "kind"), ("Evidence", "file_type"), ("Evidence", "content_type"),
                          ("SettlementAnswer", "outcome"), ("Finding", "code"), ("JournalParty", "kind"),
                          ("OutboxMessage", "status"), ("Org", "level"), ("OrgRef", "kind"), ("Rule", "name"),
                          ("Warning", "rule"), ("PaymentWarning", "rule"), ("Event", "trigger"), ("Event", "from"),
                          ("Event", "to"), ("JournalEntry", "action")]:
        assert _property(spec, schema, field).get("enum"), f"{schema}.{field} has no enum"
