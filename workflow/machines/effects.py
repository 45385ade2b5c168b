"""Effects: what an action does to the case besides moving it, named for the measure,
and the contexts of the notices the actions issue.

Effects run as the shared machine's ``after`` callbacks, inside the caller's
transaction; whatever can refuse is a guard or a field check and ran before.
"""
from __future__ import annotations

from workflow import case_records, deadlines
from workflow.accounts import BankAccount
from workflow.machines.base import Context

ORDER_REQUIREMENT = "按财政部门要求限期纠正违规问题，并提交书面整改结果和相关佐证材料"


# --- deadlines -------------------------------------------------------------------------

def start_deadline(ctx: Context) -> None:
    """A new time limit on the rung the case enters: the officer's period in working days
    if given, else the rung's default; none where no period runs."""
    state = ctx.machine.state(ctx.dest)
    days = ctx.data.get("deadline_days")
    case = ctx.case
    if state.period is not None:
        case.deadline = deadlines.deadline_for(ctx.now, state.period, days)
    elif days is not None:
        case.deadline = deadlines.add_working_days(ctx.now, days)
    else:
        case.deadline = None
    case.deadline_paused_remaining = None
    ctx.payload["deadline"] = case.deadline.isoformat() if case.deadline else None


def stop_deadline(ctx: Context) -> None:
    """Nothing is due from the subject while finance reviews, or once the case is closed."""
    ctx.case.deadline = None
    ctx.case.deadline_paused_remaining = None


def remember_rung_left(ctx: Context) -> None:
    """Review comes back to the rung it left (an appeal or dispute: :func:`pause_deadline`)."""
    ctx.case.resume_state = ctx.from_state


def forget_rung_left(ctx: Context) -> None:
    ctx.case.resume_state = None


def pause_deadline(ctx: Context) -> None:
    """Art. 24: the time limit stops while the unit's appeal (administrative reconsideration
    or litigation) or the agent bank's dispute (arbitration or civil suit under the agency
    agreement) runs, and the case remembers the rung it left. What is kept is the number of
    working days left after today (0: only the rest of today; negative: overdue already),
    so that resuming gives back working days, not calendar time spent on holidays."""
    case = ctx.case
    case.resume_state = ctx.from_state
    if case.deadline is None:
        case.deadline_paused_remaining = None
    else:
        case.deadline_paused_remaining = deadlines.working_days_between(ctx.now, case.deadline)
    case.deadline = None
    ctx.payload["deadline_paused_remaining"] = case.deadline_paused_remaining


def resume_deadline(ctx: Context) -> None:
    """Art. 24, the handling upheld on appeal or in the dispute: back on the rung it left
    (the row guarded by ``came_from`` that rung), with the working days it had."""
    case = ctx.case
    kept = case.deadline_paused_remaining
    case.deadline = None if kept is None else deadlines.add_working_days(ctx.now, kept)
    case.deadline_paused_remaining = None
    case.resume_state = None
    ctx.payload["deadline"] = case.deadline.isoformat() if case.deadline else None


# --- measures --------------------------------------------------------------------------

def record_measures(ctx: Context) -> None:
    """Keep the measures decided on the case itself (the history has them too)."""
    kept = {k: v for k, v in ctx.payload.items() if k not in ("note", "deadline_days", "deadline")}
    ctx.case.measures = {**(ctx.case.measures or {}), ctx.trigger: kept}


def suspend_disbursement(ctx: Context) -> None:
    """Art. 21(四) 暂停拨付资金: payment screening holds the unit's payments from now on."""
    ctx.case.funds_suspended = True


def lift_suspension(ctx: Context) -> None:
    if ctx.case.funds_suspended:
        ctx.payload["suspension_lifted"] = True
    ctx.case.funds_suspended = False


def _close(ctx: Context, resolution: str) -> None:
    case = ctx.case
    case.closed_at = ctx.now
    case.resolution = resolution
    case.deadline = None
    case.deadline_paused_remaining = None
    case.resume_state = None


def close_as_rectified(ctx: Context) -> None:
    _close(ctx, "rectified")


def close_as_revoked(ctx: Context) -> None:
    _close(ctx, "revoked")


def close_as_agreement_terminated(ctx: Context) -> None:
    _close(ctx, "agreement_terminated")


# --- parties brought into the case -----------------------------------------------------

def copy_competent_department(ctx: Context) -> None:
    """Art. 21(三): the violation is reported to the unit's competent department."""
    competent = case_records.competent_of(ctx.case)
    if competent is not None:
        case_records.add_party(ctx.case, competent.id, "copied", ctx.now)
        ctx.payload["copied_to"] = competent.code


def record_referral(ctx: Context) -> None:
    """Art. 23: the oversight body may now read the case."""
    body = ctx.data["oversight"]
    case_records.add_party(ctx.case, body.id, "referred", ctx.now)


def accounts_to_close(ctx: Context) -> list[BankAccount]:
    """The accounts the action closes (:func:`workflow.case_records.accounts_to_close`),
    looked up once per action: the guard and the effect ask the same question."""
    if "accounts_to_close" not in ctx.cache:
        ctx.cache["accounts_to_close"] = case_records.accounts_to_close(ctx.case, ctx.data.get("accounts"))
    return ctx.cache["accounts_to_close"]


def schedule_account_closure(ctx: Context) -> None:
    """Art. 21(四) 撤销相关银行账户: each bank holding an account is asked to close it."""
    numbers = case_records.schedule_closures(ctx.case, accounts_to_close(ctx), ctx.now)
    ctx.payload["accounts"] = numbers


