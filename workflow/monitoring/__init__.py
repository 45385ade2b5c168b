"""Monitoring (动态监控, Art. 8-20): payments come in, rules flag them, finance verifies.

- :mod:`workflow.monitoring.models`   — Payment (支付信息, Art. 9), MonitoringWarning (预警/疑点), RuleSet
  (versioned rule parameters, Art. 12), PayeeRegistration (个人收款人备案, Art. 16) and
  SpendingTotal (running totals behind the cumulative rules, Art. 10(二), 14-15 and 19).
- :mod:`workflow.monitoring.rulesets` — the default parameters, validation, versioning.
- :mod:`workflow.monitoring.rules`    — one class per warning rule, each citing its article.
- :mod:`workflow.monitoring.screening` — ``screen_payments``: validate, dedupe, screen, store; an
  orchestration over
  - :mod:`workflow.monitoring.intake`     — a payment row's fields and their hand-written parser;
  - :mod:`workflow.monitoring.resolution` — the batch's units, accounts, indicators, registrations;
  - :mod:`workflow.monitoring.totals`     — the running totals, locked per batch;
  - :mod:`workflow.monitoring.vouchers`   — stored payments by voucher number and voucher clashes;
  - :mod:`workflow.monitoring.lookups`    — loading by key in chunks; :mod:`workflow.monitoring.bulk`,
    driver-level bulk writes.
- :mod:`workflow.monitoring.payees`   — Art. 16 registrations of individual payees.
- :mod:`workflow.monitoring.plans`    — monthly payment plans (用款计划, Art. 10(二)1, 10(三)15): filed by
  units, approved or returned by finance, the months' quotas screening holds payments to.
"""
