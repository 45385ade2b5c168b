"""Real concurrency for the race tests (not a test module): each call runs in its own thread,
with its own app context, session and database connection, all released at one barrier. On
SQLite they share the test's database file, as gunicorn's workers share ``instance/fundwatch.db``;
on PostgreSQL they are separate transactions."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from workflow.db import db


@dataclass
class Answer:
    status: int
    json: dict | None


def race(app, calls: list[tuple], timeout: float = 120) -> list[Answer]:
    """Send each ``(method, url, headers, body[, environ])`` at the same moment; the answers
    in the order of ``calls``. An exception in a thread fails the caller, it is not lost."""
    start = threading.Barrier(len(calls))
    answers: list[Answer | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index, method, url, headers, body, environ=None):
        try:
            with app.app_context():
                client = app.test_client()
                start.wait(30)
                response = getattr(client, method)(url, json=body, headers=headers or {},
                                                   environ_base=environ or {})
                answers[index] = Answer(response.status_code, response.get_json(silent=True))
                db.session.remove()
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert errors == [], errors
    assert all(answer is not None for answer in answers), "a request did not finish"
    db.session.expire_all()
    return answers


def statuses(answers: list[Answer]) -> list[int]:
    return sorted(answer.status for answer in answers)


def one_winner(answers: list[Answer], won: int) -> Answer:
    """Exactly one answer is ``won``, every other a 409 naming the current status; the winner."""
    assert statuses(answers) == sorted([won] + [409] * (len(answers) - 1)), [(a.status, a.json) for a in answers]
    for answer in answers:
        if answer.status == 409:
            assert answer.json["code"] == 409 and answer.json["errors"], answer.json
    return next(answer for answer in answers if answer.status == won)
