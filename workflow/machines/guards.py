"""Guards: the conditions the regulation puts on an action, as named predicates.

Each reads like the rule it checks. Pure guards look only at the case row and the
clock; the others query the database and are evaluated only when the action is taken.
"""
from __future__ import annotations

import sqlalchemy as sa

from workflow import case_records, deadlines
from workflow.case_records import Evidence
from workflow.db import db
from workflow.machines.base import Context, Guard, guard
from workflow.machines.effects import accounts_to_close


@guard("the deadline has not passed yet (期限尚未届满)")
def has_deadline_passed(ctx: Context) -> bool:
    return ctx.case.deadline is not None and deadlines.has_passed(ctx.case.deadline, ctx.now)


@guard("the written order's deadline has not passed yet (书面整改意见限期尚未届满)")
def order_not_carried_out_in_time(ctx: Context) -> bool:
    """Art. 21(四): suspension and closure follow an order not carried out within its
    time limit; once funds are suspended, that is already established."""
    return ctx.from_state != "order" or has_deadline_passed(ctx)


def came_from(*states: str) -> Guard:
    """The case returns to (or moves on from) the rung it left for review, appeal or
    dispute: the row for that rung is the one that fires."""
    def fn(ctx: Context) -> bool:
        return ctx.case.resume_state in states
    return Guard(fn, f"the case did not come from {' or '.join(states)}", pure=True,
                 name="came_from_" + "_or_".join(states))


@guard("the unit has no competent department: circulate the notice in the region (无主管部门)", pure=False)
def scope_has_recipients(ctx: Context) -> bool:
    """Art. 21(五): a notice circulated to the competent department (or its units) needs one."""
    return ctx.data.get("scope") == "region_units" or case_records.competent_of(ctx.case) is not None


@guard("no evidence is attached to the case by its subject (未提交佐证材料)", pure=False)
def evidence_attached(ctx: Context) -> bool:
    """Art. 21(一): the written result comes "with supporting evidence" (相关佐证材料). What the
    unit gave at the warning stage (its explanation, joined to the case file) is not evidence of
    a rectification made after the case was opened."""
    return db.session.execute(sa.select(Evidence.id).where(
        Evidence.case_id == ctx.case.id, Evidence.uploader_org_id == ctx.case.subject_id,
        Evidence.warning_file_id.is_(None)).limit(1)).first() is not None


@guard("the unit has no open bank account to close (无可撤销的银行账户)", pure=False)
def unit_has_open_accounts(ctx: Context) -> bool:
    return bool(accounts_to_close(ctx))


@guard("no account closure of this case is waiting for your bank (无待本行确认的撤户)", pure=False)
def bank_has_pending_closure(ctx: Context) -> bool:
    return bool(case_records.pending_closures(ctx.case, bank_id=ctx.actor.org_id))


@guard("other banks have yet to confirm their closures", pure=False)
def last_bank_to_confirm(ctx: Context) -> bool:
    return all(c.account.bank_id == ctx.actor.org_id for c in case_records.pending_closures(ctx.case))


@guard("this is the last bank to confirm", pure=False)
def other_banks_still_to_confirm(ctx: Context) -> bool:
    return not last_bank_to_confirm(ctx)


@guard("the case was referred to that body already (已移送)", pure=False)
def not_yet_referred_there(ctx: Context) -> bool:
    return not case_records.has_party(ctx.case, ctx.data["oversight"].id, "referred")


@guard("the case was not referred to your body (未移送本机关)", pure=False)
def referred_to_this_body(ctx: Context) -> bool:
    return case_records.has_party(ctx.case, ctx.actor.org_id, "referred")
