"""The payment plan's lifecycle (用款计划, Art. 10(二)1, 10(三)15): the one table of its status.

A budget unit applies each month for the money it will draw on each indicator (申请分月用款
计划); finance approves it, which sets the month's authorised quota (下达分月用款授权额度), or
returns it with its reason.

- ``filed``     已申报，待审核 — filed by the unit (10(三)15: basic expenditure by the annual
  balance principle), or changed by it before finance decided
- ``approved``  已批复 — the approved amount is the month's quota the screening holds payments to
- ``returned``  已退回 — finance returned it with a reason; the unit files it again

An approved plan is revised by filing it again (``revise``): it waits for approval like a new
one, and the amount approved before stays the quota in force until finance approves the
revision (or returns it, when it stays so). No state is closed: a plan may be revised as long
as its month is not over, and finance decides.

:mod:`workflow.monitoring.plans` moves a plan through
:meth:`~workflow.machines.lifecycle.Lifecycle.move`, the status column's only writer.
"""
from __future__ import annotations

from workflow.machines.base import NEW, State, art, row
from workflow.machines.lifecycle import Lifecycle

FILED, APPROVED, RETURNED = "filed", "approved", "returned"

STATES = (
    State(NEW, "编报用款计划", "start"),
    State(FILED, "已申报，待财政审核", "rung", art(10, 3, 15)),
    State(APPROVED, "已批复，下达用款额度", "rung", art(10, 2, 1)),
    State(RETURNED, "已退回，待重新申报", "rung", art(10, 2, 1)),
)

TRANSITIONS = (
    row("file", NEW, FILED, roles="unit", article=art(10, 3, 15), label="预算单位按月申报用款计划"),
    row("amend", FILED, None, roles="unit", article=art(10, 3, 15), label="财政审核前修改申报金额"),
    row("approve", FILED, APPROVED, roles="finance", article=art(10, 2, 1),
        label="财政部门审核批复，下达分月用款额度"),
    row("return", FILED, RETURNED, roles="finance", article=art(10, 2, 1), label="财政部门退回，说明理由"),
    row("refile", RETURNED, FILED, roles="unit", article=art(10, 3, 15), label="按退回意见修改后重新申报"),
    row("revise", APPROVED, FILED, roles="unit", article=art(10, 3, 15),
        label="调整已批复的用款计划，重新报批（新批复前原额度继续有效）"),
)

LIFECYCLE = Lifecycle("payment_plan", "用款计划审核", "payment plan", STATES, TRANSITIONS,
                      article=art(10, 2, 1))

# What filing a plan again does, by the stored plan's status: the table's row for it.
FILING_TRIGGER = {FILED: "amend", RETURNED: "refile", APPROVED: "revise"}
