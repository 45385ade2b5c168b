"""The console's pages: each reads through the same ``workflow`` functions as the API and
posts to the same domain calls; what a party may do is asked of the domain
(:func:`workflow.cases.allowed_actions`, :func:`workflow.verification.allowed_on`), and the
forms are drawn from the tables' rows (:mod:`console.forms`). A refusal (Invalid, Conflict,
Forbidden) comes back on the form it concerns, beside the field it names."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from markupsafe import Markup

from console import forms
from console.blueprint import bp
from console.session import current_actor
from workflow import case_records, cases, documents, evidence, verification, worklists
from workflow.case_records import CaseEvent
from workflow.db import commit_without_expiring, db
from workflow.documents import KINDS as DOCUMENT_KINDS
from workflow.errors import DomainError, Invalid, NotFound
from workflow.machines import MACHINES
from workflow.machines.diagram import render_svg
from workflow.machines.warning import LIFECYCLE as WARNING_LIFECYCLE
from workflow.monitoring.models import WARNING_LEVELS, WARNING_STATUSES
from workflow.monitoring.rules import RULE_TITLES
from workflow.pdf import render_pdf
from workflow.settings import current
from workflow.verification import CASE_RUNGS
from workflow.verification_steps import STEP_KINDS


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 6 else 1


def _failure(form: str, error: DomainError, posted: dict | None = None) -> dict:
    db.session.rollback()
    return {"form": form, "status": error.status, "message": error.message,
            "errors": forms.field_errors(error.errors), "values": posted or {}}


def _errors_for(failed: dict | None, form: str) -> tuple[dict, dict]:
    if failed and failed["form"] == form:
        return failed["values"], failed["errors"]
    return {}, {}


# --- home: the to-do list ------------------------------------------------------------------------

@bp.route("/")
def home():
    actor = current_actor()
    return render_template("console/home.html", todo=worklists.todo(actor), levels=WARNING_LEVELS,
                           days_left=worklists.working_days_left, next_steps=lambda case: _next_steps(actor, case))


def _next_steps(actor, case) -> list[str]:
    """What the viewer may do on ``case`` now, by the labels of the table's rows."""
    machine = MACHINES[case.machine]
    return [machine.by_trigger[trigger][0].label for trigger in cases.allowed_actions(actor, case)]


# --- warnings ---------------------------------------------------------------------------------------

@bp.route("/warnings")
def warnings():
    actor = current_actor()
    filters = {name: request.args.get(name, "") for name in worklists.WARNING_FILTERS}
    sort = request.args.get("sort") or "-id"
    error = None
    try:
        page = worklists.warning_page(actor, filters, sort=sort, page=_page_number())
    except DomainError as exc:
        db.session.rollback()
        error = {"message": exc.message, "errors": forms.field_errors(exc.errors)}
        page = worklists.Page([], 1, False)
    return render_template("console/warnings.html", page=page, filters=filters, sort=sort, error=error,
                           levels=WARNING_LEVELS, statuses=WARNING_STATUSES, rules=RULE_TITLES,
                           sorts=worklists.WARNING_SORTS), 422 if error else 200


def _step_forms(actor, failed):
    out = []
    for kind in STEP_KINDS.values():
        form_id = f"step-{kind.name}"
        values, errors = _errors_for(failed, form_id)
        options = {f.name: tuple((o.code, f"{o.name}（{o.code}）") for o in case_records.reachable_orgs(actor, f.org_kind))
                   for f in kind.fields if f.type == "org"}
        out.append({"id": form_id, "kind": kind.name, "title": kind.title, "article": kind.article.chinese,
                    "inputs": forms.inputs(kind.fields, values=values, errors=errors, options=options),
                    "notice": DOCUMENT_KINDS[kind.notice.kind].short_name if kind.notice else None,
                    "confidential": kind.confidential})
    return out


