"""One builder per message template (:data:`workflow.messages.TEMPLATES`).

Each builder takes the domain objects a message is about and returns the keyword
arguments of :func:`workflow.outbox.notify`: ``key``, ``template``, ``context``,
``org_ids`` and ``case_id``; a message sent to several parties, each with its own
wording, is a list of them. Call sites read ``notify(**message_builders.x(...))``.
The builder, not the call site, knows what its template needs (``requires``) and
which labels (machine states and actions) the reader is shown.

The case engine's messages (a machine row's ``Tell``) share the facts of the transition
(:func:`case_facts`); :data:`CASE_MESSAGES` maps each template a ``Tell`` may name to
its builder.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from workflow.documents import KINDS
from workflow.machines import MACHINES, NEW
from workflow.machines.base import Context

# --- case transitions (workflow.cases) -----------------------------------------------------

def rung_label(machine: str, rung: str) -> str:
    """A rung's name for the reader, from the machine's table (the code if not a state)."""
    spec = MACHINES[machine]
    return spec.state(rung).label if rung in spec.states else rung


def action_label(machine: str, trigger: str | None) -> str | None:
    """An action's name and article for the reader, from the machine's table."""
    if trigger is None:
        return None
    rows = MACHINES[machine].by_trigger.get(trigger)
    return f"{rows[0].label}（{rows[0].article.chinese}）" if rows else trigger


def case_facts(ctx: Context, documents: Sequence, competent) -> dict:
    """What every message of a transition may tell: who, what, which rung, until when."""
    case, spec, row = ctx.case, ctx.machine, ctx.row
    assert row is not None
    subject = case.subject
    return {
        "subject_name": subject.name, "unit_name": subject.name, "trigger": row.trigger,
        "trigger_label": row.label, "state": case.state, "state_label": spec.state(case.state).label,
        "rung": spec.state(case.rung).label if case.rung != NEW else "", "from_rung": spec.state(ctx.from_state).label,
        "deadline": case.deadline.isoformat() if case.deadline else None, "summary": case.summary,
        "article": row.article.short, "actor_name": ctx.actor.name,
        "document_number": documents[0].number if documents else None,
        "competent_name": competent.name if competent else None,
        "note": next((ctx.payload[k] for k in ("note", "reason", "report", "findings") if ctx.payload.get(k)), None),
        "submission": "书面整改结果及佐证材料", "reason": ctx.payload.get("reason"), "effective": ctx.now.isoformat(),
    }


def _to_party(template: str, facts: dict, key: str, case_id: int, recipient) -> dict:
    return dict(key=key, template=template, case_id=case_id, org_ids=[recipient.id],
                context={**facts, "recipient_name": recipient.name, "recipient_kind": recipient.kind})


def _to_bank(template: str, facts: dict, key: str, case_id: int, bank, accounts: Sequence[str]) -> dict:
    return dict(key=key, template=template, case_id=case_id, org_ids=[bank.id],
                context={**facts, "bank_name": bank.name, "accounts": accounts, "recipient_name": bank.name})


def case_opened(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 11(五), 21, 22: the subject learns of the case, its rung and deadline; a unit's
    competent department, that a case was opened on its unit."""
    return _to_party("case_opened", facts, key, case_id, recipient)


