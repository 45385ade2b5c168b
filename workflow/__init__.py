"""FundWatch domain: parties, budgets, payments, cases and their state machines.

Nothing in this package reads Flask request objects; the HTTP layer in ``api/``
resolves the caller into an :class:`workflow.parties.Actor` and calls in here.
"""
