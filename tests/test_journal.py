"""The journal: every action outside the case workflow appends one entry to its record's
stream, SHA-256 chained to the previous; nothing updates or deletes an entry (the ORM and
the database both refuse); ``flask --app wsgi audit verify`` names the stream and seq of
an edit or deletion; each record's journal is read with the record's own visibility."""
from __future__ import annotations

import hashlib
import io
import json
import threading

import pytest
import sqlalchemy as sa
from cases_support import open_case
from history_support import append_only_guard_lifted, assert_the_orm_refuses_changes, tamper, verify
from verification_support import OVERSIGHT, UNIT, clean_transfer, held_payment, outbox, post_payments

from workflow.chain import GENESIS, chain_hash
from workflow.db import db
from workflow.documents import Document
from workflow.journal import JournalEntry, entry_content, record
from workflow.monitoring.models import Payment
from workflow.parties import Actor
from workflow.tokens import ApiToken, hash_token

REPORT = {"unit_code": UNIT, "description": "该单位用现金报销大额差旅费，疑似虚列支出",
          "reporter_name": "王举报", "reporter_phone": "13800001111", "reporter_email": "wang@example.invalid"}


def journal(stream: str) -> list[JournalEntry]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(JournalEntry).where(JournalEntry.stream == stream)
                                   .order_by(JournalEntry.seq)).scalars())


def actions(stream: str) -> list[str]:
    return [e.action for e in journal(stream)]


def events(party, url: str) -> list[dict]:
    response = party.get(f"{url}?limit=1000")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def payment_id(voucher_no: str) -> int:
    return db.session.execute(sa.select(Payment.id).where(Payment.voucher_no == voucher_no)).scalar_one()


