"""The lifecycle of a unit's internal rules for a special fund (专项资金内部管理办法, Art. 17):
the one table of the filing's status.

Art. 17: a unit managing and using special funds makes internal financial and accounting
rules for them, which "经同级财政部门相关部门预算管理处（科、室）审定备案后执行": they apply once
finance has approved them. The unit files them; finance approves or rejects them.

- ``pending``   待审定 — filed by the unit
- ``approved``  已审定备案 — finance approved them; payments from the fund are no longer warned
- ``rejected``  未通过审定 — with finance's reason; the unit files revised rules anew
"""
from __future__ import annotations

from workflow.machines.base import NEW, State, art, row
from workflow.machines.lifecycle import Lifecycle

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"

STATES = (
    State(NEW, "报送管理办法", "start"),
    State(PENDING, "待审定", "rung", art(17)),
    State(APPROVED, "已审定备案", "closed", art(17)),
    State(REJECTED, "未通过审定", "closed", art(17)),
)

TRANSITIONS = (
    row("file", NEW, PENDING, roles="unit", article=art(17), label="预算单位报送专项资金内部管理办法"),
    row("attach", PENDING, None, roles="unit", article=art(17), label="附上管理办法文本"),
    row("approve", PENDING, APPROVED, roles="finance", article=art(17), label="财政部门审定备案"),
    row("reject", PENDING, REJECTED, roles="finance", article=art(17), label="审定未通过，说明理由"),
)

LIFECYCLE = Lifecycle("special_fund_rules", "专项资金内部管理办法审定备案", "filing", STATES, TRANSITIONS,
                      article=art(17))
