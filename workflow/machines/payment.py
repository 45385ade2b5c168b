"""The payment's lifecycle (支付状态): the one table of its status.

- ``accepted``  已受理 — screening raised no blocking warning (日常监控, 11(一))
- ``held``      已拦截 — a ``block`` warning holds it until verification decides (11(二)): one
  screening raised, or one finance raised by hand on a payment already accepted (人工排查, Art. 12)
- ``refused``   已拒付 — verification confirmed the violation (11(三)) or the agent bank
  refused it (28(三)); a refused payment no longer counts against its budget totals

Verification releases a held payment (to ``accepted``) when its warnings are dismissed or
finance lets it go. Screening inserts payments in bulk in an initial state;
:func:`workflow.monitoring.payments.change_payment_status` moves them through
:meth:`~workflow.machines.lifecycle.Lifecycle.move`, the status column's only writer.
"""
from __future__ import annotations

from workflow.machines.base import NEW, State, art, cite, row
from workflow.machines.lifecycle import Lifecycle

STATES = (
    State(NEW, "提交支付指令", "start"),
    State("accepted", "已受理", "rung", art(11, 1)),
    State("held", "已拦截，待核实", "rung", art(11, 2)),
    State("refused", "已拒付", "closed", art(11, 3)),
)

TRANSITIONS = (
    row("accept", NEW, "accepted", roles="system", article=art(11, 1), label="监控未拦截，受理"),
    row("hold", NEW, "held", roles="system", article=art(11, 1), label="触发拦截规则，拦截待核实"),
    row("hold", "accepted", "held", roles="finance", article=cite(art(11, 2), art(12)),
        label="人工排查发现须拦截的疑点，拦截已受理的支付待核实"),
    row("release", "held", "accepted", roles="finance", article=art(11, 2), label="核实后放行"),
    row("refuse", ("held", "accepted"), "refused", roles=("finance", "bank"),
        article=cite(art(11, 3), art(28, 3)), label="核实确认违规或代理银行拒付，不予支付"),
)

LIFECYCLE = Lifecycle("payment", "支付指令状态", "payment", STATES, TRANSITIONS, article=art(11))
