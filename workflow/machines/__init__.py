"""The case state machines, each declared once as a table (see :mod:`.base`).

- :mod:`.unit_case` — budget-unit cases, Art. 21, 23, 24;
- :mod:`.bank_case` — agent-bank cases, Art. 22 (and the disputes of Art. 24);

and the lifecycles of the records verification decides on (:mod:`.lifecycle`):

- :mod:`.warning` — a warning's status (Art. 11);
- :mod:`.payment` — a payment's status (Art. 11, 28(三));
- :mod:`.payee` — an individual payee filing's confirmation (Art. 16);
- :mod:`.special_fund_rules` — a unit's internal rules for a special fund, approved by finance (Art. 17);
- :mod:`.payment_plan` — a monthly payment plan's status (Art. 10(二)1, 10(三)15).
"""
from __future__ import annotations

from workflow.machines.bank_case import MACHINE as BANK_CASE
from workflow.machines.base import NEW, CaseMachine
from workflow.machines.lifecycle import Lifecycle
from workflow.machines.payee import LIFECYCLE as PAYEE
from workflow.machines.payment import LIFECYCLE as PAYMENT
from workflow.machines.payment_plan import LIFECYCLE as PAYMENT_PLAN
from workflow.machines.special_fund_rules import LIFECYCLE as SPECIAL_FUND_RULES
from workflow.machines.unit_case import MACHINE as UNIT_CASE
from workflow.machines.warning import LIFECYCLE as WARNING

MACHINES: dict[str, CaseMachine] = {m.name: m for m in (UNIT_CASE, BANK_CASE)}
SUBJECT_KINDS = {"unit_case": "unit", "bank_case": "bank"}
LIFECYCLES: dict[str, Lifecycle] = {m.name: m for m in (WARNING, PAYMENT, PAYEE, SPECIAL_FUND_RULES, PAYMENT_PLAN)}

__all__ = ["BANK_CASE", "LIFECYCLES", "MACHINES", "NEW", "PAYEE", "PAYMENT", "PAYMENT_PLAN", "SPECIAL_FUND_RULES",
           "SUBJECT_KINDS", "UNIT_CASE", "WARNING", "CaseMachine", "Lifecycle"]
