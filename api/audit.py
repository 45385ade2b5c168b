"""``flask --app wsgi audit verify``: walk every case's hash chain and every journal stream."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from workflow.cases import verify_chains
from workflow.journal import verify_journal

audit_cli = AppGroup("audit", help="Check the tamper-evident case history and journal.")


@audit_cli.command("verify")
@click.option("--case", "case_ids", type=int, multiple=True,
              help="Only these case ids (the journal is then not checked).")
def verify(case_ids):
    """Recompute every SHA-256 chain: the case histories, then the journal's streams.
    Exit 1 naming each broken case or stream and the event or entry where it breaks."""
    cases = streams = 0
    broken = []
    for _case_id, problems in verify_chains(case_ids or None):
        cases += 1
        broken.extend(problems)
    if not case_ids:
        for _stream, problems in verify_journal():
            streams += 1
            broken.extend(problems)
    if broken:
        for problem in broken:
            click.echo(f"BROKEN {problem}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"ok: {cases} case chains verified" + ("" if case_ids else f", {streams} journal streams verified"))
