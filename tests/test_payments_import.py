"""``flask payments import FILE``: batches committed one by one, resumable by voucher number."""
from __future__ import annotations

import csv
import json

import sqlalchemy as sa

from payments_helpers import payment
from workflow.db import db
from workflow.monitoring.models import Payment, Warning


def stored() -> list[str]:
    return db.session.execute(sa.select(Payment.voucher_no).order_by(Payment.voucher_no)).scalars().all()


def write_csv(path, rows, encoding="gbk"):
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def test_art9_import_screens_a_gbk_csv_in_batches(runner, demo, tmp_path):
    rows = [payment(voucher_no=f"IMP{i:03d}") for i in range(5)]
    rows[3] = payment(voucher_no="IMP003", summary="购买冬虫夏草", economic_code="30217", settlement="card")
    write_csv(tmp_path / "p.csv", rows)
    result = runner.invoke(args=["payments", "import", str(tmp_path / "p.csv"), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "5 payments stored, 0 already stored" in result.output
    assert "1 warnings" in result.output
    assert stored() == [f"IMP{i:03d}" for i in range(5)]
    assert db.session.execute(sa.select(Warning.rule)).scalars().all() == ["luxury_specialties"]


def test_art9_import_reads_json_lines(runner, demo, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(payment(voucher_no=f"J{i}"), ensure_ascii=False) for i in range(3)),
                    encoding="utf-8")
    result = runner.invoke(args=["payments", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert stored() == ["J0", "J1", "J2"]


def test_art9_interrupted_import_resumes_and_skips_stored_vouchers(runner, demo, tmp_path):
    rows = [payment(voucher_no=f"R{i}") for i in range(6)]
    broken = [*rows[:4], payment(voucher_no="R4", amount="1.001"), rows[5]]
    write_csv(tmp_path / "p.csv", broken)
    result = runner.invoke(args=["payments", "import", str(tmp_path / "p.csv"), "--batch-size", "2"])
    assert result.exit_code != 0
    assert "row 5.amount" in result.output  # counted in the file, not the batch
    assert stored() == ["R0", "R1", "R2", "R3"]  # the batches before the bad one were committed

    write_csv(tmp_path / "p.csv", rows)
    result = runner.invoke(args=["payments", "import", str(tmp_path / "p.csv"), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "2 payments stored, 4 already stored" in result.output
    assert stored() == [f"R{i}" for i in range(6)]