def step(finance, warning_id: int, **body) -> dict:
    response = finance.post(f"/api/v1/warnings/{warning_id}/steps", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def interview(finance, warning_id: int) -> dict:
    return step(finance, warning_id, kind="interview", interview_at="2021-06-08T10:30:00+08:00", room="财政局302室")


def dismiss(finance, warning_id: int, reason: str = "经核实系批准的现金支付") -> None:
    response = finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": reason})
    assert response.status_code == 200, response.get_json()


# --- each action leaves its entry --------------------------------------------------------------

def test_art11_2_each_verification_step_is_journaled_on_its_warning(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step(as_city_finance, warning_id, kind="phone", summary="已电话核实：系出差途中现金支付")
    notice = interview(as_city_finance, warning_id)
    phone, interviewed = journal(f"warning:{warning_id}")
    assert (phone.action, phone.payload["kind"], phone.payload["article"]) == ("step_added", "phone", "第十一条（二）1")
    assert phone.payload["details"]["summary"] == "已电话核实：系出差途中现金支付"
    assert (phone.party_kind, phone.party_org_id, phone.actor_user_id) == (
        "finance", as_city_finance.org.id, as_city_finance.user.id)
    assert interviewed.payload["kind"] == "interview"
    assert interviewed.payload["document"]["id"] == notice["document_id"]
    assert interviewed.payload["document"]["number"].endswith("号")


def test_art27_3_an_answer_on_a_warning_is_journaled_with_its_party(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    response = as_unit.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "系出差途中急需，已补办手续"})
    assert response.status_code == 201, response.get_json()
    [answer] = journal(f"warning:{warning_id}")
    assert answer.action == "response_added" and answer.party_org_id == as_unit.org.id
    assert (answer.payload["kind"], answer.payload["text"]) == ("explanation", "系出差途中急需，已补办手续")


def test_art11_3_confirmation_is_journaled_and_the_refused_payment_in_its_own_stream(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    case_id = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"}).get_json()["id"]
    [confirmed] = journal(f"warning:{warning_id}")
    assert confirmed.action == "confirmed"
    assert (confirmed.payload["case_id"], confirmed.payload["rung"]) == (case_id, "warning")
    assert confirmed.payload["payment"]["changed_to"] == "refused"
    [refused] = journal(f"payment:{payment_id(item['voucher_no'])}")
    assert refused.action == "refused"
    assert (refused.payload["from"], refused.payload["to"], refused.payload["warning_id"]) == (
        "held", "refused", warning_id)


def test_art11_2_dismissal_is_journaled_and_the_released_payment_in_its_own_stream(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    dismiss(as_city_finance, warning_id)
    [dismissed] = journal(f"warning:{warning_id}")
    assert dismissed.action == "dismissed" and dismissed.payload["reason"] == "经核实系批准的现金支付"
    assert dismissed.payload["payment"]["changed_to"] == "accepted"
    [released] = journal(f"payment:{payment_id(item['voucher_no'])}")
    assert (released.action, released.payload["from"], released.payload["to"]) == ("released", "held", "accepted")


def test_art28_3_a_bank_refusal_is_journaled_on_the_payment_and_the_warning_it_opens(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"], "reason": "户名不符"})
    assert response.status_code == 201, response.get_json()
    refusal = response.get_json()
    [refused] = journal(f"payment:{payment_id(row['voucher_no'])}")
    assert (refused.action, refused.party_kind, refused.party_org_id) == ("refused", "bank", as_bank.org.id)
    assert (refused.payload["reason"], refused.payload["article"]) == ("户名不符", "第二十八条（三）")
    assert refused.payload["warning_id"] == refusal["warning_id"]
    [opened] = journal(f"warning:{refusal['warning_id']}")
    assert (opened.action, opened.payload["rule"]) == ("opened", "bank_refusal")


def test_art10_4_a_settlement_report_is_one_journal_entry_of_the_bank(as_city_finance, as_bank):
    rows = [clean_transfer(), clean_transfer()]
    post_payments(as_city_finance, rows)
    lines = [{k: r[k] for k in ("voucher_no", "payer_account", "amount", "payee_name", "payee_account", "paid_at")}
             for r in rows]
    lines[1]["amount"] = "8000.00"
    response = as_bank.post("/api/v1/bank-settlements", json=lines)
    assert response.status_code == 200, response.get_json()
    [reported] = journal(f"settlement:{as_bank.org.id}")
    assert reported.action == "reported" and reported.payload["lines"] == 2
    assert reported.payload["outcomes"] == {"matched": 1, "case_opened": 1, "duplicate": 0}
    assert reported.payload["case_ids"] == [response.get_json()["items"][1]["case_id"]]


def test_art20_a_report_and_its_triage_are_journaled_without_the_reporter(client, as_city_finance):
    complaint_id = client.post("/api/v1/complaints", json=REPORT,
                               environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json()["id"]
    response = as_city_finance.post(f"/api/v1/complaints/{complaint_id}/triage", json={"into": "warning"})
    assert response.status_code == 200, response.get_json()
    warning_id = response.get_json()["warning_id"]
    received, triaged = journal(f"complaint:{complaint_id}")
    assert (received.action, received.party_kind, received.actor_user_id) == ("received", "public", None)
    assert received.payload["description_sha256"] == hashlib.sha256(REPORT["description"].encode()).hexdigest()
    assert (triaged.action, triaged.payload["into"], triaged.payload["warning_id"]) == ("triaged", "warning",
                                                                                        warning_id)
    assert actions(f"warning:{warning_id}") == ["opened"]
    stored = json.dumps([e.payload for e in journal(f"complaint:{complaint_id}") + journal(f"warning:{warning_id}")],
                        ensure_ascii=False)
    for secret in ("王举报", "13800001111", "wang@example.invalid", "虚列支出"):
        assert secret not in stored


def test_art11_2_3_a_notice_is_journaled_when_issued_with_its_html_digest_and_when_acknowledged(
        as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    document_id = interview(as_city_finance, warning_id)["document_id"]
    assert as_unit.post(f"/api/v1/documents/{document_id}/acknowledge").status_code == 200
    issued, acknowledged = journal(f"document:{document_id}")
    html = db.session.get(Document, document_id).html
    assert issued.action == "issued" and issued.payload["kind"] == "interview_notice"
    assert issued.payload["html_sha256"] == hashlib.sha256(html.encode("utf-8")).hexdigest()
    assert (acknowledged.action, acknowledged.party_org_id) == ("acknowledged", as_unit.org.id)


def test_art21_1_uploaded_evidence_is_journaled_with_its_digest(as_city_finance, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    content = "整改报告：已退回违规资金并调整账目。".encode("utf-8")
    response = as_unit.post(f"/api/v1/cases/{case_id}/evidence", content_type="multipart/form-data",
                            data={"file": (io.BytesIO(content), "整改结果.txt", "text/plain")})
    assert response.status_code == 201, response.get_json()
    [uploaded] = journal(f"evidence:{response.get_json()['id']}")
    assert (uploaded.action, uploaded.party_org_id, uploaded.payload["case_id"]) == ("uploaded", as_unit.org.id,
                                                                                     case_id)
    assert uploaded.payload["sha256"] == hashlib.sha256(content).hexdigest()


def test_art12_a_published_rule_set_version_is_journaled_for_its_finance_department(as_finance, as_finance_second):
    response = as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"limit": "500.00"}},
                                                            "note": "克财库〔2021〕5号"})
    assert response.status_code == 202, response.get_json()
    draft = response.get_json()
    published = as_finance_second.post(f"/api/v1/rule-sets/{draft['department']}/drafts/{draft['id']}/publish",
                                       json={})
    assert published.status_code == 201, published.get_json()
    drafted, published = journal(f"ruleset:{as_finance.org.id}")
    assert (drafted.action, drafted.party_org_id, drafted.payload["reason"]) == ("drafted", as_finance.org.id,
                                                                                 "克财库〔2021〕5号")
    assert (published.action, published.payload["version"], published.payload["note"]) == (
        "published", 2, "克财库〔2021〕5号")
    assert published.payload["changes"] == {"cash_over_limit": {"limit": "500.00"}}
    assert (published.payload["author_id"], published.payload["approver_id"]) == (as_finance.user.id,
                                                                                   as_finance_second.user.id)


def test_tokens_issued_and_revoked_by_the_operator_are_journaled_without_the_token(demo, runner):
    token_id = db.session.execute(sa.select(ApiToken.id).where(
        ApiToken.token_hash == hash_token(demo.tokens["unit"]))).scalar_one()
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0  # again: nothing changes
    issued, revoked = journal(f"token:{token_id}")
    assert (issued.action, revoked.action, revoked.party_kind) == ("issued", "revoked", "system")
    assert issued.payload["user_id"] == demo.users["unit"].id
    assert demo.tokens["unit"] not in json.dumps(issued.payload)
    assert hash_token(demo.tokens["unit"]) not in json.dumps(issued.payload)


# --- dismissal tells the unit ------------------------------------------------------------------

ACCOUNT = {"unit_code": UNIT, "bank_code": "BANK-ICBC-KZ", "number": "3009000109200099999", "kind": "special"}


def test_art13_1_an_account_reported_and_then_registered_and_suspended_is_journaled(as_unit, as_city_finance):
    account = as_unit.post("/api/v1/accounts", json=ACCOUNT).get_json()
    as_city_finance.patch(f"/api/v1/accounts/{account['id']}", json={"registered": True})
    as_city_finance.patch(f"/api/v1/accounts/{account['id']}", json={"status": "suspended", "registered": True})

    recorded, registered, suspended = journal(f"account:{account['id']}")
    assert (recorded.action, recorded.party_kind, recorded.payload["registered"]) == ("recorded", "unit", False)
    assert (registered.action, registered.party_kind, registered.payload) == (
        "changed", "finance", {"registered": [False, True]})
    assert suspended.payload == {"status": ["active", "suspended"]}  # only what changed


def test_art13_1_an_accounts_events_are_read_by_its_unit_and_its_bank_not_by_another_unit(
        as_unit, as_bank, as_other_unit, as_city_finance):
    account = as_unit.post("/api/v1/accounts", json=ACCOUNT).get_json()
    as_city_finance.patch(f"/api/v1/accounts/{account['id']}", json={"registered": True})
    url = f"/api/v1/accounts/{account['id']}/events"
    assert [e["action"] for e in events(as_unit, url)] == ["recorded", "changed"]
    assert [e["action"] for e in events(as_bank, url)] == ["recorded", "changed"]
    assert as_other_unit.get(url).status_code == 404


def test_art16_a_payees_events_are_the_units_and_finances_alone(as_unit, as_other_unit, as_city_finance):
    person = {"unit_code": UNIT, "id_number": "65300019800101123X", "name": "张三", "employer": "克州政协机关",
              "title": "科员", "account": "6217000000000001234"}
    payee_id = as_unit.post("/api/v1/payees", json=person).get_json()["id"]
    url = f"/api/v1/payees/{payee_id}/events"
    [filed] = events(as_city_finance, url)
    assert filed["action"] == "filed" and filed["payload"]["id_number"].endswith("123X")
    assert as_other_unit.get(url).status_code == 404


def test_an_indicator_upload_is_one_journal_entry_with_its_ids_total_and_digest(as_city_finance):
    row = {"unit_code": UNIT, "year": 2022, "functional_code": "2010201", "economic_code": "30211",
           "fund_source": "general_budget", "expenditure_kind": "basic", "amount": "158000.00"}
    items = as_city_finance.post("/api/v1/indicators", json=[row, {**row, "economic_code": "30201",
                                                                    "amount": "0.01"}]).get_json()["items"]
    [entry] = db.session.execute(sa.select(JournalEntry).where(  # the demo's own load is the system's
        JournalEntry.stream.like("indicators:%"), JournalEntry.party_kind == "finance")).scalars()
    assert entry.action == "loaded"
    assert entry.stream == f"indicators:{entry.party_org_id}"
    assert entry.payload["count"] == 2 and entry.payload["total"] == "158000.01"
    assert entry.payload["indicator_ids"] == [i["id"] for i in items] and len(entry.payload["digest"]) == 64


def test_art16_a_payee_filing_and_its_change_are_journaled_with_the_id_number_masked(as_unit):
    person = {"unit_code": UNIT, "id_number": "65300019800101123X", "name": "张三", "employer": "克州政协机关",
              "title": "科员", "account": "6217000000000001234"}
    payee_id = as_unit.post("/api/v1/payees", json=person).get_json()["id"]
    as_unit.patch(f"/api/v1/payees/{payee_id}", json={"account": "6217000000000009999"})

    filed, changed = journal(f"payee:{payee_id}")
    assert filed.action == "filed" and filed.payload["id_number"] == "**************123X"
    assert "65300019800101123X" not in json.dumps(filed.payload)
    assert changed.payload == {"account": ["6217000000000001234", "6217000000000009999"]}


def test_a_dead_letter_retried_by_finance_is_journaled_with_its_last_error(as_city_finance):
    from workflow.outbox import OutboxMessage

    _, warning_id = held_payment(as_city_finance)
    dismiss(as_city_finance, warning_id)  # queues the unit's e-mail
    row = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.channel == "email")).scalars().first()
    row.status, row.attempts, row.last_error = "dead", 8, "SMTPDataError: (451, b'try later')"
    db.session.commit()

    assert as_city_finance.post(f"/api/v1/outbox/{row.id}/retry").status_code == 200
    [entry] = journal(f"outbox:{row.id}")
    assert entry.action == "retried" and entry.party_kind == "finance"
    assert entry.payload["attempts"] == 8 and "451" in entry.payload["last_error"]


def test_art11_2_dismissal_tells_the_unit_the_reason_and_that_its_payment_was_released(as_city_finance, as_unit):
    item, warning_id = held_payment(as_city_finance)
    dismiss(as_city_finance, warning_id, "经财政部门和开户银行批准")
    [message] = outbox("warning_dismissed")
    assert message.recipient_org_id == as_unit.org.id
    assert "经财政部门和开户银行批准" in message.body and item["voucher_no"] in message.body
    assert "已解除暂停" in message.body


def test_art11_2_dismissal_tells_the_unit_its_payment_stays_held_while_another_block_waits(as_city_finance):
    item = post_payments(as_city_finance, [clean_transfer(settlement="cash", amount="1500.00",
                                                          payer_account="3009000100000000001")])[0]
    blocking = [w["id"] for w in item["warnings"] if w["level"] == "block"]
    assert len(blocking) >= 2, item
    dismiss(as_city_finance, blocking[0])
    [message] = outbox("warning_dismissed")
    assert "仍暂停支付" in message.body and "已解除暂停" not in message.body
    assert journal(f"payment:{payment_id(item['voucher_no'])}") == []


# --- the chain --------------------------------------------------------------------------------------

def test_a_stream_is_chained_from_genesis_and_each_hash_covers_its_content(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    step(as_city_finance, warning_id, kind="phone", summary="电话核实")
    as_unit.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "情况说明"})
    dismiss(as_city_finance, warning_id)
    entries = journal(f"warning:{warning_id}")
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert all(chain_hash(e.prev_hash, entry_content(e)) == e.hash for e in entries)


