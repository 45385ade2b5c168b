"""Notices as PDF: seconds per notice typeset by WeasyPrint (workflow.pdf.render_pdf) from an interview
notice's HTML, and the PDF's size; says whether HarfBuzz's subsetter was found (without it
WeasyPrint subsets the CJK font with fontTools, far slower).

    python -m bench.documents_pdf [--notices 20]

Needs no database. Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
from types import SimpleNamespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=20)
    args = parser.parse_args()

    from weasyprint.text.ffi import harfbuzz_subset

    from workflow.pdf import render_pdf
    from workflow.documents import KINDS, render

    city = SimpleNamespace(name="克孜勒苏柯尔克孜自治州财政局", parent=None, kind="finance")
    competent = SimpleNamespace(name="中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会", parent=None, kind="competent")
    unit = SimpleNamespace(name=competent.name + "机关", parent=competent, kind="unit")
    context = {"payment_date": dt.date(2026, 2, 27), "payee": "克州迎宾馆", "voucher_number": "ZF2026-000318",
               "summary": "接待费（现金）", "payment_status": "held", "interview_date": dt.date(2026, 3, 6),
               "room": "财政局302室"}
    html = render(KINDS["interview_notice"], number="2026年第1号", issuer=city, addressee=unit, context=context,
                  issued_at=dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.timezone.utc))

    started = time.perf_counter()
    first = render_pdf(html)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.notices):
        render_pdf(html)
    warm = (time.perf_counter() - started) / max(1, args.notices)
    print(f"HarfBuzz subsetter: {'yes' if harfbuzz_subset else 'no (fontTools)'}")
    print(f"first PDF (fonts loaded): {cold:.2f} s; then {warm:.3f} s a notice over {args.notices}; "
          f"{len(first) / 1024:.0f} KiB each")


if __name__ == "__main__":
    main()