def _confirm_forms(failed):
    out = []
    for rung in CASE_RUNGS:
        opening = MACHINES["unit_case"].openings[rung]
        form_id = f"confirm-{rung}"
        values, errors = _errors_for(failed, form_id)
        out.append({"id": form_id, "rung": rung, "title": opening.label, "article": opening.article.chinese,
                    "state": MACHINES["unit_case"].state(rung).label,
                    "inputs": forms.inputs(verification.confirm_fields(rung), values=values, errors=errors)})
    return out


def _warning_page(warning_id: int, failed: dict | None = None, status: int = 200):
    actor = current_actor()
    detail = verification.detail(actor, warning_id)
    allowed = verification.allowed_on(actor, detail)
    step_labels = {name: {f.name: f.label for f in kind.fields} for name, kind in STEP_KINDS.items()}
    notices = db.session.execute(sa.select(documents.Document).where(
        documents.Document.id.in_(detail.document_ids)).order_by(documents.Document.id)).scalars().all()
    return render_template(
        "console/warning.html", w=detail, allowed=allowed, failed=failed, step_kinds=STEP_KINDS,
        step_labels=step_labels, notices=notices,
        step_forms=_step_forms(actor, failed) if "step" in allowed else [],
        confirm_forms=_confirm_forms(failed) if "confirm" in allowed else [],
        respond_values=_errors_for(failed, "respond"), dismiss_values=_errors_for(failed, "dismiss"),
        lifecycle=WARNING_LIFECYCLE), status


@bp.route("/warnings/<int:warning_id>")
def warning(warning_id):
    return _warning_page(warning_id)


@bp.route("/warnings/<int:warning_id>/steps", methods=["POST"])
def warning_step(warning_id):
    kind = STEP_KINDS.get(request.form.get("kind", ""))
    if kind is None:
        abort(404)
    data, posted = forms.read(kind.fields, request.form)
    try:
        verification.add_step(current_actor(), warning_id, {"kind": kind.name, **data})
        db.session.commit()
    except NotFound:
        raise
    except DomainError as error:
        return _warning_page(warning_id, _failure(f"step-{kind.name}", error, posted), error.status)
    flash(f"已记录核实步骤：{kind.title}")
    return redirect(url_for("console.warning", warning_id=warning_id))


@bp.route("/warnings/<int:warning_id>/responses", methods=["POST"])
def warning_response(warning_id):
    posted = {"text": request.form.get("text", ""), "evidence_ref": request.form.get("evidence_ref", "")}
    try:
        verification.add_response(current_actor(), warning_id, posted)
        db.session.commit()
    except NotFound:
        raise
    except DomainError as error:
        return _warning_page(warning_id, _failure("respond", error, posted), error.status)
    flash("答复已提交")
    return redirect(url_for("console.warning", warning_id=warning_id))


@bp.route("/warnings/<int:warning_id>/confirm", methods=["POST"])
def warning_confirm(warning_id):
    rung = request.form.get("rung", "")
    if rung not in CASE_RUNGS:
        abort(404)
    data, posted = forms.read(verification.confirm_fields(rung), request.form)
    posted["release_payment"] = request.form.get("release_payment", "")
    try:
        case = verification.confirm(current_actor(), warning_id,
                                    {"rung": rung, "release_payment": bool(posted["release_payment"]), **data})
        commit_without_expiring()
    except NotFound:
        raise
    except DomainError as error:
        return _warning_page(warning_id, _failure(f"confirm-{rung}", error, posted), error.status)
    flash(f"已确认违规并立案（案件 {case.id}）")
    return redirect(url_for("console.case", case_id=case.id))


@bp.route("/warnings/<int:warning_id>/dismiss", methods=["POST"])
def warning_dismiss(warning_id):
    posted = {"reason": request.form.get("reason", "")}
    try:
        verification.dismiss(current_actor(), warning_id, posted)
        db.session.commit()
    except NotFound:
        raise
    except DomainError as error:
        return _warning_page(warning_id, _failure("dismiss", error, posted), error.status)
    flash("已核实排除")
    return redirect(url_for("console.warning", warning_id=warning_id))


