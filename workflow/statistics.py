"""Monitoring statistics (监控结果运用, Art. 11(四)(五), 25(三), 26(三)): what screening, verification
and the cases found in a period, grouped as the people who use the results ask for it.

One call answers, for a period of Asia/Shanghai dates and a grouping, in each group and in total:

- ``payments``: screened (count, amount), intercepted (a block-level warning held them: count,
  amount), held now, refused (count, amount) — by the payment's time (``paid_at``);
- ``warnings``: raised (count; amount: each warning's payment, so a payment with two warnings
  counts twice), by status (pending, confirmed, dismissed, other), block-level ones, the
  confirmation rate (confirmed / decided: what rule-making needs, Art. 11(四)) and the median
  days from warning to decision — by the warning's ``created_at``;
- ``cases``: opened, by the rung they stand on, closed, overdue now, appealed (an Art. 24 appeal
  or a bank's dispute at any time), and the median days from opening to closure — by the case's
  ``created_at``;
- ``execution``: the budget of the year the period ends in against what is spent on it
  (支出进度), from the running totals screening keeps.

Groupings (:data:`GROUPINGS`): ``finance`` (the caller's region rolled up into the finance
departments directly below it, the caller's own units under itself), ``competent`` (each
competent department with its units), ``unit``, ``rule``, ``level`` and ``month``. A section
that does not divide by the grouping (payments and cases by rule or level) is given in total only.

Reach: a unit sees itself, a competent department its units, finance its region and the
regions below (:func:`workflow.scoping.units_of`); banks and oversight bodies get Forbidden.
Every figure is an aggregate query grouped by unit (or rule, level, month) in the database;
only the per-unit rows are rolled up here, so the cost follows the rows in the period, not the
number of groups.
"""
from __future__ import annotations

import datetime as dt
import statistics as pystats
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from workflow.budget import Indicator
from workflow.case_records import Case, CaseEvent
from workflow.db import db, utcnow
from workflow.errors import Invalid
from workflow.machines import MACHINES
from workflow.machines.warning import CONFIRMED, LIFECYCLE as WARNING
from workflow.monitoring.models import MonitoringWarning, Payment, SpendingTotal
from workflow.parties import Actor, Organisation, require
from workflow.scoping import units_of
from workflow.settings import local_zone

GROUPINGS = ("finance", "competent", "unit", "rule", "level", "month")
# Groupings of organisations: every section divides by them. The others divide warnings only.
BY_ORGANISATION = ("finance", "competent", "unit")
MAX_DAYS = 3660  # ten years: a month grouping then has at most 121 groups
APPEAL_STATES = tuple(sorted({s.name for m in MACHINES.values() for s in m.states.values() if s.kind == "appeal"}))
DISMISSED = "dismissed"
TOTAL = "total"


