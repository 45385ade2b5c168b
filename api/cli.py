"""Operator commands: ``flask --app wsgi users|tokens|demo ...``."""
from __future__ import annotations

import json
import os

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from api.audit import audit_cli
from api.payments_cli import payments_cli
from api.scheduler import deadlines_cli, scheduler_command
from notifications.cli import outbox_cli
from workflow import demo, sign_in
from workflow.db import analyse, db
from workflow.errors import DomainError
from workflow.parties import User, org_by_code
from workflow.settings import current, local_zone
from workflow.tokens import MAX_TOKEN_DAYS, issue_token, revoke_token

users_cli = AppGroup("users", help="Manage users.")
tokens_cli = AppGroup("tokens", help="Issue and revoke API tokens.")
demo_cli = AppGroup("demo", help="Demo data.")


def _fail(error: DomainError):
    db.session.rollback()
    raise click.ClickException(f"{error.message} {error.errors or ''}".strip())


@users_cli.command("create")
@click.option("--org", "org_code", required=True, help="Organisation code.")
@click.option("--name", required=True)
@click.option("--email", required=True)
def create_user(org_code, name, email):
    """Create a user in an organisation."""
    org = org_by_code(org_code)
    if org is None:
        raise click.ClickException(f"no organisation {org_code}")
    if db.session.execute(sa.select(User.id).where(User.email == email)).first():
        raise click.ClickException(f"a user with e-mail {email} exists")
    user = User(org=org, name=name, email=email)
    db.session.add(user)
    db.session.commit()
    click.echo(f"user {user.id} created in {org.code} ({org.kind})")


@users_cli.command("set-password")
@click.option("--email", required=True, help="The user's e-mail.")
@click.option("--random", "random_", is_flag=True, help="Make a random password and print it once.")
@click.option("--password", default=None,
              help="The password; asked for (not echoed, twice) when neither this nor --random is given.")
def set_password(email, random_, password):
    """Set a user's console password (stored as a scrypt hash; sessions opened before end)."""
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {email}")
    if random_:
        password = sign_in.new_password()
    elif not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        sign_in.set_password(user, password)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"password set for {email}")
    if random_:
        click.echo(password)


@tokens_cli.command("issue")
@click.option("--email", required=True, help="The user's e-mail.")
@click.option("--days", default=None, type=click.IntRange(min=1, max=MAX_TOKEN_DAYS),
              help=f"Lifetime in days, 1 to {MAX_TOKEN_DAYS} (default FUNDWATCH_TOKEN_DAYS, 90).")
@click.option("--label", default="")
def issue(email, days, label):
    """Issue a token; it is printed once and stored only as a hash."""
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {email}")
    try:
        # ``is None``, not ``or``: a lifetime of 0 is refused, never read as "the default"
        lifetime = current().token_days if days is None else days
        row, plain = issue_token(user, days=lifetime, label=label)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    zone = local_zone()  # as the API answers times
    click.echo(f"token {row.id} expires {row.expires_at.astimezone(zone).isoformat()}")
    click.echo(plain)


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id):
    """Revoke a token by its id."""
    try:
        revoke_token(token_id)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"token {token_id} revoked")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing if the database has data.")
@click.option("--tokens-file", default=None, help="Where to write demo tokens (default instance/demo-tokens.json).")
@click.option("--logins-file", default=None,
              help="Where to write the demo users' console logins (default instance/demo-logins.json).")
def load(if_empty, tokens_file, logins_file):
    """Load the 2021 克州政协 demo budget with its monthly payment plans, and write demo tokens and
    console logins."""
    tokens_file = tokens_file or os.path.join(current_app.instance_path, "demo-tokens.json")
    logins_file = logins_file or os.path.join(current_app.instance_path, "demo-logins.json")
    loaded = demo.database_is_empty()
    if loaded:
        demo.load_demo(payment_plans=True)
        click.echo("demo data loaded")
    elif not if_empty:
        raise click.ClickException("the database is not empty; use --if-empty to skip")
    else:
        click.echo("database has data; demo data not loaded again")
    if loaded or not os.path.exists(tokens_file):
        _write_tokens(tokens_file, demo.issue_demo_tokens())
        click.echo(f"demo tokens written to {tokens_file}")
    if loaded or not os.path.exists(logins_file):
        # new random passwords each time the file is written: none is ever kept in the repository
        _write_tokens(logins_file, demo.set_demo_passwords())
        click.echo(f"demo console logins written to {logins_file}")
    db.session.commit()
    if loaded:  # plans costed on the loaded tables, not on the empty ones (PostgreSQL)
        analyse(*db.metadata.tables)
        db.session.commit()


def _write_tokens(path: str, tokens: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(tokens, handle, indent=1)


def register(app) -> None:
    for group in (users_cli, tokens_cli, demo_cli, audit_cli, outbox_cli, payments_cli, scheduler_command, deadlines_cli):
        app.cli.add_command(group)