def test_record_refuses_a_naive_time(demo):
    import datetime as dt

    with pytest.raises(ValueError, match="naive"):
        record(Actor.system(), "token:0", "issued", {}, now=dt.datetime(2026, 1, 1))


@pytest.mark.postgres_only
def test_two_writers_of_one_stream_at_once_take_consecutive_seqs(app, demo, backend):
    """The second writer waits on the stream's lock and chains to the first one's entry."""
    if backend != "postgresql":
        pytest.skip("needs PostgreSQL: two transactions writing one stream at once")
    start = threading.Barrier(2)
    errors = []

    def write(index):
        try:
            with app.app_context():
                start.wait()
                record(Actor.system(), "ruleset:race", "published", {"writer": index})
                db.session.commit()
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    first, second = journal("ruleset:race")
    assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.hash)


# --- append-only ------------------------------------------------------------------------------------

def test_the_journal_refuses_changes_through_the_orm(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    dismiss(as_city_finance, warning_id)
    [entry] = journal(f"warning:{warning_id}")
    assert_the_orm_refuses_changes(JournalEntry, entry.id, payload={"reason": "改过"}, action="confirmed")


@pytest.mark.parametrize("statement", ["UPDATE journal_entries SET action = 'x' WHERE seq = 1",
                                       "DELETE FROM journal_entries WHERE seq = 1"])
def test_the_database_refuses_changes_to_the_journal(demo, statement):
    db.session.remove()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(sa.text(statement))


# --- audit verify -----------------------------------------------------------------------------------

def three_entries(finance, unit) -> int:
    _, warning_id = held_payment(finance)
    step(finance, warning_id, kind="phone", summary="电话核实")
    unit.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "情况说明"})
    dismiss(finance, warning_id)
    return warning_id