@dataclass(frozen=True)
class Period:
    """Local calendar dates, both included; as instants, ``[start, end)`` in UTC."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), local_zone()).astimezone(dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), local_zone()).astimezone(dt.timezone.utc)

    def months(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """Each local month the period touches, as (``YYYY-MM``, start, end) clipped to the period."""
        out, year, month = [], self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            nxt = (year + month // 12, month % 12 + 1)
            start = max(self.start, dt.datetime(year, month, 1, tzinfo=local_zone()).astimezone(dt.timezone.utc))
            end = min(self.end, dt.datetime(*nxt, 1, tzinfo=local_zone()).astimezone(dt.timezone.utc))
            out.append((f"{year:04d}-{month:02d}", start, end))
            year, month = nxt
        return out

    def describe(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def local_today() -> dt.date:
    return utcnow().astimezone(local_zone()).date()


def period(first: dt.date, last: dt.date) -> Period:
    if last < first:
        raise Invalid("the period ends before it begins", {"to": ["on or after from"]})
    if (last - first).days >= MAX_DAYS:
        raise Invalid("the period is too long", {"to": [f"at most {MAX_DAYS} days after from"]})
    return Period(first, last)


# --- the queries: one per section, grouped by unit (or rule, level, month) ----------------------------

def _month_of(column, p: Period):
    """The local month of ``column`` as ``YYYY-MM``: a CASE over the period's month boundaries,
    the same SQL on both databases (no time-zone arithmetic in the database)."""
    return sa.case(*((sa.and_(column >= start, column < end), label) for label, start, end in p.months()),
                   else_=sa.null())


def _key(grouping: str, unit_column, time_column, p: Period, rule_column=None, level_column=None):
    if grouping == TOTAL:
        return None
    if grouping == "month":
        return _month_of(time_column, p)
    if grouping == "rule":
        return rule_column
    if grouping == "level":
        return level_column
    return unit_column


def _grouped(stmt: sa.Select, key) -> sa.Select:
    """``stmt`` with the group key first and grouped by it; with no key (a section given in
    total only) one row keyed :data:`TOTAL`."""
    if key is None:
        return stmt.add_columns(sa.literal(TOTAL).label("k"))
    return stmt.add_columns(key.label("k")).group_by(key)


def _sum(expr):
    return sa.func.coalesce(sa.func.sum(sa.type_coerce(expr, sa.BigInteger)), 0)


def _fen(value) -> Decimal:
    return Decimal(int(value or 0)).scaleb(-2)


def _count_if(condition):
    return sa.func.count(sa.case((condition, 1), else_=sa.null()))


def _payments(actor: Actor, p: Period, grouping: str) -> dict:
    key = _key(grouping, Payment.unit_id, Payment.paid_at, p)
    where = (units_of(actor, Payment.unit_id), Payment.paid_at >= p.start, Payment.paid_at < p.end)
    stmt = _grouped(sa.select(sa.func.count(), _sum(Payment.amount),
                              _count_if(Payment.status == "held"), _count_if(Payment.status == "refused"),
                              _sum(sa.case((Payment.status == "refused", Payment.amount), else_=0)))
                    .where(*where), key)
    out = {k: {"screened": n, "amount": _fen(amount), "intercepted": 0, "intercepted_amount": Decimal("0.00"),
               "held": held, "refused": refused, "refused_amount": _fen(refused_amount)}
           for n, amount, held, refused, refused_amount, k in db.session.execute(stmt)}
    # Intercepted: driven from the block warnings (a tenth of the payments or fewer), each payment once.
    blocked = sa.select(MonitoringWarning.payment_id).where(MonitoringWarning.level == "block",
                                                            MonitoringWarning.payment_id.is_not(None)).distinct().subquery()
    stmt = _grouped(sa.select(sa.func.count(), _sum(Payment.amount)).select_from(blocked)
                    .join(Payment, Payment.id == blocked.c.payment_id).where(*where), key)
    for n, amount, k in db.session.execute(stmt):
        if k in out:
            out[k].update(intercepted=n, intercepted_amount=_fen(amount))
    return out


def _warnings(actor: Actor, p: Period, grouping: str) -> dict:
    w = MonitoringWarning
    key = _key(grouping, w.unit_id, w.created_at, p, w.rule, w.level)
    amount = sa.func.coalesce(sa.type_coerce(Payment.amount, sa.BigInteger), 0)
    undecided = w.status.in_(WARNING.undecided)
    where = (units_of(actor, w.unit_id), w.created_at >= p.start, w.created_at < p.end)
    stmt = _grouped(sa.select(sa.func.count(), _sum(amount),
                              _count_if(undecided), _count_if(w.status == CONFIRMED), _count_if(w.status == DISMISSED),
                              _count_if(w.level == "block"),
                              _sum(sa.case((w.status == CONFIRMED, amount), else_=0)))
                    .select_from(w).outerjoin(Payment, Payment.id == w.payment_id).where(*where), key)
    out = {}
    for n, total, pending, confirmed, dismissed, blocks, confirmed_amount, k in db.session.execute(stmt):
        out[k] = {"raised": n, "amount": _fen(total), "pending": pending, "confirmed": confirmed,
                  "dismissed": dismissed, "other": n - pending - confirmed - dismissed,
                  "confirmed_amount": _fen(confirmed_amount), "block": blocks}
    durations = sa.select(key if key is not None else sa.literal(TOTAL), w.created_at, w.closed_at).where(
        *where, w.closed_at.is_not(None))
    _medians(out, db.session.execute(durations), "days_to_decision")
    return out


def _cases(actor: Actor, p: Period, grouping: str) -> dict:
    key = _key(grouping, Case.subject_id, Case.created_at, p)
    appealed = sa.exists().where(CaseEvent.case_id == Case.id, CaseEvent.to_state.in_(APPEAL_STATES))
    where = (_cases_in_reach(actor), Case.created_at >= p.start, Case.created_at < p.end)
    stmt = _grouped(sa.select(sa.func.count(), _count_if(Case.closed_at.is_not(None)),
                              _count_if(sa.and_(Case.closed_at.is_(None), Case.overdue)), _count_if(appealed))
                    .where(*where), key)
    out = {k: {"opened": n, "closed": closed, "overdue": overdue, "appealed": appeals, "by_rung": {}}
           for n, closed, overdue, appeals, k in db.session.execute(stmt)}
    by_rung = sa.select(Case.rung, sa.func.count()).where(*where).group_by(Case.rung)
    for rung, n, k in db.session.execute(_grouped(by_rung, key)):
        out[k]["by_rung"][rung] = n
    durations = sa.select(key if key is not None else sa.literal(TOTAL), Case.created_at, Case.closed_at).where(
        *where, Case.closed_at.is_not(None))
    _medians(out, db.session.execute(durations), "days_to_closure")
    return out


def _cases_in_reach(actor: Actor):
    """Unit cases by their subject; for finance also the bank cases its departments opened."""
    if actor.kind == "finance":
        departments = sa.select(Organisation.id).where(Organisation.kind == "finance",
                                                       Organisation.finance_path.startswith(actor.finance_path))
        return sa.or_(units_of(actor, Case.subject_id), Case.finance_id.in_(departments))
    return units_of(actor, Case.subject_id)


def _execution(actor: Actor, p: Period) -> dict:
    """Per unit: the budget of the period's last year and what is spent on it."""
    year = p.last.year
    budget = db.session.execute(sa.select(Indicator.unit_id, _sum(Indicator.amount)).where(
        units_of(actor, Indicator.unit_id), Indicator.year == year).group_by(Indicator.unit_id))
    out = {unit_id: {"year": year, "budget": _fen(total), "spent": Decimal("0.00")} for unit_id, total in budget}
    spent = db.session.execute(sa.select(SpendingTotal.unit_id, _sum(SpendingTotal.spent)).where(
        units_of(actor, SpendingTotal.unit_id), SpendingTotal.year == year,
        SpendingTotal.key.startswith("indicator:")).group_by(SpendingTotal.unit_id))
    for unit_id, total in spent:
        out.setdefault(unit_id, {"year": year, "budget": Decimal("0.00"), "spent": Decimal("0.00")})["spent"] = _fen(total)
    return out


