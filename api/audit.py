"""``flask --app wsgi audit verify``: walk every case's hash chain and every journal stream,
then check the business invariants the chains cannot see (workflow.invariants)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from workflow.audit import verify_chains
from workflow.invariants import check_invariants
from workflow.journal import verify_journal

audit_cli = AppGroup("audit", help="Check the tamper-evident case history and journal.")


@audit_cli.command("verify")
@click.option("--case", "case_ids", type=int, multiple=True,
              help="Only these case ids (the journal is then not checked).")
def verify(case_ids):
    """Recompute every SHA-256 chain: the case histories, then the journal's streams; then
    check the invariants (one decision per warning, one case per confirmed warning, one
    rung per case, once-only acts). Exit 1 naming each broken case or stream and the event
    or entry where it breaks, and each violated invariant with the records concerned."""
    cases = streams = 0
    broken = []
    for _case_id, problems in verify_chains(case_ids or None):
        cases += 1
        broken.extend(problems)
    violated = []
    if not case_ids:
        for _stream, problems in verify_journal():
            streams += 1
            broken.extend(problems)
        violated = list(check_invariants())
    for problem in broken:
        click.echo(f"BROKEN {problem}", err=True)
    for violation in violated:
        click.echo(f"VIOLATED {violation}", err=True)
    if broken or violated:
        raise click.exceptions.Exit(1)
    click.echo(f"ok: {cases} case chains verified"
               + ("" if case_ids else f", {streams} journal streams verified, invariants hold"))
