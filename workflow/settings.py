"""Every configuration variable, with its default and meaning, read in one place.

:class:`Settings` lists them all (the README's configuration table is checked against
it). :func:`current` reads them: inside an application context the app's config wins
(``create_app`` fills it from the environment, tests override it); outside one (scripts,
benchmarks) the environment is read. A value that is unset, ``None`` or empty means the
default. Values that need the domain to be understood (periods per rung, automatic
escalation per state, reminder offsets, extra holidays) are handed over as written and
parsed where their concept lives; the rest are typed here.

The local time zone is :func:`local_zone` (``FUNDWATCH_TIMEZONE``): deadlines, notices,
messages and the API's local dates all use it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from workflow.db import to_money


def _flag(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def _as_is(value):
    return value


def _hotlines(value) -> tuple[str, ...]:
    """``;``-separated entries (a number may carry its department: ``0908-4222222（克州财政局）``),
    or a list of them in the app's config."""
    entries = value.split(";") if isinstance(value, str) else list(value)
    hotlines = tuple(" ".join(str(entry).split()) for entry in entries if str(entry).strip())
    if any(len(entry) > 100 for entry in hotlines):
        raise ValueError("a hotline entry is at most 100 characters")
    return hotlines


def var(env: str, default: Any, meaning: str, parse: Callable[[Any], Any] = str, shown: str | None = None):
    """One variable: its name in the environment, default, meaning, how a written value is read,
    and the default as the README shows it (if not the value itself)."""
    return field(default=default, metadata={"env": env, "meaning": meaning, "parse": parse, "shown": shown})


