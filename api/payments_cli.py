"""``flask --app wsgi payments import FILE``: screen and store a large payment file.

The file is CSV (UTF-8 or GBK, header row with the API's field names) or JSON lines
(one payment object a line; ``.jsonl``/``.ndjson``, or any file whose first character
is ``{``). Rows are screened in batches, each committed on its own, so an interruption
loses at most the batch in flight; running the command again skips every voucher
already stored (screening answers them with their stored record) and carries on.

A row whose voucher number is already stored with different content (or stands earlier in
the file with different content) is a changed instruction under an old number: it is not
imported, the rest is, and each such row is reported with its line of the file and the
fields that differ; the command then exits non-zero. Running it again still resumes by
voucher number (and reports those rows again until the file is corrected).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re

import click
from flask.cli import AppGroup

from api.uploads import decode_text
from workflow.db import analyse, db
from workflow.errors import DomainError
from workflow.monitoring.screening import screen_payments
from workflow.parties import Actor, User

payments_cli = AppGroup("payments", help="Payment intake.")
MAX_LISTED = 200  # refused rows reported one by one
GROWN_TABLES = ("payments", "warnings", "spending_totals")  # what an import adds rows to


def _read_rows(path: str):
    """Yield ``(line, payment dict)`` from CSV or JSON lines, ``line`` being where the row
    ends in the file (from 1); the whole file is decoded once so that GBK files are
    recognised (the decoder tries UTF-8 first, then GB18030)."""
    with open(path, "rb") as handle:
        text = decode_text(handle.read(), "file")
    is_json_lines = path.lower().endswith((".jsonl", ".ndjson", ".json")) or text.lstrip().startswith("{")
    if is_json_lines:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise click.ClickException(f"line {number}: not JSON ({exc.msg})") from exc
        return
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise click.ClickException("the CSV has no header row")
    for row in reader:
        if None in row:
            raise click.ClickException(f"CSV line {reader.line_num}: more cells than the header")
        cleaned = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
        if cleaned:
            yield reader.line_num, cleaned


def _batches(rows, size: int):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _file_row(key: str, offset: int, lines: list[int]) -> str:
    """``row N.field`` counts within the batch; the operator wants the line and row of the file."""
    return re.sub(r"^row (\d+)", lambda m: f"line {lines[int(m.group(1)) - 1]}: row {int(m.group(1)) + offset}",
                  key)


def _in_file(reason: str, offset: int, lines: list[int]) -> str:
    """A reason that names an earlier row of the batch (``row 1 has ...``) names it in the file."""
    return re.sub(r"^row (\d+)\b",
                  lambda m: f"row {int(m.group(1)) + offset} (line {lines[int(m.group(1)) - 1]})", reason)


def _count_rows(path: str) -> int:
    with open(path, "rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines if path.lower().endswith((".jsonl", ".ndjson", ".json")) else max(lines - 1, 0)


@payments_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows screened and committed together.")
@click.option("--as", "email", default=None, help="Act as this finance or bank user (default: the system).")
def import_payments(path, batch_size, email):
    """Screen and store the payments in PATH (CSV or JSON lines), committing every batch."""
    actor = Actor.system()
    if email:
        user = db.session.execute(db.select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            raise click.ClickException(f"no user {email}")
        actor = Actor.of(user)
    totals = {"created": 0, "duplicates": 0, "warnings": 0, "held": 0}
    refused: list[str] = []
    done = 0
    analysed_at = 0  # payments stored by this import when the statistics were last refreshed
    with click.progressbar(length=_count_rows(path), label=f"screening {os.path.basename(path)}",
                           show_pos=True) as bar:
        for numbered in _batches(_read_rows(path), batch_size):
            lines = [line for line, _ in numbered]
            batch = [row for _, row in numbered]
            try:
                result = screen_payments(actor, batch, answer=False, max_rows=None, changed="skip")
            except DomainError as error:
                db.session.rollback()
                where = f"rows {done + 1}-{done + len(batch)} (lines {lines[0]}-{lines[-1]})"
                details = "; ".join(f"{_file_row(k, done, lines)}: {', '.join(map(str, v))}"
                                    for k, v in list(error.errors.items())[:20])
                raise click.ClickException(
                    f"{where} rejected, nothing of that batch stored ({done} rows before it are stored): "
                    f"{error.message}. {details}") from error
            db.session.commit()
            for key in totals:
                totals[key] += getattr(result, key)
            if totals["created"] >= 2 * analysed_at + batch_size:
                # PostgreSQL: each time this import has doubled what it stored, so that the
                # next batches are planned for the tables as they now are (issue 15 item 2)
                analyse(*GROWN_TABLES)
                db.session.commit()
                analysed_at = totals["created"]
            for row, voucher, reasons in result.refused:
                refused.append(f"line {lines[row - 1]}: row {row + done} (voucher {voucher}) not imported: "
                               + "; ".join(f"{name}: {_in_file(reason, done, lines)}"
                                           for name, reason in reasons.items()))
            done += len(batch)
            bar.update(len(batch))
    if totals["created"] > analysed_at:
        analyse(*GROWN_TABLES)
        db.session.commit()
    click.echo(f"{done} rows: {totals['created']} payments stored, {totals['duplicates']} already stored "
               f"(skipped), {len(refused)} refused, {totals['warnings']} warnings, {totals['held']} payments held")
    if refused:
        for report in refused[:MAX_LISTED]:
            click.echo(report, err=True)
        if len(refused) > MAX_LISTED:
            click.echo(f"... and {len(refused) - MAX_LISTED} more", err=True)
        raise click.ClickException(
            f"{len(refused)} rows not imported: their voucher numbers are already used for different content "
            f"(a changed instruction needs its own voucher number); the other rows are stored")
