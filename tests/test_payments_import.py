"""``flask payments import FILE``: batches committed one by one, resumable by voucher number."""
from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from payments_helpers import payment

from workflow.db import db
from workflow.monitoring.models import MonitoringWarning, Payment


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
    assert db.session.execute(sa.select(MonitoringWarning.rule)).scalars().all() == ["luxury_specialties"]


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


def amount_of(voucher_no):
    return db.session.execute(sa.select(Payment.amount).where(Payment.voucher_no == voucher_no)).scalar_one()


def test_art9_import_refuses_a_changed_resend_naming_its_line_and_stores_the_rest(runner, demo, tmp_path):
    rows = [payment(voucher_no=f"C{i}") for i in range(3)]
    write_csv(tmp_path / "first.csv", rows)
    assert runner.invoke(args=["payments", "import", str(tmp_path / "first.csv")]).exit_code == 0

    resent = [rows[0], {**rows[1], "amount": "999.00"}, rows[2], payment(voucher_no="C3")]
    write_csv(tmp_path / "again.csv", resent)
    result = runner.invoke(args=["payments", "import", str(tmp_path / "again.csv"), "--batch-size", "2"])
    assert result.exit_code != 0
    # line 1 is the header: C1 is on line 3
    assert "line 3: row 2 (voucher C1) not imported" in result.output
    assert "amount: stored payment" in result.output and "has 300.00, this row 999.00" in result.output
    assert "1 payments stored, 2 already stored (skipped), 1 refused" in result.output
    assert stored() == ["C0", "C1", "C2", "C3"]
    assert amount_of("C1") == Decimal("300.00")


def test_art9_import_resumes_by_voucher_number_past_a_refused_changed_resend(runner, demo, tmp_path):
    rows = [payment(voucher_no=f"S{i}") for i in range(4)]
    write_csv(tmp_path / "p.csv", rows[:2])
    runner.invoke(args=["payments", "import", str(tmp_path / "p.csv")])
    write_csv(tmp_path / "p.csv", [rows[0], {**rows[1], "payee_name": "别的公司"}, *rows[2:]])
    first = runner.invoke(args=["payments", "import", str(tmp_path / "p.csv"), "--batch-size", "1"])
    again = runner.invoke(args=["payments", "import", str(tmp_path / "p.csv"), "--batch-size", "1"])
    assert first.exit_code != 0 and again.exit_code != 0
    assert "2 payments stored, 1 already stored (skipped), 1 refused" in first.output
    assert "0 payments stored, 3 already stored (skipped), 1 refused" in again.output
    assert "line 3: row 2 (voucher S1) not imported" in again.output
    assert stored() == ["S0", "S1", "S2", "S3"]


@pytest.mark.parametrize("batch_size", ["1", "10"])
def test_art9_import_keeps_the_first_of_a_voucher_repeated_with_other_content_whatever_the_batching(
        runner, demo, tmp_path, batch_size):
    path = tmp_path / "p.jsonl"
    lines = [payment(voucher_no="D0"), payment(voucher_no="D1"), payment(voucher_no="D0", amount="450.00")]
    # a blank line: lines are counted in the file, rows among the payments
    path.write_text("\n\n".join(json.dumps(r, ensure_ascii=False) for r in lines), encoding="utf-8")
    result = runner.invoke(args=["payments", "import", str(path), "--batch-size", batch_size])
    assert result.exit_code != 0
    assert "line 5: row 3 (voucher D0) not imported" in result.output
    assert "this row 450.00" in result.output
    if batch_size == "10":  # the earlier row of the same batch is named by its place in the file
        assert "row 1 (line 1) has this voucher number with different amount" in result.output
    assert stored() == ["D0", "D1"]
    assert amount_of("D0") == Decimal("300.00")
