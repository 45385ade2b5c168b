"""The warning's lifecycle (预警/疑点, Art. 11): the one table of its status.

- ``open``       待核实 — raised by screening (日常监控, 11(一)) or by hand (finance's own review,
  人工排查, Art. 12; a complaint, Art. 20; a bank's refusal, 28(三); a bank's report of a
  suspected violation it did not refuse, 10(四)6)
- ``verifying``  核实中 — finance took the first verification step (11(二)); a joint
  investigation is confidential and moves nothing (:mod:`workflow.verification`)
- ``confirmed``  核实确认 — a case was opened on it (11(三), 21)
- ``dismissed``  核实排除 — with its reason
- ``transferred`` 已移交 — confirmed, but not within finance's remit: handed on to the department
  that owns the matter with a numbered 移交函 (11(三): 不属于职责范围内的，按照规定移交有关部门处理),
  awaiting that department's outcome. Finance has decided it (it is no longer ``UNDECIDED``:
  queues, focus letters and answers by the unit treat it as decided), but it is not closed:
  finance closes it once the receiver has answered
- ``transfer_closed`` 移交办结 — the receiver answered with its outcome and finance closed the matter

A transfer is not the referral of a case (Art. 23, :mod:`.unit_case`'s ``refer``): a referral
hands a serious case finance keeps handling to an oversight body for supervision; a transfer
hands on a matter finance has no power to handle at all, and no case is opened on it.

Screening inserts warnings in bulk in the initial state; :mod:`workflow.verification` moves
them through :meth:`~workflow.machines.lifecycle.Lifecycle.move`, the status column's only writer.
The rows' fields are the action's body (``WarningTransfer.transfer``...), and ``close_transfer``
runs its guard on the locked warning.
"""
from __future__ import annotations

import sqlalchemy as sa

from workflow.db import db
from workflow.machines.base import NEW, State, art, cite, guard, opt, req, row
from workflow.machines.lifecycle import Lifecycle

UNDECIDED = ("open", "verifying")
CONFIRMED = "confirmed"  # the one state in which a warning names the case opened on it
TRANSFERRED = "transferred"
# Where a blocking warning still holds its payment (Art. 11(二)): while finance verifies, and while
# the department it was handed on to has not answered (see workflow.verification.transfer).
HOLDING = (*UNDECIDED, TRANSFERRED)
# The organisations a matter may be handed on to (有关部门: market regulation, tax, human resources...).
RECEIVER_KIND = "department"
# What the receiver's answer is called (workflow.verification.RESPONSE_KINDS).
OUTCOME = "outcome"
TRANSFER_ARTICLE = art(11, 3)

STATES = (
    State(NEW, "发现疑点", "start"),
    State("open", "待核实", "rung", art(11, 1)),
    State("verifying", "核实中", "rung", art(11, 2)),
    State(CONFIRMED, "核实确认，已立案", "closed", art(11, 3)),
    State("dismissed", "核实排除", "closed", art(11, 2)),
    State(TRANSFERRED, "已移交有关部门，待反馈", "handed_on", TRANSFER_ARTICLE),
    State("transfer_closed", "移交办结", "closed", TRANSFER_ARTICLE),
)


@guard("the receiving department has not answered with its outcome yet (有关部门尚未反馈处理结果)", pure=False)
def receiver_answered(warning) -> bool:
    """The department the warning was handed on to recorded its outcome. The answers' table
    belongs to the verification module, which sits above this table: reached by name."""
    responses = db.metadata.tables["warning_responses"]
    return db.session.execute(sa.select(responses.c.id).where(
        responses.c.warning_id == warning.id, responses.c.kind == OUTCOME).limit(1)).first() is not None


TRANSFER_FIELDS = (
    req("receiver_code", "org", "接收部门（有关部门）的代码", org_kind=RECEIVER_KIND),
    req("matters", "lines", "移交事项，一项一行", max_length=4000, max_items=20, item_max_length=500),
    req("basis", "text", "移交依据（有关部门的职责所依据的法律法规）", max_length=500),
    opt("reply_by", "date", "请接收部门反馈处理结果的日期"),
    opt("materials", "lines", "随函移交的材料", max_length=4000, max_items=30, item_max_length=200),
)
CLOSE_TRANSFER_FIELDS = (
    req("summary", "text", "办结说明（有关部门的处理结果及财政部门的意见）", max_length=2000),
    opt("payment", "choice", "被拦截支付的处理：放行或不予支付（默认放行）",
        choices=(("release", "放行"), ("refuse", "不予支付"))),
)

TRANSITIONS = (
    row("screen", NEW, "open", roles="system", article=art(11, 1), label="日常监控发现疑点，预警"),
    row("raise", NEW, "open", roles=("finance", "bank"),
        article=cite(art(10, 4, 6), art(12), art(20), art(28, 3)),
        label="人工排查、投诉举报线索、代理银行拒付或报告疑点，登记疑点"),
    row("verify", "open", "verifying", roles="finance", article=art(11, 2), label="开始核实"),
    row("verify", "verifying", None, roles="finance", article=art(11, 2), label="继续核实"),
    row("confirm", UNDECIDED, CONFIRMED, roles="finance", article=art(11, 3), label="核实确认违规，立案处理"),
    row("dismiss", UNDECIDED, "dismissed", roles="finance", article=art(11, 2), label="核实排除，说明理由"),
    row("transfer", UNDECIDED, TRANSFERRED, roles="finance", article=TRANSFER_ARTICLE,
        label="不属于财政部门职责范围，制发移交函移交有关部门处理", fields=TRANSFER_FIELDS),
    row("close_transfer", TRANSFERRED, "transfer_closed", roles="finance", article=TRANSFER_ARTICLE,
        label="有关部门反馈处理结果后办结", guards=(receiver_answered,), fields=CLOSE_TRANSFER_FIELDS),
)

LIFECYCLE = Lifecycle("warning", "预警疑点核实", "warning", STATES, TRANSITIONS, article=art(11))