def test_audit_verify_passes_on_an_intact_journal_and_counts_its_streams(runner, as_city_finance, as_unit):
    three_entries(as_city_finance, as_unit)
    streams = db.session.execute(sa.select(sa.func.count(sa.distinct(JournalEntry.stream)))).scalar_one()
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert f"{streams} journal streams verified" in result.output


def test_audit_verify_names_the_stream_and_seq_of_an_edited_entry(runner, backend, as_city_finance, as_unit):
    warning_id = three_entries(as_city_finance, as_unit)
    intact = three_entries(as_city_finance, as_unit)
    tamper(backend, "journal_entries", "UPDATE journal_entries SET payload = :p WHERE stream = :s AND seq = 2",
           p='{"kind": "explanation", "text": "另一种说法"}', s=f"warning:{warning_id}")
    result = verify(runner)
    assert result.exit_code == 1
    assert f"journal stream warning:{warning_id}, entry seq 2" in result.output and "edited" in result.output
    assert f"warning:{intact}" not in result.output


@pytest.mark.parametrize("seq, found", [(2, "missing (deleted)"), (3, "missing after the last (deleted)")],
                         ids=["middle", "last, by the stream's head"])
def test_audit_verify_names_a_deleted_entry(runner, backend, as_city_finance, as_unit, seq, found):
    warning_id = three_entries(as_city_finance, as_unit)
    tamper(backend, "journal_entries", "DELETE FROM journal_entries WHERE stream = :s AND seq = :q",
           s=f"warning:{warning_id}", q=seq)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"journal stream warning:{warning_id}, entry seq {seq}" in result.output and found in result.output


