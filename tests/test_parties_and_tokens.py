"""API tokens: random, stored only as hashes, revocable, expiring; 401 otherwise."""
import datetime as dt

import sqlalchemy as sa

from workflow.db import db, utcnow
from workflow.tokens import ApiToken, hash_token, issue_token


def test_tokens_are_stored_only_as_sha256_hashes(demo):
    plain = demo.tokens["unit"]
    stored = db.session.execute(sa.select(ApiToken.token_hash)).scalars().all()
    assert hash_token(plain) in stored
    assert all(plain not in h for h in stored)
    assert all(len(h) == 64 for h in stored)


def test_a_valid_token_authenticates(as_unit):
    assert as_unit.get("/api/v1/orgs").status_code == 200


def test_missing_token_answers_401(client, demo):
    response = client.get("/api/v1/indicators")
    assert response.status_code == 401
    assert response.json["code"] == 401


def test_unknown_token_answers_401(client, demo):
    response = client.get("/api/v1/indicators", headers={"Authorization": "Bearer fw_nope"})
    assert response.status_code == 401


def test_revoked_token_answers_401(client, demo, runner):
    row = db.session.execute(sa.select(ApiToken).where(
        ApiToken.token_hash == hash_token(demo.tokens["unit"]))).scalar_one()
    result = runner.invoke(args=["tokens", "revoke", str(row.id)])
    assert result.exit_code == 0, result.output
    response = client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {demo.tokens['unit']}"})
    assert response.status_code == 401
    assert response.json["message"] == "token revoked"


def test_expired_token_answers_401(client, demo):
    row, plain = issue_token(demo.users["unit"], days=1)
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    response = client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401
    assert response.json["message"] == "token expired"


def test_cli_creates_a_user_and_issues_a_token_shown_once(client, demo, runner):
    result = runner.invoke(args=["users", "create", "--org", "653000-301001", "--name", "出纳",
                                 "--email", "cashier@demo.fundwatch.invalid"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["tokens", "issue", "--email", "cashier@demo.fundwatch.invalid", "--days", "7"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip().splitlines()[-1]
    assert plain.startswith("fw_")
    response = client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200


def test_cli_refuses_a_user_for_an_unknown_organisation(demo, runner):
    result = runner.invoke(args=["users", "create", "--org", "NOPE", "--name", "x", "--email", "x@y.invalid"])
    assert result.exit_code != 0
    assert "no organisation NOPE" in result.output
