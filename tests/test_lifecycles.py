"""The warning and payment lifecycles are tables (issue 9 part 3): every status change goes
through its table, an illegal one is a 409 with the reason, and the tables are served like
the case machines; what happens on overdue is said by the case tables' escalate rows."""
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from verification_support import UNIT, clean_transfer, held_payment, payment_status, post_payments, warning_row

from workflow import scheduling
from workflow.db import db
from workflow.errors import Conflict
from workflow.machines import LIFECYCLES, MACHINES, NEW, Lifecycle
from workflow.machines.payment import LIFECYCLE as PAYMENT
from workflow.machines.warning import LIFECYCLE as WARNING
from workflow.monitoring.models import PAYMENT_STATUSES, WARNING_STATUSES, MonitoringWarning, Payment
from workflow.monitoring.payments import change_payment_status
from workflow.parties import org_by_code

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def moves(monkeypatch):
    """Every Lifecycle.move, as (lifecycle, trigger, from, to)."""
    seen = []
    original = Lifecycle.move

    def spy(self, record, trigger, **kw):
        was = record.status
        row = original(self, record, trigger, **kw)
        seen.append((self.name, trigger, was, record.status))
        return row

    monkeypatch.setattr(Lifecycle, "move", spy)
    return seen


def _payment(voucher_no: str) -> Payment:
    db.session.expire_all()
    return db.session.execute(sa.select(Payment).where(Payment.voucher_no == voucher_no)).scalar_one()


# --- the tables -----------------------------------------------------------------------------

def test_art11_the_statuses_are_the_tables_states_and_creation_is_declared_in_them():
    assert WARNING_STATUSES == ("open", "verifying", "confirmed", "dismissed", "transferred", "transfer_closed")
    assert PAYMENT_STATUSES == ("accepted", "held", "refused")
    assert WARNING.initial == ("open",)
    assert PAYMENT.initial == ("accepted", "held")
    assert WARNING.undecided == ("open", "verifying")
    for lifecycle in LIFECYCLES.values():
        for t in lifecycle.transitions:
            assert t.article.chinese.startswith("第") and t.label and t.roles, t.trigger


def test_art11_2_the_warning_table_reads_open_verifying_confirmed_dismissed_or_transferred():
    edges = {(t.trigger, s, t.dest) for t in WARNING.transitions for s in t.source}
    assert edges == {("screen", NEW, "open"), ("raise", NEW, "open"), ("verify", "open", "verifying"),
                     ("verify", "verifying", None), ("confirm", "open", "confirmed"),
                     ("confirm", "verifying", "confirmed"), ("dismiss", "open", "dismissed"),
                     ("dismiss", "verifying", "dismissed"), ("transfer", "open", "transferred"),
                     ("transfer", "verifying", "transferred"), ("close_transfer", "transferred", "transfer_closed")}


def test_art28_3_the_payment_table_reads_accepted_or_held_then_released_or_refused():
    edges = {(t.trigger, s, t.dest) for t in PAYMENT.transitions for s in t.source}
    assert edges == {("accept", NEW, "accepted"), ("hold", NEW, "held"), ("hold", "accepted", "held"),
                     ("release", "held", "accepted"),
                     ("refuse", "held", "refused"), ("refuse", "accepted", "refused")}
    assert PAYMENT.by_trigger["refuse"][0].article.chinese == "第十一条（三）；第二十八条（三）"


def test_art11_1_screening_creates_payments_and_warnings_in_the_tables_initial_states(as_city_finance):
    held, _ = held_payment(as_city_finance)
    clean = post_payments(as_city_finance, [clean_transfer()])[0]
    assert (held["status"], clean["status"]) == ("held", "accepted")
    assert {held["status"], clean["status"]} == set(PAYMENT.initial)
    db.session.expire_all()
    statuses = set(db.session.execute(sa.select(MonitoringWarning.status)).scalars())
    assert statuses == set(WARNING.initial)


# --- writing the column directly raises -----------------------------------------------------

def test_art11_2_writing_a_warnings_status_directly_raises(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    warning = warning_row(warning_id)
    with pytest.raises(AttributeError, match="only through its lifecycle"):
        warning.status = "dismissed"
    db.session.rollback()
    assert warning_row(warning_id).status == "open"


def test_art11_a_warning_is_created_only_in_its_initial_state(demo):
    unit = org_by_code(UNIT)
    created = MonitoringWarning(unit=unit, rule="complaint", level="warn", article="第二十条", message="线索",
                                status="open")
    assert created.status == "open"
    with pytest.raises(AttributeError):
        MonitoringWarning(unit=unit, rule="complaint", level="warn", article="第二十条", message="线索",
                          status="confirmed")
    db.session.rollback()


def test_art11_2_writing_a_payments_status_directly_raises(as_city_finance):
    item, _ = held_payment(as_city_finance)
    payment = _payment(item["voucher_no"])
    for status in ("accepted", "refused", "held"):
        with pytest.raises(AttributeError, match="only through its lifecycle"):
            payment.status = status
    db.session.rollback()
    assert payment_status(item["voucher_no"]) == "held"


def test_art11_2_every_status_change_of_a_dismissal_goes_through_the_tables(as_city_finance, moves):
    item, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/steps",
                                json={"kind": "phone", "summary": "电话核实"}).status_code == 201
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/steps",
                                json={"kind": "phone", "summary": "再次电话核实"}).status_code == 201
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "误报"}).status_code == 200
    assert moves == [("warning", "verify", "open", "verifying"), ("warning", "verify", "verifying", "verifying"),
                     ("warning", "dismiss", "verifying", "dismissed"), ("payment", "release", "held", "accepted")]
    assert payment_status(item["voucher_no"]) == "accepted"


