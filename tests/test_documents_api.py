"""The notices over HTTP: metadata, the printable form, acknowledgement by the addressee
(annexes 1-2: "签字并加盖公章后，返还我单位存档"), and who may see a notice (Art. 25-28)."""
import datetime as dt
import threading

import pytest

from workflow.db import db
from workflow.documents import issue_document
from workflow.parties import Actor, org_by_code

BEIJING = dt.timezone(dt.timedelta(hours=8))
CONTEXT = {"payment_date": "2026-02-27", "payee": "克州迎宾馆", "voucher_number": "ZF2026-000318",
           "summary": "接待费（现金）", "payment_status": "held", "interview_date": "2026-03-06", "room": "财政局302室"}


def _issue(kind="interview_notice", addressee="653000-301001", context=None, issuer="653000-CZ"):
    document = issue_document(Actor.system(), kind=kind, issuer=org_by_code(issuer),
                              addressee=org_by_code(addressee), context=context or CONTEXT,
                              now=dt.datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING))
    db.session.commit()
    return document.id


@pytest.fixture
def notice(demo):
    """An interview notice from 克州财政局 to 克州政协机关."""
    return _issue()


def test_metadata_of_a_notice(as_unit, notice):
    response = as_unit.get(f"/api/v1/documents/{notice}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["number"] == "2026年第1号"
    assert body["kind"] == "interview_notice" and body["title"] == "预算执行动态监控约谈通知书"
    assert body["issuer"]["code"] == "653000-CZ" and body["addressee"]["code"] == "653000-301001"
    assert body["case_id"] is None and body["warning_id"] is None
    assert body["issued_at"] == "2026-03-02T10:00:00+08:00"
    assert body["acknowledged_at"] is None


def test_printable_notice_is_served_as_html_that_cannot_run_scripts(as_unit, notice):
    response = as_unit.get(f"/api/v1/documents/{notice}/html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert "编号：2026年第1号" in html and "ZF2026-000318" in html and "财政局302室" in html


@pytest.mark.parametrize("party", ["unit", "competent", "city_finance", "finance"])
def test_art25_27_issuer_jurisdiction_addressee_and_its_competent_department_see_the_notice(request, party, notice):
    client = request.getfixturevalue(f"as_{party}")
    assert client.get(f"/api/v1/documents/{notice}").status_code == 200
    assert client.get(f"/api/v1/documents/{notice}/html").status_code == 200


@pytest.mark.parametrize("party", ["county_finance", "other_competent", "other_unit", "bank", "oversight"])
def test_other_parties_get_404_for_the_notice(request, party, notice):
    client = request.getfixturevalue(f"as_{party}")
    assert client.get(f"/api/v1/documents/{notice}").status_code == 404
    assert client.get(f"/api/v1/documents/{notice}/html").status_code == 404
    assert client.post(f"/api/v1/documents/{notice}/acknowledge").status_code == 404


def test_unknown_document_is_404(as_city_finance, demo):
    assert as_city_finance.get("/api/v1/documents/999999").status_code == 404


def test_annex_addressee_acknowledges_the_notice(as_unit, notice):
    response = as_unit.post(f"/api/v1/documents/{notice}/acknowledge")
    assert response.status_code == 200, response.json
    assert response.json["acknowledged_at"].endswith("+08:00")
    assert as_unit.get(f"/api/v1/documents/{notice}").json["acknowledged_at"] == response.json["acknowledged_at"]


def test_acknowledging_twice_is_a_conflict(as_unit, notice):
    assert as_unit.post(f"/api/v1/documents/{notice}/acknowledge").status_code == 200
    response = as_unit.post(f"/api/v1/documents/{notice}/acknowledge")
    assert response.status_code == 409
    assert response.json["code"] == 409


@pytest.mark.parametrize("party", ["competent", "city_finance", "finance"])
def test_parties_who_see_the_notice_but_are_not_its_addressee_may_not_acknowledge_it(request, party, notice):
    client = request.getfixturevalue(f"as_{party}")
    response = client.post(f"/api/v1/documents/{notice}/acknowledge")
    assert response.status_code == 403
    assert response.json["message"] == "only the addressee acknowledges a notice"


def test_acknowledgement_records_who_signed(as_unit, notice):
    from workflow.documents import Document

    as_unit.post(f"/api/v1/documents/{notice}/acknowledge")
    db.session.expire_all()
    assert db.session.get(Document, notice).acknowledged_by == as_unit.user.id


def test_art22_bank_acknowledges_its_notice_and_another_bank_cannot_see_it(demo, as_bank, as_other_bank):
    notice = _issue("bank_criticism_notice", "BANK-ICBC-KZ", {"violation": "未按要求整改", "fee_deduction": "5000.00"})
    assert as_other_bank.get(f"/api/v1/documents/{notice}").status_code == 404
    assert as_bank.post(f"/api/v1/documents/{notice}/acknowledge").status_code == 200


def test_art23_oversight_body_receives_the_referral(demo, as_oversight, as_unit):
    notice = _issue("referral_letter", "653000-SJ", {"subject_name": "克州政协机关", "violation": "拒不执行处理决定"})
    assert as_oversight.post(f"/api/v1/documents/{notice}/acknowledge").status_code == 200
    assert as_unit.get(f"/api/v1/documents/{notice}").status_code == 404


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("needs PostgreSQL: real row locks between concurrent transactions")


@pytest.mark.postgres_only
def test_two_concurrent_notices_get_distinct_consecutive_numbers(app, demo, postgres_only):
    """Two finance officers issue at once: the second waits on the counter row until the
    first commits, then takes the next number; nothing is skipped or repeated."""
    city_id, unit_id = org_by_code("653000-CZ").id, org_by_code("653000-301001").id
    first_issued = threading.Event()
    second_started = threading.Event()
    numbers, errors = {}, []

    def officer(name):
        from workflow.parties import Organisation

        try:
            with app.app_context():
                if name == "second":
                    first_issued.wait(10)
                    second_started.set()
                document = issue_document(Actor.system(), kind="interview_notice",
                                          issuer=db.session.get(Organisation, city_id),
                                          addressee=db.session.get(Organisation, unit_id), context=CONTEXT)
                numbers[name] = (document.seq, document.number)
                if name == "first":
                    first_issued.set()
                    second_started.wait(10)
                    threading.Event().wait(0.3)  # let the second block on the row lock
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)
            first_issued.set()

    threads = [threading.Thread(target=officer, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(seq for seq, _ in numbers.values()) == [1, 2]
    assert numbers["first"][0] == 1 and numbers["second"][0] == 2
    assert len({number for _, number in numbers.values()}) == 2


@pytest.mark.postgres_only
def test_many_concurrent_notices_are_gap_free(app, demo, postgres_only):
    city_id, unit_id = org_by_code("653000-CZ").id, org_by_code("653000-301001").id
    start = threading.Barrier(6)
    seqs, errors = [], []

    def officer():
        from workflow.parties import Organisation

        try:
            with app.app_context():
                start.wait(10)
                for _ in range(5):
                    document = issue_document(Actor.system(), kind="onsite_notice",
                                              issuer=db.session.get(Organisation, city_id),
                                              addressee=db.session.get(Organisation, unit_id),
                                              context={**CONTEXT, "team": ["张伟"]})
                    seqs.append(document.seq)
                    db.session.commit()
                db.session.remove()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=officer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(seqs) == list(range(1, 31))