def test_audit_verify_names_a_whole_deleted_stream(runner, backend, as_city_finance, as_unit):
    warning_id = three_entries(as_city_finance, as_unit)
    with append_only_guard_lifted(backend, "journal_entries"):
        with db.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM journal_entries WHERE stream = :s"), {"s": f"warning:{warning_id}"})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"journal stream warning:{warning_id}: the stream is gone: its head records 3 entries" in result.output


@pytest.mark.parametrize("statement", ["UPDATE journal_heads SET seq = seq - 1",
                                       "UPDATE journal_heads SET seq = seq + 2",
                                       "DELETE FROM journal_heads"])
def test_the_database_lets_a_streams_head_only_advance_one_entry(as_city_finance, statement):
    """Hiding a deleted last entry would mean moving the head back or removing it."""
    _, warning_id = held_payment(as_city_finance)
    dismiss(as_city_finance, warning_id)
    db.session.remove()
    with pytest.raises(sa.exc.DatabaseError, match="only advance"):
        with db.engine.begin() as connection:
            connection.execute(sa.text(statement))


def test_audit_verify_walks_streams_longer_than_one_batch(runner, backend, as_city_finance, as_unit):
    from workflow.journal import verify_journal

    warning_id = three_entries(as_city_finance, as_unit)
    tamper(backend, "journal_entries", "UPDATE journal_entries SET action = 'confirmed' WHERE stream = :s AND seq = 3",
           s=f"warning:{warning_id}")
    broken = {stream: problems for stream, problems in verify_journal(batch=2) if problems}
    assert list(broken) == [f"warning:{warning_id}"]
    assert [p.seq for p in broken[f"warning:{warning_id}"]] == [3]


