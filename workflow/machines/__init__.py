"""The case state machines, each declared once as a table (see :mod:`.base`).

- :mod:`.unit_case` — budget-unit cases, Art. 21, 23, 24;
- :mod:`.bank_case` — agent-bank cases, Art. 22 (and the disputes of Art. 24).
"""
from __future__ import annotations

from workflow.machines.bank_case import MACHINE as BANK_CASE
from workflow.machines.base import NEW, CaseMachine
from workflow.machines.unit_case import MACHINE as UNIT_CASE

MACHINES: dict[str, CaseMachine] = {m.name: m for m in (UNIT_CASE, BANK_CASE)}
SUBJECT_KINDS = {"unit_case": "unit", "bank_case": "bank"}

__all__ = ["BANK_CASE", "MACHINES", "NEW", "SUBJECT_KINDS", "UNIT_CASE", "CaseMachine"]
