"""The warning's lifecycle (预警/疑点, Art. 11): the one table of its status.

- ``open``       待核实 — raised by screening (日常监控, 11(一)) or by hand (finance's own review,
  人工排查, Art. 12; a complaint, Art. 20; a bank's refusal, 28(三); a bank's report of a
  suspected violation it did not refuse, 10(四)6)
- ``verifying``  核实中 — finance took the first verification step (11(二)); a joint
  investigation is confidential and moves nothing (:mod:`workflow.verification`)
- ``confirmed``  核实确认 — a case was opened on it (11(三), 21)
- ``dismissed``  核实排除 — with its reason

Screening inserts warnings in bulk in the initial state; :mod:`workflow.verification` moves
them through :meth:`~workflow.machines.lifecycle.Lifecycle.move`, the status column's only writer.
"""
from __future__ import annotations

from workflow.machines.base import NEW, State, art, cite, row
from workflow.machines.lifecycle import Lifecycle

UNDECIDED = ("open", "verifying")
CONFIRMED = "confirmed"  # the one state in which a warning names the case opened on it

STATES = (
    State(NEW, "发现疑点", "start"),
    State("open", "待核实", "rung", art(11, 1)),
    State("verifying", "核实中", "rung", art(11, 2)),
    State(CONFIRMED, "核实确认，已立案", "closed", art(11, 3)),
    State("dismissed", "核实排除", "closed", art(11, 2)),
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
)

LIFECYCLE = Lifecycle("warning", "预警疑点核实", "warning", STATES, TRANSITIONS, article=art(11))