# --- reading ------------------------------------------------------------------------------------------

def test_art11_a_warnings_events_list_each_entry_with_actor_party_and_hashes(as_city_finance, as_unit):
    warning_id = three_entries(as_city_finance, as_unit)
    listed = events(as_unit, f"/api/v1/warnings/{warning_id}/events")
    assert [(e["seq"], e["action"]) for e in listed] == [(1, "step_added"), (2, "response_added"), (3, "dismissed")]
    assert listed[0]["actor"] == {"user_id": as_city_finance.user.id, "name": as_city_finance.user.name}
    assert listed[1]["party"] == {"org_id": as_unit.org.id, "kind": "unit", "code": UNIT}
    assert listed[0]["prev_hash"] == GENESIS and listed[1]["prev_hash"] == listed[0]["hash"]
    assert listed[2]["payload"]["reason"] == "经核实系批准的现金支付"
    assert listed[2]["created_at"].endswith("+08:00")


def test_events_are_keyset_paginated(as_city_finance, as_unit):
    warning_id = three_entries(as_city_finance, as_unit)
    first = as_city_finance.get(f"/api/v1/warnings/{warning_id}/events?limit=2").get_json()
    second = as_city_finance.get(f"/api/v1/warnings/{warning_id}/events?limit=2&cursor={first['next_cursor']}")
    assert [e["seq"] for e in first["items"]] == [1, 2] and first["next_cursor"]
    assert [e["seq"] for e in second.get_json()["items"]] == [3] and second.get_json()["next_cursor"] is None


def test_art11_another_partys_warning_or_notice_events_answer_404(as_city_finance, as_other_unit, as_bank):
    _, warning_id = held_payment(as_city_finance)
    document_id = interview(as_city_finance, warning_id)["document_id"]
    for party in (as_other_unit, as_bank):
        assert party.get(f"/api/v1/documents/{document_id}/events").status_code == 404
    assert as_other_unit.get(f"/api/v1/warnings/{warning_id}/events").status_code == 404
    assert as_other_unit.get("/api/v1/warnings/999999/events").status_code == 404


def test_art11_a_notices_events_are_read_by_its_addressee(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    document_id = interview(as_city_finance, warning_id)["document_id"]
    assert [e["action"] for e in events(as_unit, f"/api/v1/documents/{document_id}/events")] == ["issued"]


def test_art11_2_5_the_unit_does_not_see_the_joint_investigation_in_the_warnings_events(
        as_city_finance, as_unit, as_oversight):
    _, warning_id = held_payment(as_city_finance)
    step(as_city_finance, warning_id, kind="joint_investigation", oversight_code=OVERSIGHT, matters="核查")
    step(as_city_finance, warning_id, kind="phone", summary="电话核实")
    for party in (as_city_finance, as_oversight):
        assert [e["action"] for e in events(party, f"/api/v1/warnings/{warning_id}/events")] == [
            "joint_investigation_requested", "step_added"]
    assert [e["action"] for e in events(as_unit, f"/api/v1/warnings/{warning_id}/events")] == ["step_added"]


def test_art20_a_complaints_events_are_finances_alone(client, as_city_finance, as_unit):
    complaint_id = client.post("/api/v1/complaints", json=REPORT,
                               environ_base={"REMOTE_ADDR": "203.0.113.10"}).get_json()["id"]
    assert [e["action"] for e in events(as_city_finance, f"/api/v1/complaints/{complaint_id}/events")] == ["received"]
    assert as_unit.get(f"/api/v1/complaints/{complaint_id}/events").status_code == 403


def test_a_payments_events_follow_the_payments_visibility(as_city_finance, as_unit, as_other_unit):
    item, warning_id = held_payment(as_city_finance)
    dismiss(as_city_finance, warning_id)
    pid = payment_id(item["voucher_no"])
    assert [e["action"] for e in events(as_unit, f"/api/v1/payments/{pid}/events")] == ["released"]
    assert as_other_unit.get(f"/api/v1/payments/{pid}/events").status_code == 404


def test_the_openapi_document_describes_the_journal_entries(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/warnings/{warning_id}/events" in spec["paths"]
    assert "/api/v1/documents/{document_id}/events" in spec["paths"]
    entry = spec["components"]["schemas"]["JournalEntry"]["properties"]
    assert {"seq", "action", "actor", "party", "payload", "created_at", "hash", "prev_hash"} <= set(entry)