# --- cases -------------------------------------------------------------------------------------------

@bp.route("/cases")
def cases_list():
    actor = current_actor()
    filters = {name: request.args.get(name, "") for name in worklists.CASE_FILTERS}
    sort = request.args.get("sort") or "deadline"
    error = None
    try:
        page = worklists.case_page(actor, filters, sort=sort, page=_page_number())
    except DomainError as exc:
        db.session.rollback()
        error = {"message": exc.message, "errors": forms.field_errors(exc.errors)}
        page = worklists.Page([], 1, False)
    states = {name: state.label for m in MACHINES.values() for name, state in m.states.items() if name != "new"}
    return render_template("console/cases.html", page=page, filters=filters, sort=sort, error=error,
                           machines=MACHINES, states=states, days_left=worklists.working_days_left), \
        422 if error else 200


def _action_forms(actor, case, failed):
    machine = MACHINES[case.machine]
    out = []
    for trigger in cases.allowed_actions(actor, case):
        row = machine.by_trigger[trigger][0]
        form_id = f"action-{trigger}"
        values, errors = _errors_for(failed, form_id)
        options = {}
        for f in row.fields:
            if f.type == "org":
                options[f.name] = tuple((o.code, f"{o.name}（{o.code}）")
                                        for o in case_records.reachable_orgs(actor, f.org_kind))
            elif f.type == "accounts":
                options[f.name] = tuple((a.number, f"{a.number}（{a.kind}）") for a in case_records.subject_accounts(case))
        dest = machine.state(row.dest).label if row.dest else None
        out.append({"id": form_id, "trigger": trigger, "label": row.label, "article": row.article.chinese,
                    "dest": dest, "issues": [DOCUMENT_KINDS[i.kind].short_name for i in row.issues],
                    "inputs": forms.inputs(row.fields, values=values, errors=errors, options=options)})
    return out


def _case_page(case_id: int, failed: dict | None = None, status: int = 200):
    actor = current_actor()
    case = case_records.get_case(actor, case_id)
    machine = MACHINES[case.machine]
    events = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                                .options(sa.orm.joinedload(CaseEvent.actor), sa.orm.joinedload(CaseEvent.party))
                                .order_by(CaseEvent.seq)).scalars().all()
    timeline = [case_records.event_as_seen_by(actor, e) for e in events]
    labels = {t: rows[0].label for t, rows in machine.by_trigger.items()}
    field_labels = {f.name: f.label for t in machine.transitions for f in t.fields if f.label}
    notices = db.session.execute(documents.case_documents(actor, case.id).order_by(documents.Document.id)).scalars().all()
    files = db.session.execute(evidence.evidence_of_case(actor, case.id).order_by(case_records.Evidence.id)).scalars().all()
    may_upload = evidence.may_upload(actor, case) and case.closed_at is None
    return render_template("console/case.html", case=case, machine=machine, timeline=timeline, labels=labels,
                           files=files, may_upload=may_upload, field_labels=field_labels,
                           diagram=Markup(render_svg(machine, case.state)),  # noqa: S704 (built from the table, escaped)
                           action_forms=_action_forms(actor, case, failed), failed=failed, notices=notices,
                           days_left=worklists.working_days_left(case),
                           days_overdue=worklists.working_days_overdue(case)), status


@bp.route("/cases/<int:case_id>")
def case(case_id):
    return _case_page(case_id)


@bp.route("/cases/<int:case_id>/actions/<trigger>", methods=["POST"])
def case_action(case_id, trigger):
    actor = current_actor()
    known = {t for m in MACHINES.values() for t in m.by_trigger}
    if trigger not in known:
        abort(404)
    seen = case_records.get_case(actor, case_id)  # 404 first, as the API
    fields = MACHINES[seen.machine].fields_of(trigger)
    data, posted = forms.read(fields, request.form)
    version = request.form.get("version", "")
    try:
        cases.apply_action(actor, case_id, trigger, {"version": int(version) if version.isdigit() else version, **data})
        commit_without_expiring()
    except NotFound:
        raise
    except DomainError as error:
        return _case_page(case_id, _failure(f"action-{trigger}", error, posted), error.status)
    flash(f"已办理：{MACHINES[seen.machine].by_trigger[trigger][0].label}")
    return redirect(url_for("console.case", case_id=case_id))


