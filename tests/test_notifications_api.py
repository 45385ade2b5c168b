"""The inbox API (own notifications only; others' answer 404) and the dead-letter list
finance sees for its jurisdiction and may retry (ASVS 8.2.1, 8.2.2)."""
import datetime as dt

import sqlalchemy as sa

from notifications.delivery import deliver_pending
from workflow.db import db
from workflow.outbox import OutboxMessage, notify

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.timezone.utc)


def send(demo, key, org_key="unit", case_id=None):
    notify(key=key, template="case_action", case_id=case_id, org_ids=[demo.users[org_key].org_id],
           context=dict(subject_name="克州政协机关", trigger="issue_decision", state="decided",
                        state_label="已作出处理决定"))
    db.session.commit()
    deliver_pending()


def ids(response):
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def kill_email(demo, org_key="unit"):
    """Make the org's e-mail row a dead letter, as the delivery worker would after N failures."""
    row = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.channel == "email",
        OutboxMessage.recipient_org_id == demo.users[org_key].org_id)).scalars().first()
    row.status, row.attempts, row.last_error = "dead", 8, "SMTPDataError: (451, b'try later')"
    db.session.commit()
    return row.id


def test_inbox_lists_the_callers_own_notifications_newest_first(demo, as_unit, as_competent):
    for n in range(3):
        send(demo, f"k{n}")
    send(demo, "for-competent", org_key="competent")
    listed = as_unit.get("/api/v1/notifications")
    assert len(ids(listed)) == 3 and ids(listed) == sorted(ids(listed), reverse=True)
    item = listed.json["items"][0]
    assert item["subject"] == "【案件进展】克州政协机关：已作出处理决定"
    assert item["read"] is False and item["created_at"].endswith("+08:00")
    assert len(ids(as_competent.get("/api/v1/notifications"))) == 1


def test_inbox_pages_with_a_cursor(demo, as_unit):
    for n in range(5):
        send(demo, f"k{n}")
    first = as_unit.get("/api/v1/notifications?limit=2")
    second = as_unit.get(f"/api/v1/notifications?limit=2&cursor={first.json['next_cursor']}")
    third = as_unit.get(f"/api/v1/notifications?limit=2&cursor={second.json['next_cursor']}")
    everything = ids(first) + ids(second) + ids(third)
    assert everything == sorted(everything, reverse=True) and len(set(everything)) == 5
    assert third.json["next_cursor"] is None


def test_mark_read_and_unread_count(demo, as_unit):
    send(demo, "a")
    send(demo, "b")
    assert as_unit.get("/api/v1/notifications/unread-count").json == {"unread": 2}
    newest = ids(as_unit.get("/api/v1/notifications"))[0]
    read = as_unit.post(f"/api/v1/notifications/{newest}/read")
    assert read.status_code == 200 and read.json["read"] is True
    assert as_unit.get("/api/v1/notifications/unread-count").json == {"unread": 1}
    assert ids(as_unit.get("/api/v1/notifications?unread=true")) != [newest]
    assert ids(as_unit.get("/api/v1/notifications?unread=false")) == [newest]


def test_marking_read_twice_keeps_the_first_time(demo, as_unit):
    send(demo, "a")
    note = ids(as_unit.get("/api/v1/notifications"))[0]
    first = as_unit.post(f"/api/v1/notifications/{note}/read").json["read_at"]
    assert as_unit.post(f"/api/v1/notifications/{note}/read").json["read_at"] == first


def test_another_users_notification_cannot_be_marked_read(demo, as_unit, as_other_unit):
    send(demo, "a")
    note = ids(as_unit.get("/api/v1/notifications"))[0]
    response = as_other_unit.post(f"/api/v1/notifications/{note}/read")
    assert response.status_code == 404
    assert as_unit.get("/api/v1/notifications/unread-count").json == {"unread": 1}


def test_inbox_needs_a_token(client):
    assert client.get("/api/v1/notifications").status_code == 401


def test_finance_sees_dead_letters_of_its_jurisdiction(demo, as_city_finance, as_finance, as_county_finance):
    send(demo, "a")
    dead = kill_email(demo)
    listed = as_city_finance.get("/api/v1/outbox/dead")
    assert ids(listed) == [dead]
    assert listed.json["items"][0]["last_error"].startswith("SMTPDataError")
    assert ids(as_finance.get("/api/v1/outbox/dead")) == [dead]  # the province sees its cities
    assert ids(as_county_finance.get("/api/v1/outbox/dead")) == []


def test_other_parties_may_not_see_dead_letters(demo, as_unit, as_bank):
    assert as_unit.get("/api/v1/outbox/dead").status_code == 403
    assert as_bank.get("/api/v1/outbox/dead").status_code == 403


def test_finance_retry_queues_a_dead_letter_again_with_fresh_attempts(demo, as_city_finance):
    send(demo, "a")
    dead = kill_email(demo)
    response = as_city_finance.post(f"/api/v1/outbox/{dead}/retry")
    assert response.status_code == 200
    assert (response.json["status"], response.json["attempts"]) == ("pending", 0)
    assert ids(as_city_finance.get("/api/v1/outbox/dead")) == []


def test_retry_sends_to_the_users_corrected_address(demo, as_city_finance):
    send(demo, "a")
    dead = kill_email(demo)
    demo.users["unit"].email = "unit-new@demo.fundwatch.invalid"
    db.session.commit()
    assert as_city_finance.post(f"/api/v1/outbox/{dead}/retry").json["address"] == "unit-new@demo.fundwatch.invalid"


def test_retry_outside_the_jurisdiction_is_not_found(demo, as_county_finance):
    send(demo, "a")
    dead = kill_email(demo)
    assert as_county_finance.post(f"/api/v1/outbox/{dead}/retry").status_code == 404
    assert db.session.get(OutboxMessage, dead).status == "dead"


def test_only_a_dead_letter_can_be_retried(demo, as_city_finance):
    send(demo, "a")
    pending = db.session.execute(sa.select(OutboxMessage.id).where(OutboxMessage.channel == "email")).scalar_one()
    response = as_city_finance.post(f"/api/v1/outbox/{pending}/retry")
    assert response.status_code == 409 and "status" in response.json["errors"]


def test_a_unit_may_not_retry(demo, as_unit):
    send(demo, "a")
    dead = kill_email(demo)
    assert as_unit.post(f"/api/v1/outbox/{dead}/retry").status_code == 403