def _medians(out: dict, rows, name: str) -> None:
    """Collect (key, from, to) rows into per-key lists of days; :func:`_finish` takes the median."""
    for k, start, end in rows:
        if k in out:
            out[k].setdefault(f"_{name}", []).append((end - start).total_seconds() / 86400)


# --- rolling up and shaping -------------------------------------------------------------------------

def _organisations(ids: set[int]) -> dict[int, Organisation]:
    orgs: dict[int, Organisation] = {}
    ids = {i for i in ids if i is not None}
    while ids:
        batch = list(ids)[:500]
        ids -= set(batch)
        orgs.update({o.id: o for o in db.session.execute(sa.select(Organisation).where(Organisation.id.in_(batch))).scalars()})
    return orgs


def _group_of(actor: Actor, grouping: str, org: Organisation | None, orgs: dict, finance_by_path: dict) -> tuple:
    """(key, code, name) of the organisation group ``org`` falls in."""
    if org is None:
        return (None, None, None)
    if grouping == "unit":
        return (org.code, org.code, org.name)
    if grouping == "competent":
        parent = orgs.get(org.parent_id)
        if parent is not None and parent.kind == "competent":
            return (parent.code, parent.code, parent.name)
        return (None, None, "未归属主管部门")
    path = org.finance_path
    department = finance_by_path.get(_rolled_up(actor, path))
    if department is None:
        return (path, None, path)
    return (department.code, department.code, department.name)


def _merge(into: dict, add: dict) -> None:
    for name, value in add.items():
        if isinstance(value, dict):
            _merge(into.setdefault(name, {}), value)
        elif isinstance(value, list):
            into.setdefault(name, []).extend(value)
        elif name == "year":
            into[name] = value
        else:
            into[name] = into.get(name, 0) + value


