"""Notifications: a transactional outbox, its delivery (inbox and e-mail), the inbox.

- :mod:`workflow.messages` — the table of message templates (names, audience,
  article, context) and their rendering from ``templates/messages/<name>.txt``;
- :mod:`workflow.outbox` — the outbox and inbox tables and ``notify()``, which
  writes outbox rows in the caller's transaction;
- :mod:`notifications.delivery` — ``deliver_pending()``: claims due rows, writes inbox
  entries, sends e-mail over SMTP, retries with backoff, dead-letters after N attempts;
- :mod:`notifications.inbox` — what a user may read of the inbox and the dead letters.
"""
