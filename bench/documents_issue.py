"""Numbered notices: issue_document() per second (counter row lock + render + insert), one
commit each as a case action would, serial and from several threads at once; the render
alone; and an evidence upload's checks (magic bytes + SHA-256) on a 5 MiB PDF.

    python -m bench.documents_issue [--notices 500] [--threads 4] [--database-url postgresql://...]

Without --database-url a temporary SQLite file is used. On PostgreSQL a scratch schema is
created and dropped. Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import threading
import time

import sqlalchemy as sa

from bench.common import scratch_url

CONTEXT = {"payment_date": "2026-02-27", "payee": "克州迎宾馆", "voucher_number": "ZF2026-000318",
           "summary": "接待费（现金）", "payment_status": "held", "interview_date": "2026-03-06", "room": "财政局302室"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()

    from flask_migrate import upgrade

    from api import create_app
    from workflow import demo
    from workflow.db import db
    from workflow.documents import KINDS, Document, issue_document, render
    from workflow.evidence import check_upload
    from workflow.parties import Actor, Organisation, org_by_code

    with scratch_url("postgresql" if args.database_url else "sqlite", args.database_url) as (url, folder):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "FUNDWATCH_UPLOAD_DIR": os.path.join(folder, "uploads")})
        try:
            with app.app_context():
                upgrade(revision="heads")
                demo.load_demo()
                db.session.commit()
                city, unit = org_by_code("653000-CZ"), org_by_code("653000-301001")
                city_id, unit_id = city.id, unit.id
                system = Actor.system()
                backend = db.engine.dialect.name

                started = time.perf_counter()
                for _ in range(args.notices):
                    issue_document(system, kind="interview_notice", issuer=city, addressee=unit, context=CONTEXT)
                    db.session.commit()
                serial = time.perf_counter() - started

                now = dt.datetime.now(dt.timezone.utc)
                started = time.perf_counter()
                for _ in range(args.notices):
                    render(KINDS["interview_notice"], number="2026年第1号", issuer=city, addressee=unit,
                           context=CONTEXT, issued_at=now)
                rendering = time.perf_counter() - started
                db.session.remove()

            per_thread = max(1, args.notices // args.threads)
            errors: list[Exception] = []

            def officer():
                try:
                    with app.app_context():
                        issuer, addressee = db.session.get(Organisation, city_id), db.session.get(Organisation, unit_id)
                        for _ in range(per_thread):
                            issue_document(system, kind="onsite_notice", issuer=issuer, addressee=addressee,
                                           context={**CONTEXT, "team": ["张伟"]})
                            db.session.commit()
                        db.session.remove()
                except Exception as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=officer) for _ in range(args.threads)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            concurrent = time.perf_counter() - started

            with app.app_context():
                seqs = db.session.execute(sa.select(Document.seq).where(Document.kind == "onsite_notice")
                                          .order_by(Document.seq)).scalars().all()
                gap_free = seqs == list(range(1, len(seqs) + 1))

            pdf = b"%PDF-1.7\n" + os.urandom(5 * 1024 * 1024)
            started = time.perf_counter()
            for _ in range(10):
                check_upload(pdf, "整改报告.pdf", "application/pdf")
                hashlib.sha256(pdf).hexdigest()
            checking = (time.perf_counter() - started) / 10

            print(f"backend: {backend}")
            print(f"issue_document + commit, serial: {args.notices} in {serial:.2f} s = "
                  f"{args.notices / serial:.0f}/s ({serial / args.notices * 1000:.2f} ms each)")
            print(f"render alone (Jinja2, annex 1): {rendering / args.notices * 1000:.3f} ms each")
            total = per_thread * args.threads
            print(f"issue_document + commit, {args.threads} threads on one counter: {total} in {concurrent:.2f} s = "
                  f"{total / concurrent:.0f}/s; numbers 1..{len(seqs)} gap-free: {gap_free}; errors: {len(errors)}")
            print(f"evidence checks + SHA-256 of a 5 MiB PDF: {checking * 1000:.1f} ms")
        finally:
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