def test_art11_3_every_status_change_of_a_confirmation_goes_through_the_tables(as_city_finance, moves):
    item, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"}).status_code == 201
    assert moves == [("payment", "refuse", "held", "refused"), ("warning", "confirm", "open", "confirmed")]


def test_art28_3_a_bank_refusal_goes_through_the_payment_table(as_city_finance, as_bank, moves):
    item = post_payments(as_city_finance, [clean_transfer()])[0]
    response = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": item["voucher_no"], "unit_code": UNIT,
                                                           "reason": "收款账户与合同不符"})
    assert response.status_code == 201, response.get_json()
    assert moves == [("payment", "refuse", "accepted", "refused")]


# --- an illegal transition is a 409 with the reason -----------------------------------------

def test_art11_2_an_illegal_payment_transition_is_a_conflict_with_the_reason(as_city_finance):
    item = post_payments(as_city_finance, [clean_transfer()])[0]
    payment = _payment(item["voucher_no"])
    with pytest.raises(Conflict) as raised:
        change_payment_status(payment, "release")
    assert raised.value.status == 409
    assert "an accepted payment cannot release" in raised.value.message
    assert "only a held payment can" in raised.value.message
    assert raised.value.errors == {"status": ["accepted"]}
    db.session.rollback()


def test_art11_3_a_refused_payment_moves_no_more(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"}).status_code == 201
    payment = _payment(item["voucher_no"])
    for trigger in ("release", "refuse"):
        with pytest.raises(Conflict) as raised:
            PAYMENT.move(payment, trigger)
        assert raised.value.status == 409 and raised.value.errors == {"status": ["refused"]}
    db.session.rollback()


def test_art11_2_a_decided_warning_refuses_another_decision_with_409(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "误报"}).status_code == 200
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"})
    assert response.status_code == 409
    assert "dismissed" in response.get_json()["message"]
    warning = warning_row(warning_id)
    with pytest.raises(Conflict, match="a dismissed warning cannot verify"):
        WARNING.move(warning, "verify")


# --- the lifecycles are documented like the case machines ------------------------------------

@pytest.mark.parametrize("name", ["warning", "payment"])
def test_art11_the_lifecycle_table_is_served_as_json(as_unit, name):
    response = as_unit.get(f"/api/v1/workflow/{name}")
    assert response.status_code == 200
    body = response.get_json()
    lifecycle = LIFECYCLES[name]
    assert body["machine"] == name and body["initial"] == list(lifecycle.initial)
    assert [s["name"] for s in body["states"]] == list(lifecycle.states)
    assert [(r["trigger"], r["source"], r["dest"], r["roles"], r["article"]) for r in body["transitions"]] == [
        (t.trigger, list(t.source), t.dest, list(t.roles), t.article.chinese) for t in lifecycle.transitions]


@pytest.mark.parametrize("name", ["warning", "payment"])
def test_art11_the_lifecycle_diagram_is_drawn_from_the_table(as_unit, name):
    response = as_unit.get(f"/api/v1/workflow/{name}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    nodes = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("class") == "state"}
    assert nodes == {f"state-{s}" for s in LIFECYCLES[name].states}
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for t in LIFECYCLES[name].transitions:
        assert t.trigger in text, t.trigger


# --- what happens on overdue is said by the case tables' rows --------------------------------

def test_art21_3_4_the_escalation_policy_is_read_from_the_escalate_rows(app):
    """21(三): the written order is issued (制发) on overdue: its escalate row is ``auto``;
    21(四): funds may (可以) be suspended and accounts closed: those rows are not."""
    unit = MACHINES["unit_case"]
    rows = {s: t for t in unit.by_trigger["escalate"] for s in t.source}
    assert {s: (t.auto, t.article.chinese) for s, t in rows.items()} == {
        "warning": (True, "第二十一条（三）"), "decision": (True, "第二十一条（三）"),
        "order": (False, "第二十一条（四）"), "funds_suspended": (False, "第二十一条（四）")}
    assert scheduling.auto_escalation() == {("unit_case", s): t.auto for s, t in rows.items()}


def test_art21_4_the_scheduler_follows_a_change_of_the_row(app, monkeypatch):
    unit = MACHINES["unit_case"]
    monkeypatch.setitem(unit.auto_escalation, "order", True)
    assert scheduling.auto_escalation()[("unit_case", "order")] is True


def test_art22_the_proposals_on_overdue_are_marked_on_the_manual_rows():
    """Bank cases have no escalate row (Art. 22: criticism and termination are finance's
    decisions); each rung names the action proposed to finance on overdue."""
    bank, unit = MACHINES["bank_case"], MACHINES["unit_case"]
    assert "escalate" not in bank.by_trigger and bank.escalation == {} and bank.auto_escalation == {}
    assert bank.proposals == {"refund_or_redo": "criticise_and_deduct_fee",
                              "transmission_fix": "criticise_and_deduct_fee",
                              "criticised_fee_deducted": "terminate_agreement"}
    assert unit.proposals == {"warning": "issue_order", "decision": "issue_order", "order": "suspend_funds",
                              "funds_suspended": "close_accounts"}
    for machine in (bank, unit):
        assert machine.proposals == {s: t.trigger for t in machine.transitions for s in t.proposed_on_overdue}


def test_art21_the_workflow_json_says_what_happens_on_overdue(as_unit):
    body = as_unit.get("/api/v1/workflow/unit-case").get_json()
    assert body["auto_escalation"] == {"warning": True, "decision": True, "order": False, "funds_suspended": False}
    assert {(r["trigger"], tuple(r["source"])): r["auto"] for r in body["transitions"] if r["trigger"] == "escalate"} \
        == {("escalate", ("warning", "decision")): True, ("escalate", ("order",)): False,
            ("escalate", ("funds_suspended",)): False}
