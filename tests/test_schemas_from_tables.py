"""Issue 9 item 2: marshmallow validates what the tables declare. One schema per table row
(case trigger, document kind, rule), generated from the declared fields, both loads the input
and is the row's component in the OpenAPI document; money is one field, a string with a pattern
wherever it appears; closed vocabularies (the journal's actions too) are enums."""
from __future__ import annotations

import marshmallow as ma
import pytest

from api import api
from tests.cases_support import act, open_case, state_of
from workflow.db import MONEY_PATTERN
from workflow.journal import ACTIONS, STREAM_ACTIONS, record
from workflow.machines import MACHINES
from workflow.monitoring.rules import RULES
from workflow.parties import Actor
from workflow.schemas import Money


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def _component(spec, ref_or_name: str) -> dict:
    return spec["components"]["schemas"][ref_or_name.rsplit("/", 1)[-1]]


def test_issue9_each_triggers_body_is_a_component_listing_its_fields_required_ones_and_enums(spec):
    body = spec["paths"]["/api/v1/cases/{case_id}/actions/{trigger}"]["post"]["requestBody"]
    refs = [s["$ref"] for s in body["content"]["application/json"]["schema"]["anyOf"]]
    order = _component(spec, "unit_case.issue_order")
    assert "#/components/schemas/unit_case.issue_order" in refs
    assert set(order["properties"]) == {"grounds", "requirements", "note", "deadline_days", "version"}
    assert order["required"] == ["grounds", "version"]
    assert order["properties"]["grounds"]["enum"] == list(
        MACHINES["unit_case"].fields_of("issue_order")[0].choice_values)
    assert order["properties"]["deadline_days"] == {**order["properties"]["deadline_days"],
                                                     "type": "integer", "minimum": 1, "maximum": 366}
    assert order["additionalProperties"] is False
    decision = _component(spec, "unit_case.issue_decision")
    assert decision["properties"]["measures"]["type"] == "array"
    assert decision["properties"]["measures"]["items"]["enum"]
    termination = _component(spec, "bank_case.terminate_agreement")
    assert termination["properties"]["effective_date"]["format"] == "date"
    # Every trigger of every machine has its component, openings included (CaseCreate.fields).
    names = {f"{m.name}.{t}" for m in MACHINES.values() for t in m.by_trigger}
    assert names <= set(spec["components"]["schemas"])
    opening_refs = [s["$ref"] for s in _component(spec, "CaseCreate")["properties"]["fields"]["anyOf"]]
    assert _component(spec, opening_refs[0])["required"] == ["summary"]


def test_issue9_each_rules_parameters_and_changes_are_documented_from_its_declaration(spec):
    change = _component(spec, "RuleSetChange")["properties"]["rules"]["properties"]
    assert set(change) == {rule.name for rule in RULES}
    cash = _component(spec, change["cash_over_limit"]["$ref"])
    assert set(cash["properties"]) == {"limit", "enabled", "level"}
    assert cash["properties"]["level"]["enum"] == ["block", "warn", "remind"]
    assert cash["additionalProperties"] is False
    transfer = _component(spec, change["real_fund_transfer"]["$ref"])
    assert transfer["properties"]["payer_kinds"]["items"]["enum"]


def _money_fields(schema_cls) -> list[str]:
    return [name for name, field in schema_cls._declared_fields.items() if isinstance(field, Money)]


def test_issue9_money_is_a_string_with_a_pattern_everywhere_in_the_document(app, spec):
    checked = []
    for key, name in api.ma_plugin.converter.refs.items():
        schema_cls = key[0]
        for field in _money_fields(schema_cls):
            prop = spec["components"]["schemas"][name]["properties"][field]
            assert prop["type"] == "string" and prop["pattern"] == MONEY_PATTERN, f"{name}.{field}: {prop}"
            checked.append(f"{name}.{field}")
    # The tables' money fields are among them: actions, openings, rules, and the API's own schemas.
    assert {"bank_case.criticise_and_deduct_fee.fee_deduction", "unit_case.open_decision.amount",
            "RuleChange.cash_over_limit.limit", "Indicator.amount", "Payment.amount"} <= set(checked)

    # And every amount anywhere in the document (request bodies, query parameters) is typed as one.
    def amounts(node, where):
        if isinstance(node, dict):
            if node.get("example") == "1500.00" or node.get("pattern") == MONEY_PATTERN:
                yield where, node
            for key, value in node.items():
                yield from amounts(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from amounts(value, f"{where}/{index}")

    found = list(amounts(spec, "#"))
    assert len(found) >= len(checked)
    for where, node in found:
        assert node.get("type") == "string" and node.get("pattern") == MONEY_PATTERN, where


def test_issue9_the_journals_actions_are_a_closed_vocabulary_in_the_document(spec):
    assert _component(spec, "JournalEntry")["properties"]["action"]["enum"] == list(ACTIONS)
    assert set(ACTIONS) == {a for actions in STREAM_ACTIONS.values() for a in actions}


def test_issue9_a_journal_action_outside_the_vocabulary_is_refused(app):
    with pytest.raises(ValueError, match="not an action of payment:1"):
        record(Actor.system(), "payment:1", "deleted", {})


def test_issue9_an_unknown_field_in_an_action_body_is_422_naming_it(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_city_finance, case_id, "issue_order", grounds="refused_decision", colour="red")
    assert response.status_code == 422
    assert response.json["errors"] == {"colour": ["unknown field for this action"]}
    assert state_of(case_id) == "warning"


@pytest.mark.parametrize("amount", ["1,200.00", "12.345", "1e3", 1500.5, True, "-1.00", "１２３"])
def test_issue9_a_bad_money_value_is_422_naming_the_field(as_city_finance, amount):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    response = act(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="false_rectification",
                   fee_deduction=amount)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["fee_deduction"]


def test_issue9_a_bad_money_value_in_a_rule_change_is_422_naming_the_parameter(as_finance):
    response = as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"limit": 1000.5}}})
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["rules.cash_over_limit.limit"]
    response = as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"limit": "1200"}}})
    assert response.status_code == 202  # a draft (issue 12: a second officer publishes it)
    assert response.json["changes"]["rules"]["cash_over_limit"]["limit"] == "1200.00"


def test_issue9_the_engine_loads_with_the_schema_the_document_shows():
    for machine in MACHINES.values():
        for trigger, schema in machine.schemas.items():
            assert issubclass(schema, ma.Schema)
            assert list(schema._declared_fields) == [f.name for f in machine.fields_of(trigger)]
            assert schema.Meta.unknown == ma.RAISE
