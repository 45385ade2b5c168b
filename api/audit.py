"""``flask --app wsgi audit verify``: walk every case's hash chain."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from workflow.cases import verify_chains

audit_cli = AppGroup("audit", help="Check the tamper-evident case history.")


@audit_cli.command("verify")
@click.option("--case", "case_ids", type=int, multiple=True, help="Only these case ids.")
def verify(case_ids):
    """Recompute every event's SHA-256 chain; exit 1 naming each broken case and event."""
    cases = events = 0
    broken = []
    for case_id, problems in verify_chains(case_ids or None):
        cases += 1
        broken.extend(problems)
    if broken:
        for problem in broken:
            click.echo(f"BROKEN {problem}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"ok: {cases} case chains verified")