def _finish(section: dict) -> dict:
    for name in [n for n in section if n.startswith("_")]:
        days = section.pop(name)
        section[name[1:]] = {"median": round(pystats.median(days), 1), "count": len(days)} if days else None
    if "days_to_decision" not in section and "raised" in section:
        section["days_to_decision"] = None
    if "days_to_closure" not in section and "opened" in section:
        section["days_to_closure"] = None
    if "raised" in section:
        decided = section["confirmed"] + section["dismissed"]
        section["confirmation_rate"] = _rate(section["confirmed"], decided)
    if "budget" in section:
        section["rate"] = _rate(section["spent"], section["budget"])
    return section


def _rate(part, whole) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole) * 100).quantize(Decimal("0.01")))


SECTIONS = ("payments", "warnings", "cases", "execution")


def statistics(actor: Actor, p: Period, grouping: str) -> dict:
    """The figures of ``p`` in the caller's reach, by ``grouping`` and in total (see the module)."""
    require(actor, "finance", "competent", "unit", action="read monitoring statistics")
    if grouping not in GROUPINGS:
        raise Invalid("unknown grouping", {"group_by": [f"one of {', '.join(GROUPINGS)}"]})
    by_org = grouping in BY_ORGANISATION
    divided = {"payments": by_org or grouping == "month", "warnings": True,
               "cases": by_org or grouping == "month", "execution": by_org}
    base = "unit" if by_org else grouping
    raw = {"payments": _payments(actor, p, base if divided["payments"] else TOTAL),
           "warnings": _warnings(actor, p, base),
           "cases": _cases(actor, p, base if divided["cases"] else TOTAL),
           "execution": _execution(actor, p)}
    groups: dict = {}
    names: dict = {}
    if by_org:
        ids = set().union(*(raw[s].keys() for s in SECTIONS))
        orgs = _organisations(ids)
        orgs.update(_organisations({o.parent_id for o in orgs.values()} - orgs.keys()))
        finance_by_path = {o.finance_path: o for o in db.session.execute(sa.select(Organisation).where(
            Organisation.kind == "finance", Organisation.finance_path.in_(
                _finance_paths(actor, orgs.values())))).scalars()}
        for section in SECTIONS:
            for unit_id, figures in raw[section].items():
                key, code, name = _group_of(actor, grouping, orgs.get(unit_id), orgs, finance_by_path)
                names[key] = (code, name)
                _merge(groups.setdefault(key, {}).setdefault(section, {}), figures)
    else:
        for section in SECTIONS:
            if not divided[section]:
                continue
            for key, figures in raw[section].items():
                names[key] = (key, None)
                _merge(groups.setdefault(key, {}).setdefault(section, {}), figures)
    total: dict = {}
    for section in SECTIONS:
        for figures in raw[section].values():
            _merge(total.setdefault(section, {}), figures)
    rows = []
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        figures = groups[key]
        rows.append({"key": key, "code": names[key][0], "name": names[key][1],
                     **{s: _finish(figures[s]) if s in figures else (_empty(s) if divided[s] else None)
                        for s in SECTIONS}})
    return {"period": p.describe(), "group_by": grouping, "generated_at": utcnow(),
            "groups": rows, "total": {s: _finish(total[s]) if s in total else _empty(s) for s in SECTIONS}}


def _rolled_up(actor: Actor, path: str) -> str:
    """The finance path a record of ``path`` is counted under in the ``finance`` grouping: for a
    finance caller, its own department or the one directly below it that holds ``path``;
    otherwise the path's own department."""
    own = actor.finance_path
    if actor.kind != "finance" or not path.startswith(own) or path == own:
        return path
    return own + path[len(own):].strip("/").split("/")[0] + "/"


def _finance_paths(actor: Actor, orgs) -> set[str]:
    return {_rolled_up(actor, o.finance_path) for o in orgs}


def _empty(section: str) -> dict:
    blank = {"payments": {"screened": 0, "amount": Decimal("0.00"), "intercepted": 0,
                          "intercepted_amount": Decimal("0.00"), "held": 0, "refused": 0,
                          "refused_amount": Decimal("0.00")},
             "warnings": {"raised": 0, "amount": Decimal("0.00"), "pending": 0, "confirmed": 0, "dismissed": 0,
                          "other": 0, "confirmed_amount": Decimal("0.00"), "block": 0},
             "cases": {"opened": 0, "closed": 0, "overdue": 0, "appealed": 0, "by_rung": {}},
             "execution": {"year": None, "budget": Decimal("0.00"), "spent": Decimal("0.00")}}[section]
    return _finish(dict(blank))
