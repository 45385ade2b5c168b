"""The verification step kinds are one table (Art. 11(二)): each row declares its fields as
``Field`` rows, its notice, whom it tells and whether it moves the warning; ``add_step`` has
no branch per kind."""
import inspect

from api.warnings import STEP_BODIES, StepCreateSchema
from workflow import verification
from workflow.machines.base import Field
from workflow.verification_steps import STEP_KINDS


def test_art11_2_every_step_kind_cites_its_point_of_art11_2():
    assert {name: k.article.chinese for name, k in STEP_KINDS.items()} == {
        "phone": "第十一条（二）1", "documents": "第十一条（二）2", "interview": "第十一条（二）3",
        "onsite": "第十一条（二）3", "focus_letter": "第十一条（二）4", "joint_investigation": "第十一条（二）5"}


def test_art11_2_the_step_fields_are_field_rows():
    for kind in STEP_KINDS.values():
        assert all(isinstance(f, Field) for f in kind.fields), kind.name
        assert kind.fields[-1].name == "notes" and not kind.fields[-1].required
    assert {n: k.required for n, k in STEP_KINDS.items()} == {
        "phone": ("summary",), "documents": ("documents", "due_date"), "interview": ("interview_at", "room"),
        "onsite": ("team",), "focus_letter": (), "joint_investigation": ("oversight_code",)}


def test_issue9_the_documented_step_body_is_generated_from_the_rows(client):
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/warnings/{warning_id}/steps"]["post"]["requestBody"]
    refs = [s["$ref"] for s in body["content"]["application/json"]["schema"]["anyOf"]]
    assert refs == [f"#/components/schemas/VerificationStep.{name}" for name in STEP_KINDS]
    assert set(StepCreateSchema().fields) == {"kind"}  # the API declares no step field itself
    for name, kind in STEP_KINDS.items():
        component = spec["components"]["schemas"][f"VerificationStep.{name}"]
        assert list(component["properties"]) == ["kind", *kind.field_names], name
        assert component["properties"]["kind"]["enum"] == [name]
        assert sorted(component["required"]) == sorted(["kind", *kind.required]), name
        assert component["additionalProperties"] is False
        assert STEP_BODIES[f"VerificationStep.{name}"] is kind.schema  # what add_step loads with
    documents = spec["components"]["schemas"]["VerificationStep.documents"]["properties"]["documents"]
    assert (documents["minItems"], documents["maxItems"], documents["items"]["maxLength"]) == (1, 100, 200)
    attendees = spec["components"]["schemas"]["VerificationStep.interview"]["properties"]["attendees"]
    assert (attendees["minimum"], attendees["maximum"]) == (1, 20)


def test_art11_2_what_each_step_does_is_said_by_its_row():
    rows = {name: (k.notice.kind if k.notice else None, k.notice.recites_payment if k.notice else False,
                   [t.__name__ for t in k.tells], k.moves_warning) for name, k in STEP_KINDS.items()}
    assert rows == {
        "phone": (None, False, [], "verify"),
        "documents": (None, False, ["ask_for_materials"], "verify"),
        "interview": ("interview_notice", True, [], "verify"),
        "onsite": ("onsite_notice", True, [], "verify"),
        "focus_letter": ("focus_letter", False, [], "verify"),
        "joint_investigation": (None, False, ["ask_the_oversight_body"], None),  # 11(二)5: confidential
    }


def test_art11_2_add_step_is_generic_over_the_rows():
    source = inspect.getsource(verification.add_step) + inspect.getsource(verification._issue_notice)
    for name in STEP_KINDS:
        assert f'"{name}"' not in source, name
    assert "spec.name ==" not in inspect.getsource(verification)


def test_issue9_the_step_table_is_served_as_json(as_unit):
    response = as_unit.get("/api/v1/workflow/warning/steps")
    assert response.status_code == 200
    steps = response.get_json()["steps"]
    assert [s["kind"] for s in steps] == list(STEP_KINDS)
    for served, kind in zip(steps, STEP_KINDS.values()):
        assert served["article"] == kind.article.chinese
        assert [f["name"] for f in served["fields"]] == list(kind.field_names)
        assert [f["name"] for f in served["fields"] if f["required"]] == list(kind.required)
        assert served["moves_warning"] == kind.moves_warning