def case_action(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 21-24: an action moved the case (any party)."""
    return _to_party("case_action", facts, key, case_id, recipient)


def rectification_order_copy(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 21(三): the competent department's copy of a rectification order."""
    return _to_party("rectification_order_copy", facts, key, case_id, recipient)


def case_escalated(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 21(三)-(四), 22: the case moved up the ladder after its deadline."""
    return _to_party("case_escalated", facts, key, case_id, recipient)


def referral(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 23: the oversight body the case is referred to."""
    return _to_party("referral", facts, key, case_id, recipient)


def unit_submission(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 21, 27(四): finance and the unit's competent department learn that the unit
    submitted its rectification results."""
    return _to_party("unit_submission", facts, key, case_id, recipient)


def dispute_filed(facts: dict, *, key: str, case_id: int, recipient) -> dict:
    """Art. 24: finance learns that the bank took a dispute to arbitration or court."""
    return _to_party("dispute_filed", facts, key, case_id, recipient)


def suspension_to_execute(facts: dict, *, key: str, case_id: int, bank, accounts: Sequence[str]) -> dict:
    """Art. 21(四), 28: a bank of the unit's accounts is to suspend disbursement."""
    return _to_bank("suspension_to_execute", facts, key, case_id, bank, accounts)


def account_closure_to_execute(facts: dict, *, key: str, case_id: int, bank, accounts: Sequence[str]) -> dict:
    """Art. 21(四), 28: a bank is to close the unit's accounts it keeps and confirm."""
    return _to_bank("account_closure_to_execute", facts, key, case_id, bank, accounts)


def notice_circulated(facts: dict, *, key: str, case_id: int, recipient, document) -> dict:
    """Art. 21(五): a party in a 通报's scope receives it (the notice in its document list)."""
    return dict(key=key, template="notice_circulated", case_id=case_id, org_ids=[recipient.id],
                context={**facts, "recipient_name": recipient.name, "document_kind": document.kind,
                         "document_number": document.number, "document_title": document.title,
                         "issuer_name": document.issuer.name, "path": f"/api/v1/documents/{document.id}"})


# The templates a machine row's Tell may name: to one party, to each bank of the unit, or to
# each party a notice of the action was circulated to.
CASE_MESSAGES = {f.__name__: f for f in (case_opened, case_action, rectification_order_copy, case_escalated,
                                         referral, unit_submission, dispute_filed)}
BANK_MESSAGES = {f.__name__: f for f in (suspension_to_execute, account_closure_to_execute)}
CIRCULATED_MESSAGES = {f.__name__: f for f in (notice_circulated,)}


# --- deadlines (workflow.scheduling) -------------------------------------------------------

def deadline_reminder(case, *, key: str, deadline: dt.datetime, days_left: int) -> dict:
    """Art. 21: the subject is reminded of its deadline (N working days left, or today)."""
    return dict(key=key, template="deadline_reminder", case_id=case.id, org_ids=[case.subject_id],
                context={"subject_name": case.subject.name, "rung": rung_label(case.machine, case.rung),
                         "deadline": deadline, "days_left": days_left, "recipient_name": case.subject.name})


def case_overdue(case, *, key: str, deadline: dt.datetime, proposal: str | None, note: str | None) -> dict:
    """Art. 21(三)-(四): finance learns a deadline passed, with the proposed next action."""
    return dict(key=key, template="case_overdue", case_id=case.id, org_ids=[case.finance_id],
                context={"subject_name": case.subject.name, "rung": rung_label(case.machine, case.rung),
                         "deadline": deadline, "proposed_action": action_label(case.machine, proposal),
                         "note": note, "recipient_name": case.finance.name})


def overdue_digest(*, org_id: int, finance_name: str, day: dt.date, cases: list[dict], now: dt.datetime) -> dict:
    """Art. 21: a finance department's daily list of overdue cases (``cases``: case_id,
    subject_name, rung label, deadline, proposed_action label)."""
    return dict(key=f"digest:org={org_id}:day={day.isoformat()}", template="overdue_digest", org_ids=[org_id],
                context={"finance_name": finance_name, "cases": cases, "as_of": now, "recipient_name": finance_name})


# --- verification of warnings (workflow.verification) --------------------------------------

def document_issued(warning, step, *, document, issuer, addressee, org_ids: Iterable[int]) -> dict:
    """Art. 11, 21: a numbered notice of a verification step went to the unit (and its department)."""
    return dict(key=f"warning:{warning.id}:step:{step.id}:document", template="document_issued",
                context={"document_kind": document.kind, "document_name": KINDS[document.kind].short_name,
                         "issuer_name": issuer.name, "addressee_name": addressee.name,
                         "document_number": document.number, "path": f"/api/v1/documents/{document.id}"},
                org_ids=list(org_ids))


def materials_requested(warning, step, *, unit, recipients: Sequence, documents: list[str],
                        due_date: dt.date) -> list[dict]:
    """Art. 11(二)2: the unit and the bank carrying the payment are asked for materials."""
    return [dict(key=f"warning:{warning.id}:step:{step.id}:materials:{recipient.id}", template="materials_requested",
                 context={"unit_name": unit.name, "recipient_name": recipient.name,
                          "documents": documents, "due_date": due_date.isoformat(),
                          "voucher_number": warning.payment.voucher_no if warning.payment is not None else None,
                          "path": f"/api/v1/warnings/{warning.id}"},
                 org_ids=[recipient.id])
            for recipient in recipients]


def joint_investigation(warning, step, *, unit, body, matters: str, deadline) -> dict:
    """Art. 11(二)5: an audit or discipline body is asked to investigate jointly."""
    return dict(key=f"warning:{warning.id}:step:{step.id}:joint", template="joint_investigation",
                context={"subject_name": unit.name, "recipient_name": body.name, "matters": matters,
                         "deadline": deadline, "path": f"/api/v1/warnings/{warning.id}"},
                org_ids=[body.id])


def _step_facts(request, step, warning, kind) -> dict:
    """What a step's reminder and overdue notice both say: the step (its kind's row ``kind``,
    :data:`workflow.verification_steps.STEP_KINDS`), what it asks, of whom, by when."""
    payment = warning.payment
    return {"step_id": step.id, "step_title": kind.title, "article": kind.article.chinese, "what": kind.asks.what,
            "unit_name": warning.unit.name, "voucher_number": payment.voucher_no if payment is not None else None,
            "due_at": request.due_at, "appointment_at": request.appointment_at, "step_at": step.created_at,
            "finance_name": request.finance.name, "asked_name": request.org.name,
            "path": f"/api/v1/warnings/{warning.id}"}


def step_reminder(request, step, warning, kind, *, key: str, days_left: int) -> dict:
    """Art. 11(二)2-5: the party a verification step asks is reminded of its due date (N working
    days left, or today); for a joint investigation that is the oversight body alone."""
    return dict(key=key, template="step_reminder", org_ids=[request.org_id],
                context={**_step_facts(request, step, warning, kind), "days_left": days_left,
                         "recipient_name": request.org.name})


def step_overdue(request, step, warning, kind, *, key: str) -> dict:
    """Art. 11(二): the finance department that issued the step learns that the party asked did
    not answer by the due date."""
    return dict(key=key, template="step_overdue", org_ids=[request.finance_id],
                context={**_step_facts(request, step, warning, kind), "recipient_name": request.finance.name})


def warning_raised(unit, items: Sequence[dict], *, batch: str, finance, competent, banks: Iterable,
                   manual: bool = False) -> list[dict]:
    """Art. 11(一), 12: the unit learns which of its payments screening held or warned on in
    one batch (or what finance raised by hand, ``manual``): each item's payment (voucher,
    payee, amount), level, rule and article. Finance in charge gets the same list; where an
    item is block-level, the competent department gets it too, and each bank in ``banks``
    the block-level items on the payments it carries (never another bank's). ``items``: dicts
    of warning_id, voucher_number, payee_name, amount, level and level_label, rule and
    rule_title, article (Chinese), message, bank_id. One message per recipient, keyed
    ``<batch>:unit=<id>:to=<org id>``."""
    items = list(items)
    blocking = [item for item in items if item["level"] == "block"]

    def path(told: list[dict]) -> str:
        return (f"/api/v1/warnings/{told[0]['warning_id']}" if len(told) == 1
                else f"/api/v1/warnings?unit_code={unit.code}&status=open")

    to = [(unit, "unit", items), (finance, "finance", items)]
    if blocking:
        to.append((competent, "competent", items))
        to.extend((bank, "bank", [item for item in blocking if item["bank_id"] == bank.id]) for bank in banks)
    return [dict(key=f"{batch}:unit={unit.id}:to={recipient.id}", template="warning_raised",
                 context={"unit_name": unit.name, "recipient_name": recipient.name, "recipient_kind": kind,
                          "items": told, "payments": _by_payment(told),
                          "blocked": sum(1 for item in told if item["level"] == "block"),
                          "manual": manual, "path": path(told)},
                 org_ids=[recipient.id])
            for recipient, kind, told in to if recipient is not None and told]


def _by_payment(items: list[dict]) -> list[dict]:
    """The items grouped by payment (voucher number, unique within the unit), in their order;
    an item on the unit alone is a group of its own."""
    groups: dict = {}
    for item in items:
        key = item["voucher_number"] or ("warning", item["warning_id"])
        group = groups.setdefault(key, {"voucher_number": item["voucher_number"], "payee_name": item["payee_name"],
                                        "amount": item["amount"], "findings": []})
        group["findings"].append(item)
    return list(groups.values())


def warning_dismissed(warning, *, finance_name: str, reason: str) -> dict:
    """Art. 11(二): the unit learns a warning was dismissed, and whether its payment was released."""
    unit, payment = warning.unit, warning.payment
    return dict(key=f"warning:{warning.id}:dismissed", template="warning_dismissed",
                context={"unit_name": unit.name, "reason": reason, "article": warning.article,
                         "message": warning.message, "finance_name": finance_name,
                         "voucher_number": payment.voucher_no if payment is not None else None,
                         "amount": payment.amount if payment is not None else None,
                         "payment_status": payment.status if payment is not None else None,
                         "path": f"/api/v1/warnings/{warning.id}"},
                org_ids=[unit.id])


def warning_transferred(warning, transfer, *, document, issuer) -> list[dict]:
    """Art. 11(三): the department a matter is handed on to receives the 移交函 and the warning to
    answer; the unit learns that its matter was handed on to that department (not the letter)."""
    receiver, unit, payment = transfer.receiver, warning.unit, warning.payment
    common = {"unit_name": unit.name, "receiver_name": receiver.name, "issuer_name": issuer.name,
              "article": "第十一条（三）", "message": warning.message,
              "voucher_number": payment.voucher_no if payment is not None else None,
              "amount": payment.amount if payment is not None else None,
              "payment_status": payment.status if payment is not None else None}
    return [
        dict(key=f"warning:{warning.id}:transferred:receiver", template="warning_transferred",
             context={**common, "to_receiver": True, "recipient_name": receiver.name,
                      "document_name": KINDS[document.kind].short_name, "document_number": document.number,
                      "reply_by": transfer.details.get("reply_by"), "path": f"/api/v1/warnings/{warning.id}"},
             org_ids=[receiver.id]),
        dict(key=f"warning:{warning.id}:transferred:unit", template="warning_transferred",
             context={**common, "to_receiver": False, "recipient_name": unit.name,
                      "path": f"/api/v1/warnings/{warning.id}"},
             org_ids=[unit.id]),
    ]


def transfer_closed(warning, *, finance_name: str, summary: str) -> dict:
    """Art. 11(三): the unit learns the matter handed on was closed, and what became of its payment."""
    unit, payment = warning.unit, warning.payment
    return dict(key=f"warning:{warning.id}:transfer_closed", template="transfer_closed",
                context={"unit_name": unit.name, "summary": summary, "finance_name": finance_name,
                         "message": warning.message,
                         "voucher_number": payment.voucher_no if payment is not None else None,
                         "payment_status": payment.status if payment is not None else None,
                         "path": f"/api/v1/warnings/{warning.id}"},
                org_ids=[unit.id])


# --- banks and the public (workflow.bank_intake, workflow.complaints) ----------------------

def bank_refusal(refusal, *, bank, unit, payment, warning, finance) -> list[dict]:
    """Art. 28(三): finance (if the unit has one in charge) and the unit are told of a bank's
    refusal and its reason."""
    context = {"bank_name": bank.name, "unit_name": unit.name, "reason": refusal.reason,
               "voucher_number": payment.voucher_no, "amount": str(payment.amount),
               "path": f"/api/v1/warnings/{warning.id}"}
    messages = []
    if finance is not None:
        messages.append(dict(key=f"bank_refusal:{refusal.id}:finance", template="bank_refusal",
                             context={**context, "finance_name": finance.name}, org_ids=[finance.id]))
    messages.append(dict(key=f"bank_refusal:{refusal.id}:unit", template="bank_refusal",
                         context={**context, "finance_name": unit.name}, org_ids=[unit.id]))
    return messages


def bank_report(report, *, bank, unit, payment, warning, finance) -> dict:
    """Art. 10(四)6: finance in charge learns that a bank reported a suspected violation on a
    payment it carries, without refusing it; the bank's finding, the warning to verify."""
    return dict(key=f"bank_report:{report.id}", template="bank_report",
                context={"bank_name": bank.name, "unit_name": unit.name, "finding": report.finding,
                         "article": warning.article, "finance_name": finance.name,
                         "voucher_number": payment.voucher_no, "amount": str(payment.amount),
                         "payment_status": payment.status, "path": f"/api/v1/warnings/{warning.id}"},
                org_ids=[finance.id])


def complaint_received(complaint, *, finance, unit, summary: str, now: dt.datetime) -> dict:
    """Art. 20: finance learns of a complaint, from the web form or a hotline call (and who
    recorded the call); the complainant is never named."""
    return dict(key=f"complaint:{complaint.id}:received", template="complaint_received",
                context={"complaint_id": complaint.id, "finance_name": finance.name,
                         "unit_name": unit.name if unit is not None else complaint.subject_text,
                         "summary": summary, "received_at": now.isoformat(),
                         "by_phone": complaint.channel == "phone", "recorded_by": complaint.recorded_by_name,
                         "path": f"/api/v1/complaints/{complaint.id}"},
                org_ids=[finance.id])