@bp.route("/cases/<int:case_id>/evidence", methods=["POST"])
def case_evidence(case_id):
    """Several files at once (佐证材料, Art. 21(一)), each checked as the API checks one; all or none."""
    actor = current_actor()
    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    note = request.form.get("note", "")
    settings = current()
    try:
        if not uploads:
            raise Invalid("no file chosen", {"files": ["请选择至少一个文件"]})
        for upload in uploads:
            data = upload.stream.read(settings.evidence_max_bytes + 1)  # one byte more tells "too large"
            evidence.add_evidence(actor, case_id, data=data, filename=upload.filename, declared_type=upload.mimetype,
                                  note=note, upload_dir=settings.upload_dir, max_bytes=settings.evidence_max_bytes)
        db.session.commit()
    except NotFound:
        raise
    except DomainError as error:
        return _case_page(case_id, _failure("evidence", error, {"note": note}), error.status)
    flash(f"已上传佐证材料 {len(uploads)} 份")
    return redirect(url_for("console.case", case_id=case_id))


# Served bytes are the uploader's: never rendered inline, never sniffed, never scripted.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                    "Cache-Control": "private, no-store"}


@bp.route("/evidence/<int:evidence_id>/download")
def evidence_download(evidence_id):
    row = evidence.get_evidence(current_actor(), evidence_id)
    response = send_file(evidence.path_of(row, current().upload_dir), mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, max_age=0, etag=row.sha256)
    response.headers["Content-Type"] = row.content_type  # as stored, with its charset
    response.headers.update(DOWNLOAD_HEADERS)
    return response


# --- documents ---------------------------------------------------------------------------------------

@bp.route("/documents")
def documents_list():
    actor = current_actor()
    filters = {name: request.args.get(name, "") for name in ("kind", "unacknowledged")}
    error = None
    try:
        page = worklists.document_page(actor, filters, page=_page_number())
    except DomainError as exc:
        db.session.rollback()
        error = {"message": exc.message, "errors": forms.field_errors(exc.errors)}
        page = worklists.Page([], 1, False)
    return render_template("console/documents.html", page=page, filters=filters, error=error,
                           kinds=DOCUMENT_KINDS), 422 if error else 200


def _document_page(document_id: int, failed: dict | None = None, status: int = 200):
    actor = current_actor()
    document = documents.get_document(actor, document_id)
    may_acknowledge = not actor.is_system and document.acknowledged_at is None and actor.org_id == document.addressee_id
    return render_template("console/document.html", d=document, kind=DOCUMENT_KINDS.get(document.kind),
                           may_acknowledge=may_acknowledge, failed=failed), status


@bp.route("/documents/<int:document_id>")
def document(document_id):
    return _document_page(document_id)


@bp.route("/documents/<int:document_id>/notice")
def document_notice(document_id):
    """The notice's HTML as stored at issue, for printing (shown in a sandboxed frame)."""
    document = documents.get_document(current_actor(), document_id)
    return Response(document.html, mimetype="text/html",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:"})


@bp.route("/documents/<int:document_id>/pdf")
def document_pdf(document_id):
    document = documents.get_document(current_actor(), document_id)
    return Response(render_pdf(document.html), mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=document-{document.id}.pdf"})


@bp.route("/documents/<int:document_id>/acknowledge", methods=["POST"])
def document_acknowledge(document_id):
    try:
        documents.acknowledge(current_actor(), document_id)
        db.session.commit()
    except NotFound:
        raise
    except DomainError as error:
        return _document_page(document_id, _failure("acknowledge", error), error.status)
    flash("已签收")
    return redirect(url_for("console.document", document_id=document_id))
