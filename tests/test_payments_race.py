"""Two requests racing past one indicator (Art. 14-15): the running total is locked, so
the over-budget warning lands exactly on the payment that crosses, whichever commits first
(PostgreSQL: FOR UPDATE on the totals; SQLite: the write lock, taken before they are read)."""
from __future__ import annotations

import threading

import sqlalchemy as sa
from payments_helpers import payment

from workflow.db import db
from workflow.monitoring.models import MonitoringWarning, Payment, SpendingTotal
from workflow.monitoring.screening import screen_payments
from workflow.parties import Actor


def travel(amount, day):
    return payment(economic_code="30211", settlement="card", summary="差旅费", amount=amount,
                   paid_at=f"2021-04-{day:02d}T10:00:00+08:00")


def test_art14_15_a_post_racing_an_uncommitted_one_waits_and_then_sees_its_spending(app, demo):
    """158,000.00 budgeted, 1,000.00 already spent. One screening of 100,000.00 is still in its
    transaction when a second request of 100,000.00 arrives: the second waits on the locked
    total, then counts the first and is the one over budget. Without the lock it would read
    1,000.00 spent and neither payment would warn."""
    token = demo.tokens["city_finance"]
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().post("/api/v1/payments", json=[travel("1000.00", 1)],
                                  headers=headers).json["items"][0]["warnings"] == []
    db.session.remove()
    answers, errors = [], []

    def second_request():
        try:
            with app.app_context():
                answers.append(app.test_client().post("/api/v1/payments", json=[travel("100000.00", 3)],
                                                      headers=headers))
                db.session.remove()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    first = screen_payments(Actor.system(), [travel("100000.00", 2)]).items[0]  # not committed yet
    racer = threading.Thread(target=second_request)
    racer.start()
    racer.join(1.0)
    assert racer.is_alive(), "the second request must wait for the first transaction"
    db.session.commit()
    racer.join(30)
    assert errors == []
    assert first["warnings"] == []
    second = answers[0].json["items"][0]
    assert [w["rule"] for w in second["warnings"]] == ["over_budget"]
    assert "已支付101000.00元" in second["warnings"][0]["message"]
    spent = db.session.execute(sa.select(SpendingTotal.spent).where(SpendingTotal.key.like("indicator:%"))).scalar()
    assert str(spent) == "201000.00"


def test_art14_15_many_concurrent_posts_flag_every_payment_past_the_budget(app, demo):
    """Eight officers post 30,000.00 each against 158,000.00: whatever the commit order, the
    first five fit (150,000.00) and the three after are over budget. (Without ``FOR UPDATE`` on
    the totals, batches read the same total before either writes it, and this fails.)"""
    token = demo.tokens["city_finance"]
    start = threading.Barrier(8)
    errors = []

    def post(day):
        try:
            with app.app_context():
                start.wait()
                response = app.test_client().post("/api/v1/payments", json=[travel("30000.00", day)],
                                                  headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 201, response.json
                db.session.remove()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(day,)) for day in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    ordered = db.session.execute(sa.select(Payment.id, Payment.status).order_by(Payment.id)).all()
    assert len(ordered) == 8
    over = db.session.execute(sa.select(MonitoringWarning.payment_id).where(MonitoringWarning.rule == "over_budget")).scalars().all()
    # ids come from the sequence in lock order, so the last three to take the lock are the three over budget
    assert sorted(over) == [pid for pid, _ in ordered[5:]]
