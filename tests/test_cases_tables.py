"""The machines are declared once, as tables, and everything else is derived from them:
the table as JSON, the diagram, each case's allowed actions. One ``transitions``
machine serves every case of a kind; no case builds its own."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import transitions
from cases_support import act, act_ok, open_case

from workflow.machines import MACHINES, NEW
from workflow.machines.base import PARTY_KINDS

SVG = "{http://www.w3.org/2000/svg}"


def reachable_from(machine, start: str) -> set[str]:
    seen, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        for t in machine.transitions:
            if state in t.source and t.dest and t.dest not in seen:
                seen.add(t.dest)
                frontier.append(t.dest)
    return seen


@pytest.mark.parametrize("name", list(MACHINES))
def test_every_state_is_reachable_and_every_open_state_can_end(name):
    machine = MACHINES[name]
    assert reachable_from(machine, NEW) == set(machine.states)
    closed = {s for s, spec in machine.states.items() if spec.kind == "closed"}
    for state, spec in machine.states.items():
        if spec.is_open:
            assert reachable_from(machine, state) & closed, f"{name}: no way to close from {state}"


@pytest.mark.parametrize("name", list(MACHINES))
def test_every_row_names_its_parties_and_cites_articles_21_to_24(name):
    for t in MACHINES[name].transitions:
        assert set(t.roles) <= set(PARTY_KINDS), t.trigger
        assert 21 <= t.article.number <= 24, t.trigger
        assert t.article.chinese.startswith("第二十") and t.article.english.startswith("Art. 2")
        assert t.label


def test_each_rung_of_the_unit_ladder_rests_on_its_item_of_art21():
    states = MACHINES["unit_case"].states
    assert [(s, states[s].article.english) for s in ("warning", "decision", "order", "funds_suspended")] == [
        ("warning", "Art. 21(1)"), ("decision", "Art. 21(2)"), ("order", "Art. 21(3)"),
        ("funds_suspended", "Art. 21(4)")]
    assert states["warning"].article.chinese == "第二十一条（一）"


@pytest.mark.parametrize("path,name", [("unit-case", "unit_case"), ("bank-case", "bank_case")])
def test_the_table_is_served_as_json(as_unit, path, name):
    response = as_unit.get(f"/api/v1/workflow/{path}")
    assert response.status_code == 200
    body = response.get_json()
    machine = MACHINES[name]
    assert [s["name"] for s in body["states"]] == list(machine.states)
    assert len(body["transitions"]) == len(machine.transitions)
    for row, spec in zip(body["transitions"], machine.transitions):
        assert {"trigger", "source", "dest", "roles", "fields", "article"} <= set(row)
        assert (row["trigger"], row["source"], row["dest"], row["roles"]) == (
            spec.trigger, list(spec.source), spec.dest, list(spec.roles))
        assert [f["name"] for f in row["fields"]] == [f.name for f in spec.fields]


@pytest.mark.parametrize("path,name", [("unit-case", "unit_case"), ("bank_case", "bank_case")])
def test_the_diagram_is_drawn_from_the_table(as_unit, path, name):
    response = as_unit.get(f"/api/v1/workflow/{path}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    machine = MACHINES[name]
    nodes = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("class") == "state"}
    assert nodes == {f"state-{s}" for s in machine.states}
    labels = " ".join(t.text or "" for g in root.iter(f"{SVG}g") if g.get("class") == "edge"
                      for t in g.iter(f"{SVG}text"))
    internal = " ".join(t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "internal")
    for t in machine.transitions:
        assert t.trigger in (internal if t.internal else labels), t.trigger


def test_an_unknown_machine_is_not_found(as_unit):
    assert as_unit.get("/api/v1/workflow/parking-case").status_code == 404
    assert as_unit.get("/api/v1/workflow/parking-case.svg").status_code == 404


def test_listing_and_acting_build_no_machine_and_leave_none_attached(monkeypatch, as_city_finance, as_unit):
    built = []
    original = transitions.Machine.__init__

    def spy(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", spy)
    ids = [open_case(as_city_finance, "warning")["id"] for _ in range(3)]
    act_ok(as_city_finance, ids[0], "issue_order", grounds="not_corrected_in_time")
    assert act(as_unit, ids[1], "submit_rectification", report="x").status_code == 409  # no evidence
    page = as_unit.get("/api/v1/cases?limit=100").get_json()
    assert [c["allowed_actions"] for c in page["items"]] == [["submit_rectification", "appeal"],
                                                              ["submit_rectification"], ["submit_rectification"]]
    assert built == []
    assert all(machine._machine.models == [] for machine in MACHINES.values())


def test_each_actions_body_is_documented_from_its_rows_fields(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["paths"]["/api/v1/cases/{case_id}/actions/{trigger}"]["post"]["requestBody"]
    components = spec["components"]["schemas"]
    refs = [s["$ref"] for s in body["content"]["application/json"]["schema"]["anyOf"]]
    documented = {components[ref.rsplit("/", 1)[1]]["title"]: components[ref.rsplit("/", 1)[1]] for ref in refs}
    for machine in MACHINES.values():
        openings = {t.trigger for t in machine.openings.values()}
        for trigger in set(machine.by_trigger) - openings:
            schema = documented[f"{machine.name}.{trigger}"]
            fields = machine.fields_of(trigger)
            assert list(schema["properties"]) == [f.name for f in fields] + ["version"]
            assert schema["required"] == sorted(["version"] + [f.name for f in fields if f.required])
            assert schema["additionalProperties"] is False
