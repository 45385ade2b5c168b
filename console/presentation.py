"""How values are shown (展示): money as ¥1,234.56, times in the configured zone (Asia/Shanghai),
and the Chinese names of levels, statuses, rules, states and notice kinds, read from the
domain's tables wherever a table names them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from markupsafe import Markup

from workflow.documents import KINDS as DOCUMENT_KINDS
from workflow.machines import MACHINES
from workflow.machines.payment import LIFECYCLE as PAYMENT_LIFECYCLE
from workflow.machines.warning import LIFECYCLE as WARNING_LIFECYCLE
from workflow.monitoring.rules import RULE_TITLES
from workflow.settings import local_zone

LEVELS = {"block": "拦截", "warn": "预警", "remind": "提示"}  # Art. 10: 三级预警
PARTY_KINDS = {"finance": "财政部门", "competent": "主管部门", "unit": "预算单位", "bank": "代理银行",
               "oversight": "监督机关", "system": "系统"}
SETTLEMENTS = {"transfer": "转账", "cash": "现金", "card": "公务卡"}
MACHINE_LABELS = {name: machine.label for name, machine in MACHINES.items()}
WARNING_STATUS = {name: state.label for name, state in WARNING_LIFECYCLE.states.items()}
PAYMENT_STATUS = {name: state.label for name, state in PAYMENT_LIFECYCLE.states.items()}
# The domain's reasons are English; the common ones in the words people read them in.
REASONS = {
    "Missing data for required field.": "必填",
    "required": "必填",
    "Not a valid date.": "不是有效的日期",
    "Not a valid datetime.": "不是有效的日期时间",
    "Not a valid string.": "不是有效的文字",
    "must not be empty": "不能为空",
}


def money(value) -> str:
    """¥1,234.56 (empty for none)."""
    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def local_time(value, with_time: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        local = value.astimezone(local_zone())
        return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def local_date(value) -> str:
    return local_time(value, with_time=False)


def case_state(case) -> str:
    return MACHINES[case.machine].state(case.state).label


def badge(text: str, tone: str) -> Markup:
    return Markup('<span class="badge badge-{}">{}</span>').format(tone, text)


LEVEL_TONES = {"block": "danger", "warn": "warn", "remind": "info"}
STATUS_TONES = {"open": "warn", "verifying": "info", "confirmed": "danger", "dismissed": "muted"}


def reason(text: str) -> str:
    return REASONS.get(text, text)


def register(bp) -> None:
    bp.add_app_template_filter(money, "money")
    bp.add_app_template_filter(local_time, "local_time")
    bp.add_app_template_filter(local_date, "local_date")
    bp.add_app_template_filter(reason, "reason")
    bp.add_app_template_global(badge, "badge")
    for name, table in {"LEVELS": LEVELS, "PARTY_KINDS": PARTY_KINDS, "SETTLEMENTS": SETTLEMENTS,
                        "RULE_TITLES": RULE_TITLES, "WARNING_STATUS": WARNING_STATUS,
                        "PAYMENT_STATUS": PAYMENT_STATUS, "MACHINE_LABELS": MACHINE_LABELS,
                        "LEVEL_TONES": LEVEL_TONES, "STATUS_TONES": STATUS_TONES,
                        "DOCUMENT_KINDS": {k: v.short_name for k, v in DOCUMENT_KINDS.items()}}.items():
        bp.add_app_template_global(table, name)
    bp.add_app_template_global(case_state, "case_state")
