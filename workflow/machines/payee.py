"""The individual payee filing's lifecycle (个人收款人备案核实确认, Art. 16): the one table of its status.

Art. 16 has the unit file a person's identity card, employer, title and bank account with
finance "备案核实确认": the filing is the unit's, the confirmation finance's. Until finance
confirms it a filing does not make payments to that person legitimate, so that a unit cannot
whitelist its own payees.

- ``pending``    待核实确认 — filed (or changed) by the unit, waiting for finance
- ``confirmed``  已核实确认 — finance checked it; the Art. 16 rule accepts payments that match it
- ``rejected``   已退回 — finance refused it, with its reason; the unit may correct and file again

Finance filing for a unit is itself the check, so its filing is confirmed at once. A unit that
changes a confirmed filing (a new account, say) sends it back to ``pending``: the new account
counts only once finance has confirmed it. Finance's own corrections keep the status.
"""
from __future__ import annotations

from workflow.machines.base import NEW, State, art, row
from workflow.machines.lifecycle import Lifecycle

PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"

STATES = (
    State(NEW, "报送备案", "start"),
    State(PENDING, "待核实确认", "rung", art(16)),
    State(CONFIRMED, "已核实确认", "rung", art(16)),
    State(REJECTED, "已退回", "rung", art(16)),
)

TRANSITIONS = (
    row("file", NEW, PENDING, roles="unit", article=art(16), label="预算单位报送个人收款人信息备案"),
    row("record", NEW, CONFIRMED, roles="finance", article=art(16), label="财政部门代为备案并核实"),
    row("confirm", PENDING, CONFIRMED, roles="finance", article=art(16), label="财政部门核实确认"),
    row("reject", PENDING, REJECTED, roles="finance", article=art(16), label="核实未通过，说明理由退回"),
    row("amend", PENDING, None, roles="unit", article=art(16), label="单位修改待核实的备案"),
    row("amend", (CONFIRMED, REJECTED), PENDING, roles="unit", article=art(16), label="单位变更备案信息，重新核实确认"),
    row("correct", (PENDING, CONFIRMED, REJECTED), None, roles="finance", article=art(16), label="财政部门更正备案信息"),
)

LIFECYCLE = Lifecycle("payee", "个人收款人备案核实确认", "payee filing", STATES, TRANSITIONS, article=art(16))