def close_confirmed_accounts(ctx: Context) -> None:
    """The bank's confirmation: its accounts in this closure are closed now."""
    ctx.payload["accounts_closed"] = case_records.confirm_closures(ctx.case, ctx.actor.org_id, ctx.actor.user_id,
                                                                   ctx.now)


# --- notice contexts (see workflow.documents.KINDS for what each kind needs) -------------

def _deadline_day(ctx: Context):
    return ctx.case.deadline


def _field_labels(ctx: Context, name: str) -> list[str]:
    spec = next(f for f in ctx.row.fields if f.name == name)
    values = ctx.data.get(name) or []
    return [spec.choice_label(v) for v in (values if isinstance(values, list) else [values])]


def decision_notice(ctx: Context) -> dict:
    """处理决定 (Art. 21(二)): return the funds, adjust the accounts, complete procedures."""
    measures = _field_labels(ctx, "measures") + list(ctx.data.get("requirements") or [])
    return {"violation": ctx.case.summary, "measures": measures, "amount": ctx.data.get("amount"),
            "deadline": _deadline_day(ctx)}


def order_notice(ctx: Context) -> dict:
    """书面责令整改意见 (Art. 21(三)): the grounds, what to do, and by when."""
    requirements = list(ctx.data.get("requirements") or [])
    if ctx.data.get("grounds"):
        requirements = [f"事由：{_field_labels(ctx, 'grounds')[0]}"] + requirements
    elif ctx.row.trigger == "escalate":
        requirements = ["事由：不及时纠正违规行为（逾期未整改）"] + requirements
    elif ctx.data.get("reason"):
        requirements = [f"事由：不按要求整改（{ctx.data['reason']}）"] + requirements
    if not any(not r.startswith("事由：") for r in requirements):
        requirements.append(ORDER_REQUIREMENT)
    return {"violation": ctx.case.summary, "requirements": requirements, "deadline": _deadline_day(ctx)}


def suspension_notice(ctx: Context) -> dict:
    """处理决定 (Art. 21(四)): disbursement suspended until the order is carried out."""
    return {"violation": ctx.case.summary,
            "measures": ["未在限期内落实书面整改意见，暂停拨付资金，直至整改到位"],
            "deadline": _deadline_day(ctx), "basis": "21(四)"}


def closure_notice(ctx: Context) -> dict:
    """处理决定 (Art. 21(四)): the unit's accounts are closed by the banks holding them."""
    numbers = ctx.payload.get("accounts") or []
    return {"violation": ctx.case.summary,
            "measures": ["未在限期内落实书面整改意见，撤销以下银行账户：" + "、".join(numbers)],
            "deadline": _deadline_day(ctx), "basis": "21(四)"}


def public_notice(ctx: Context) -> dict:
    """通报 (Art. 21(五)): within the scope the officer chose, named in its salutation."""
    handling = list(ctx.data.get("handling") or []) or [ctx.machine.state(ctx.from_state).label]
    scope = ctx.data["scope"]
    competent = case_records.competent_of(ctx.case)
    circulated_to = {"competent": lambda: competent.name,
                     "department_units": lambda: f"{competent.name}及其所属各单位",
                     "region_units": lambda: f"{ctx.case.finance.name}管辖范围内各部门、各单位"}[scope]()
    return {"subject_name": ctx.case.subject.name, "violation": ctx.case.summary, "handling": handling,
            "circulated_to": circulated_to, "scope": _field_labels(ctx, "scope")[0]}


def notice_scope(ctx: Context) -> list:
    """The recipients of a 通报's scope (21(五)), the violating unit left out (it is the addressee)."""
    return case_records.notice_scope(ctx.case, ctx.data["scope"])


def referral_letter(ctx: Context) -> dict:
    """移送函 (Art. 23)."""
    return {"subject_name": ctx.case.subject.name, "violation": ctx.case.summary,
            "handling": [f"当前处理阶段：{ctx.machine.state(ctx.from_state).label}", f"移送理由：{ctx.data['reason']}"],
            "materials": ctx.data.get("materials")}


def bank_payment_notice(ctx: Context) -> dict:
    """整改通知 (Art. 22(一)): return the funds by the original channel or redo, compensate losses."""
    return {"ground": "payment", "violation": ctx.case.summary, "measures": _field_labels(ctx, "measures"),
            "deadline": _deadline_day(ctx), "amount": ctx.data.get("amount")}


def bank_transmission_notice(ctx: Context) -> dict:
    """整改通知 (Art. 22(二)): fix the transmission of monitoring data at once."""
    measures = list(ctx.data.get("requirements") or []) or ["立即采取措施，及时、准确、完整传输动态监控信息"]
    return {"ground": "transmission", "violation": ctx.case.summary, "measures": measures,
            "deadline": _deadline_day(ctx)}


def criticism_notice(ctx: Context) -> dict:
    """通报批评及扣减服务费 (Art. 22(三))."""
    return {"violation": ctx.case.summary, "fee_deduction": ctx.data["fee_deduction"],
            "evaluation": ctx.data.get("evaluation")}


def termination_notice(ctx: Context) -> dict:
    """终止代理协议 (Art. 22(三))."""
    return {"violation": ctx.case.summary, "effective_date": ctx.data["effective_date"],
            "agreement": ctx.data.get("agreement")}