@dataclass(frozen=True)
class Settings:
    # --- the service ----------------------------------------------------------------------
    database_url: str | None = var(
        "DATABASE_URL", None, "SQLAlchemy URL; PostgreSQL as `postgresql+psycopg://user@host/db`",
        shown="sqlite:///instance/fundwatch.db")
    sqlalchemy_echo: bool = var("SQLALCHEMY_ECHO", False, "log every SQL statement", _flag)
    timezone: str = var("FUNDWATCH_TIMEZONE", "Asia/Shanghai",
                        "the zone deadlines, notices, messages and answers are given in")
    base_url: str = var("FUNDWATCH_BASE_URL", "http://127.0.0.1:5000", "used for links in messages")
    token_days: int = var("FUNDWATCH_TOKEN_DAYS", 90,
                          "default lifetime of tokens issued by the CLI (a token lives 1 to 366 days)", int)
    max_upload_bytes: int = var("FUNDWATCH_MAX_UPLOAD_BYTES", 32 * 1024 * 1024,
                                "largest request body (CSV uploads)", int)
    upload_dir: str | None = var("FUNDWATCH_UPLOAD_DIR", None, "where evidence files are stored",
                                 shown="instance/uploads")
    evidence_max_bytes: int = var("FUNDWATCH_EVIDENCE_MAX_BYTES", 20 * 1024 * 1024, "largest evidence file", int)
    proxy_hops: int = var("FUNDWATCH_PROXY_HOPS", 0,
                          "trusted reverse proxies in front of the service (the complaint rate limit reads "
                          "the client's address from X-Forwarded-For behind them)", int)
    secret_key: str | None = var("FUNDWATCH_SECRET_KEY", None,
                                 "signs the console's session cookie and CSRF tokens; unset: a random key is made "
                                 "once and kept in `instance/secret_key` (readable by the service only)",
                                 shown="instance/secret_key")
    session_secure: bool = var("FUNDWATCH_SESSION_SECURE", False,
                               "send the console's session cookie over HTTPS only (`Secure`): turn on when "
                               "served over HTTPS", _flag)
    session_hours: int = var("FUNDWATCH_SESSION_HOURS", 8, "hours a console sign-in lasts", int)
    sign_ins_per_window: int = var("FUNDWATCH_SIGN_INS_PER_WINDOW", 10,
                                   "console sign-in attempts accepted per address, and per e-mail address, "
                                   "and window", int)
    sign_in_window_seconds: int = var("FUNDWATCH_SIGN_IN_WINDOW_SECONDS", 900,
                                      "length of the sign-in rate-limit window", int)
    swagger_ui_url: str = var("OPENAPI_SWAGGER_UI_URL", "/api/v1/docs/assets/",
                              "where the API page loads Swagger UI's scripts from (served by the app itself)")
    # --- e-mail and the outbox ------------------------------------------------------------
    smtp_url: str | None = var("SMTP_URL", None, "e.g. `smtp://127.0.0.1:1025`, `smtp+starttls://user:pass@host:port`, "
                               "`smtps://...`; unset: e-mail off (e-mail rows wait in the outbox, pending, "
                               "and go out once it is set)")
    smtp_timeout: float = var("FUNDWATCH_SMTP_TIMEOUT", 10.0, "seconds to wait for the SMTP server", float)
    mail_sender: str = var("MAIL_SENDER", "fundwatch@localhost", "From: address")
    outbox_max_attempts: int = var("FUNDWATCH_OUTBOX_MAX_ATTEMPTS", 8,
                                   "delivery attempts before a message goes to the dead-letter list", int)
    outbox_backoff_seconds: float = var("FUNDWATCH_OUTBOX_BACKOFF_SECONDS", 60.0,
                                        "wait after a failed delivery, doubled per attempt", float)
    outbox_backoff_max_seconds: float = var("FUNDWATCH_OUTBOX_BACKOFF_MAX_SECONDS", 6 * 3600.0,
                                            "longest wait between delivery attempts", float)
    # --- deadlines ------------------------------------------------------------------------
    extra_holidays: str = var("FUNDWATCH_EXTRA_HOLIDAYS", "",
                              "ISO dates or `A..B` ranges added to the Chinese calendar as holidays "
                              "(chinesecalendar has data up to 2026; later years count weekdays minus "
                              "fixed-date holidays until configured)", _as_is, shown="none")
    extra_workdays: str = var("FUNDWATCH_EXTRA_WORKDAYS", "", "ISO dates or ranges that are working days (调休)",
                              _as_is, shown="none")
    deadline_periods: Any = var("FUNDWATCH_DEADLINE_PERIODS", None,
                                "working days per rung, e.g. `order=20` (workflow.deadlines)", _as_is,
                                shown="warning=5, decision=10, order=15, suspended=10, closure=10, "
                                      "bank_rectify=5, bank_criticism=10")
    reminder_offsets: Any = var("FUNDWATCH_REMINDER_OFFSETS", None,
                                "working days before a deadline when its addressee is reminded (a case's subject; the party a "
                                "verification step asks, before its due date)", _as_is,
                                shown="2,0 (2 days before and on the day)")
    reminder_hour: int = var("FUNDWATCH_REMINDER_HOUR", 9, "local hour of the reminders", int)
    # --- the scheduler --------------------------------------------------------------------
    auto_escalation: Any = var("FUNDWATCH_AUTO_ESCALATION", None,
                               "overrides of the `auto` escalate rows (`workflow/machines/unit_case.py`), e.g. "
                               "`unit_case.order=on`: rungs escalated by the scheduler when overdue; the others are "
                               "marked overdue and finance is told the proposed next step, the row marked "
                               "`proposed_on_overdue` (Art. 21(四) says finance *may*)", _as_is,
                               shown="on for `unit_case.warning`, `unit_case.decision`")
    check_batch: int = var("FUNDWATCH_CHECK_BATCH", 100, "cases (and verification steps' requests) read per batch by a deadline check", int)
    check_seconds: float = var("FUNDWATCH_CHECK_SECONDS", 60.0, "seconds between deadline checks", float)
    delivery_seconds: float = var("FUNDWATCH_DELIVERY_SECONDS", 2.0,
                                  "seconds between outbox deliveries while the last one found nothing to deliver",
                                  float)
    delivery_busy_seconds: float = var("FUNDWATCH_DELIVERY_BUSY_SECONDS", 0.25,
                                       "seconds to the next outbox delivery after one that delivered something",
                                       float)
    digest_time: str = var("FUNDWATCH_DIGEST_TIME", "08:30", "local time of the daily overdue digest")
    report_time: str = var("FUNDWATCH_REPORT_TIME", "07:00",
                           "local time from which the scheduler issues the periodic analysis reports, on the first "
                           "working day after each month, quarter and year")
    digest_every_day: bool = var("FUNDWATCH_DIGEST_EVERY_DAY", False,
                                 "send the digest on non-working days too", _flag)
    misfire_grace_seconds: int = var("FUNDWATCH_MISFIRE_GRACE_SECONDS", 3600,
                                     "how late a missed scheduler run may still start", int)
    stop_grace_seconds: float = var("FUNDWATCH_STOP_GRACE_SECONDS", 20.0,
                                    "how long the scheduler lets running jobs finish after SIGTERM/SIGINT", float)
    # --- budget execution -----------------------------------------------------------------
    issuance_days: int = var("FUNDWATCH_ISSUANCE_DAYS", 20,
                             "calendar days after the budget's approval within which finance issues a unit's "
                             "indicators (Art. 10(一)1; Budget Law Art. 52: departments' budgets within 20 days of "
                             "the people's congress's approval); a later `issued_on` raises `late_issuance`", int)
    transfer_issuance_days: int = var("FUNDWATCH_TRANSFER_ISSUANCE_DAYS", 30,
                                      "the same for funds from above (`fund_source` `higher_special`), counted from "
                                      "their receipt, given as `approved_on` (Budget Law Art. 52: transfers passed "
                                      "on within 30 days)", int)
    # --- complaints and the focus list ----------------------------------------------------
    complaints_per_window: int = var("FUNDWATCH_COMPLAINTS_PER_WINDOW", 5,
                                     "public complaints accepted per address and window", int)
    complaint_window_seconds: int = var("FUNDWATCH_COMPLAINT_WINDOW_SECONDS", 3600,
                                        "length of the complaint rate-limit window", int)
    complaint_finance_code: str | None = var("FUNDWATCH_COMPLAINT_FINANCE_CODE", None,
                                             "finance department that receives complaints naming no known unit",
                                             shown="the top finance department")
    complaint_hotlines: tuple[str, ...] = var(
        "FUNDWATCH_COMPLAINT_HOTLINES", (),
        "举报电话 (Art. 20), `;`-separated, each a number and optionally whose it is, e.g. "
        "`0908-4222222（克州财政局）;12345`: shown on the public complaint form, its receipts and status answers",
        _hotlines, shown="none")
    complaint_lookups_per_window: int = var("FUNDWATCH_COMPLAINT_LOOKUPS_PER_WINDOW", 20,
                                            "receipt-code status look-ups accepted per address and window "
                                            "(the complaint window)", int)
    focus_days: int = var("FUNDWATCH_FOCUS_DAYS", 90, "focus list (Art. 11(二)4): days looked back", int)
    focus_min_warnings: int = var("FUNDWATCH_FOCUS_MIN_WARNINGS", 5, "focus list: warnings that make a unit", int)
    focus_min_blocks: int = var("FUNDWATCH_FOCUS_MIN_BLOCKS", 2, "focus list: blocking warnings that make a unit",
                                int)
    focus_min_amount: Decimal = var("FUNDWATCH_FOCUS_MIN_AMOUNT", Decimal("100000.00"),
                                    "focus list: yuan under warnings that make a unit", to_money)

    @classmethod
    def variables(cls) -> dict[str, Any]:
        """Every variable's field, by its name in the environment."""
        return {f.metadata["env"]: f for f in fields(cls)}

    @classmethod
    def read(cls, source: Mapping) -> Settings:
        """The settings ``source`` (the environment, or an app's config) gives; the defaults for the rest."""
        values = {}
        for f in fields(cls):
            raw = source.get(f.metadata["env"])
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{f.metadata['env']}: {exc}") from exc
        return cls(**values)

    def as_environment(self) -> dict[str, Any]:
        """The values by their names in the environment (what ``create_app`` puts in the app's config)."""
        return {f.metadata["env"]: getattr(self, f.name) for f in fields(self)}


_ENV_NAMES = tuple(Settings.variables())
_read_before: dict[tuple, Settings] = {}


def current() -> Settings:
    """The settings in force: the app's config inside an application context, else the environment.
    Read on every call (tests change the app's config as they go); the same written values are
    parsed once."""
    source = current_app.config if has_app_context() else os.environ
    written = tuple(source.get(name) for name in _ENV_NAMES)
    try:
        return _read_before[written]
    except TypeError:  # an unhashable value (a dict in the app's config): read it afresh
        return Settings.read(source)
    except KeyError:
        pass
    settings = Settings.read(source)
    if len(_read_before) > 64:
        _read_before.clear()
    _read_before[written] = settings
    return settings


def local_zone() -> ZoneInfo:
    """The one local time zone (``FUNDWATCH_TIMEZONE``, default Asia/Shanghai)."""
    return ZoneInfo(current().timezone)
