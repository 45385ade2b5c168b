"""The warning rules (预警规则, Art. 10, 13-19), one class each.

A rule names its article as the regulation numbers it, its default level (``block``
拦截: the payment is held until verification releases or refuses it; ``warn`` 预警;
``remind`` 提示) and its parameters with their defaults. Thresholds, catalogues and
keyword lists are never constants here: they come from the active rule set
(:mod:`workflow.monitoring.rulesets`), which finance changes through the API.

A rule is built once per screening batch with its parameters (``Rule(params, rule_set)``)
and then asked ``check(payment, batch)`` for every payment, in payment-time order. It
answers the warning's Chinese message, or ``None``. ``payment`` is the screening engine's
dict of the payment's validated fields plus what the engine resolved once for all rules:

- ``unit_id``, ``year`` and ``month`` (Asia/Shanghai calendar year and month of ``paid_at``);
- ``account``: the payer account as recorded (:class:`AccountInfo`) or ``None``;
- ``indicator``: the budget indicator matched on unit, year, functional and economic code
  and project (:class:`IndicatorInfo`), or ``None``;
- ``category``: the payment's "三公" category (``abroad``/``vehicle``/``reception``) or ``None``,
  and ``category_key``, its running total's key in ``batch.totals``;
- ``month_key``: the running total of its indicator in its month (``None`` without an
  indicator), the key of the month's approved payment plan in ``batch.plans`` too.

``batch`` (:class:`workflow.monitoring.resolution.Batch`) holds what was loaded once for the
whole batch: accounts by number, indicators, payee registrations, "三公" budgets, the approved
monthly payment plans, units with disbursement suspended, and the running totals *before* this payment.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

import marshmallow as ma

from workflow.accounts import ACCOUNT_KINDS
from workflow.articles import Cited, art, cite
from workflow.budget import EXPENDITURE_KINDS
from workflow.db import to_money
from workflow.monitoring.models import EXCEPTIONS, MANUAL_RULE_TITLES, MANUAL_WARNING_RULES, PAYEE_KINDS, WARNING_LEVELS
from workflow.schemas import Checked, Flag, Money, Whole, choice, non_negative, schema_for
from workflow.settings import local_zone


class AccountInfo(NamedTuple):
    id: int
    unit_id: int
    bank_id: int
    kind: str
    registered: bool
    status: str
    closed_on: dt.date | None  # reported closed at the bank on that day (Art. 13(一))


class IndicatorInfo(NamedTuple):
    id: int
    amount: Decimal
    frozen: bool
    expenditure_kind: str
    project: str
    total_key: tuple  # its running total in ``batch.totals``: (unit_id, year, "indicator:<id>")


# ---------------------------------------------------------------- parameters

def _codes(value, *, what="codes") -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c.isdigit() and 1 <= len(c) <= 10 for c in value):
        raise ValueError(f"a list of {what}: digit strings of 1 to 10 digits")
    return sorted(set(value))


def _keywords(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) and 0 < len(k.strip()) <= 50 for k in value):
        raise ValueError("a list of non-empty words of at most 50 characters")
    return sorted({k.strip() for k in value})


def _subset(allowed):
    def check(value) -> list[str]:
        if not isinstance(value, list) or not all(v in allowed for v in value):
            raise ValueError(f"a list drawn from {', '.join(allowed)}")
        return sorted(set(value))
    return check


def _code_keywords(value) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ValueError("an object: economic code -> list of purpose words")
    return {_codes([code])[0]: _keywords(words) for code, words in value.items()}


def _exception_scope(value) -> dict[str, dict]:
    """What each Art. 13(三) exception covers. Exceptions left out keep their defaults, so a
    change names only the ones it changes; the stored value is always complete."""
    if not isinstance(value, dict):
        raise ValueError("an object: exception -> {\"economic_codes\": [...], \"any_code\": false}")
    unknown = sorted(set(value) - set(EXCEPTIONS))
    if unknown:
        raise ValueError(f"no such exception {unknown[0]!r}; the exceptions are {', '.join(EXCEPTIONS)}")
    result = copy.deepcopy(DEFAULT_EXCEPTION_SCOPE)
    for name, entry in value.items():
        if not isinstance(entry, dict) or not set(entry) <= {"economic_codes", "any_code"}:
            raise ValueError(f"{name}: an object with economic_codes (a list) and any_code (true or false)")
        any_code = entry.get("any_code", False)
        if not isinstance(any_code, bool):
            raise ValueError(f"{name}.any_code: true or false")
        try:
            codes = _codes(entry.get("economic_codes", []), what="economic codes or code classes")
        except ValueError as exc:
            raise ValueError(f"{name}.economic_codes: {exc}") from exc
        if not any_code and not codes:
            raise ValueError(f"{name} would cover nothing: give economic codes, set any_code, or take it out "
                             f"of the exceptions list instead")
        result[name] = {"economic_codes": codes, "any_code": any_code}
    return result


def _read_exception_scope(value) -> dict[str, tuple[bool, tuple[str, ...]]]:
    full = {**DEFAULT_EXCEPTION_SCOPE, **value}
    return {name: (entry.get("any_code", False), tuple(entry.get("economic_codes", ()))) for name, entry in full.items()}


def _categories(value) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier() and len(k) <= 16
                                              for k in value):
        raise ValueError("an object: category name (letters, at most 16) -> list of economic codes")
    result = {name: _codes(codes) for name, codes in value.items()}
    seen: set[str] = set()
    for codes in result.values():
        if seen & set(codes):
            raise ValueError("an economic code may belong to one category only")
        seen |= set(codes)
    return result


CODES_DOC = {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{1,10}$"}, "uniqueItems": True}


# Which way a parameter is stricter (Art. 5-7): a city or county finance department may move a
# value inherited from the level above only this way, unless that level opened the parameter to
# local change (:mod:`workflow.monitoring.rulesets`). Declared with each parameter below.
#   lower  — a smaller amount is stricter (a cash limit)
#   higher — a larger value is stricter (``True`` over ``False``; ``block`` over ``warn`` over ``remind``)
#   more   — more items are stricter (keywords, catalogue codes that must be flagged)
#   fewer  — fewer items are stricter (the scope or the exceptions that lift a rule)
#   fixed  — no direction: only the level above sets it (structured catalogues)
STRICTER = ("lower", "higher", "more", "fewer", "fixed")
# The two settings every rule has besides its parameters, and which way each is stricter:
# disabling a rule or lowering its level loosens it.
ENABLED_STRICTER = "higher"
LEVEL_STRICTER = "higher"
LEVEL_ORDER = {"remind": 0, "warn": 1, "block": 2}


@dataclass(frozen=True)
class Param:
    """A rule parameter: its default, the marshmallow field that checks a new value (and
    dumps it for storage as JSON), how the stored value is read for checking, what it means,
    and which way it is stricter (:data:`STRICTER`)."""

    default: Any
    field: ma.fields.Field
    read: Any
    description: str
    stricter: str

    def __post_init__(self):
        assert self.stricter in STRICTER, self.stricter
        given = self.field.metadata.get("description")
        self.field.metadata["description"] = (f"{self.description} — {given}" if given else self.description) + \
            f" (stricter: {self.stricter})"


def object_param(default: Any, check, read, description: str, *, stricter: str) -> Param:
    """A structured parameter (an object), checked by the rule's own function."""
    return Param(default, Checked(check, metadata={"type": "object"}), read, description, stricter)


def money_param(default: str, description: str, *, stricter: str) -> Param:
    return Param(default, Money(validate=non_negative), to_money, description, stricter)


def codes_param(default: list[str], description: str, *, stricter: str) -> Param:
    return Param(default, Checked(_codes, metadata=dict(CODES_DOC)), frozenset, description, stricter)


def prefixes_param(default: list[str], description: str, *, stricter: str) -> Param:
    return Param(default, Checked(lambda v: _codes(v, what="code prefixes"), metadata=dict(CODES_DOC)), tuple,
                 description, stricter)


def keywords_param(default: list[str], description: str, *, stricter: str) -> Param:
    return Param(default, Checked(_keywords, metadata={"type": "array", "items": {"type": "string", "maxLength": 50}}),
                 tuple, description, stricter)


def choice_param(default: list[str], allowed, description: str, *, stricter: str) -> Param:
    return Param(default, Checked(_subset(allowed), metadata={
        "type": "array", "items": {"type": "string", "enum": list(allowed)}, "uniqueItems": True}), frozenset,
        description, stricter)


def bool_param(default: bool, description: str, *, stricter: str) -> Param:
    return Param(default, Flag(), bool, description, stricter)


def one_of_param(default: str, allowed, description: str, *, stricter: str) -> Param:
    return Param(default, choice(allowed), str, description, stricter)


def percent_param(default: int, description: str, *, stricter: str) -> Param:
    return Param(default, Whole(minimum=1, maximum=100, message="a whole percentage, 1 to 100"), int, description,
                 stricter)


# ---------------------------------------------------------------- rules

class Rule:
    name: str = ""
    title: str = ""          # Chinese name, as finance staff call it
    cites: Cited              # the article(s) it rests on (workflow.articles)
    article: str = ""        # as the regulation numbers it, from ``cites``: 第十三条（二）1⑦
    default_level: str = "warn"
    parameters: dict[str, Param] = {}
    # Generated from ``parameters`` for each rule: the parameters as the rule set stores them,
    # and a change to the rule (those, ``enabled`` and ``level``), which finance's changes are loaded with.
    parameters_schema: type[ma.Schema]
    change_schema: type[ma.Schema]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.article = cls.cites.chinese  # the string stored on each warning and served as is
        cls.parameters_schema = schema_for({key: spec.field for key, spec in cls.parameters.items()},
                                           name=f"RuleParameters.{cls.name}", description=f"{cls.title} ({cls.article})",
                                           unknown_message="no such parameter", base=ma.Schema)
        change = f"RuleChange.{cls.name}"
        cls.change_schema = type(change, (cls.parameters_schema,), {
            "__doc__": cls.parameters_schema.__doc__,
            "Meta": type("Meta", (cls.parameters_schema.Meta,), {"title": change}),
            "enabled": Flag(metadata={"description": "whether the rule screens payments"}),
            "level": choice(WARNING_LEVELS, metadata={"description": "the level of the warnings it raises"})})

    def __init__(self, params: dict, rule_set: dict | None = None):
        self.enabled = params.get("enabled", True)
        self.level = params.get("level", self.default_level)
        for key, spec in self.parameters.items():
            setattr(self, key, spec.read(params.get(key, spec.default)))
        self.configure(rule_set or {})

    def configure(self, rule_set: dict) -> None:
        """Read other rules' parameters where a rule must stay consistent with them."""

    def check(self, p: dict, batch) -> str | None:  # pragma: no cover - every rule overrides
        raise NotImplementedError

    @classmethod
    def describe(cls) -> str:
        return (cls.__doc__ or "").strip()


class CashOverLimit(Rule):
    """Cash to one payee in one payment over the limit (1,000 yuan) without an approval
    reference of finance and the bank (现金支付每人一次不得超过1000元, Art. 13(二)1⑦)."""

    name = "cash_over_limit"
    title = "现金支付超限额"
    cites = art(13, 2, 1, sub=7)
    default_level = "block"
    parameters = {"limit": money_param("1000.00", "largest cash payment to one payee at one time, yuan",
                                       stricter="lower")}

    def check(self, p, batch):
        if p["settlement"] == "cash" and p["amount"] > self.limit and not p["approval_ref"]:
            return (f"现金支付{p['amount']}元，超过每人每次{self.limit}元的限额，"
                    f"且未提供财政部门和开户银行的批准文号")
        return None


class CashOutsideScope(Rule):
    """Cash for anything outside the scope of Art. 13(二)1: wages and allowances (301),
    personal and family payments incl. prizes and welfare (303), labour pay (30226), welfare
    (30229), farm produce bought from individuals (summary words), and petty items up to the
    settlement start point (1,000 yuan). An approval reference (⑧) lifts it. Economic codes in
    the official-card catalogue are left to ``official_card_required`` (the more specific
    article), so one cash payment is not flagged twice for the same thing."""

    name = "cash_outside_scope"
    title = "超范围使用现金"
    cites = art(13, 2, 1)
    default_level = "warn"
    parameters = {
        "scope_prefixes": prefixes_param(["301", "303", "30226", "30229"],
                                         "economic code prefixes cash may be used for (①-④)",
                                         stricter="fewer"),
        "settlement_start": money_param("1000.00", "结算起点: petty cash up to this amount is in scope (⑥)",
                                        stricter="lower"),
        "farm_produce_keywords": keywords_param(["农副产品", "收购"],
                                                "summary words marking purchases from individuals (⑤)",
                                                stricter="fewer"),
    }

    def configure(self, rule_set):
        card = rule_set.get("rules", {}).get("official_card_required", {})
        self.card_codes = frozenset(card.get("catalogue", ())) if card.get("enabled", True) else frozenset()

    def check(self, p, batch):
        if p["settlement"] != "cash" or p["amount"] <= self.settlement_start or p["approval_ref"]:
            return None
        code = p["economic_code"]
        if code.startswith(self.scope_prefixes) or code in self.card_codes:
            return None
        summary = p["summary"]
        if any(word in summary for word in self.farm_produce_keywords):
            return None
        return f"经济分类{code}不属于现金使用范围，现金支付{p['amount']}元超过结算起点{self.settlement_start}元"


class OfficialCardRequired(Rule):
    """Cash for an expense in the official-card catalogue (公务卡强制结算目录, Art. 13(二)2)."""

    name = "official_card_required"
    title = "应使用公务卡结算"
    cites = art(13, 2, 2)
    default_level = "warn"
    parameters = {"catalogue": codes_param(
        ["30201", "30202", "30203", "30204", "30205", "30206", "30207", "30211", "30213", "30215",
         "30216", "30217", "30218", "30231"], "economic codes that must be settled by official card",
        stricter="more")}

    def check(self, p, batch):
        if p["settlement"] == "cash" and p["economic_code"] in self.catalogue:
            return f"经济分类{p['economic_code']}属于公务卡强制结算目录，不得使用现金结算（现金{p['amount']}元）"
        return None


# Art. 13(三)'s six exceptions as the regulation numbers and words them (for messages and the
# rule's description). What each covers is the rule-set parameter ``exception_scope`` below.
EXCEPTION_ITEMS = {
    "purchased_services": ("1", "政府购买服务支出", "按合同约定支付的政府购买服务支出"),
    "union_tax_payroll": ("2", "工会经费、税金及工资类划转",
                          "确需划转的工会经费、应缴或代扣代缴的税金，以及向工资代发账户划转的工资、离退休经费、"
                          "个人采暖补贴、个人交通补贴、个人提租补贴等"),
    "student_aid": ("3", "奖助学金及补贴", "承担落实国家资助政策的院校及单位向学生发放的奖助学金及其他纳入财政预算的补贴费用"),
    "social_insurance": ("4", "社会保险等缴费", "暂不能通过零余额账户委托收款的社会保险缴费、医疗保险缴费、职业年金缴费"),
    "approved_reimbursement": ("5", "归垫资金", "报经财政部门审核批准的归垫资金"),
    "other_approved": ("6", "另有资金管理规定的其他资金",
                       "对国家和省另有资金管理规定的其他资金（有文件依据，经财政厅（局）批准）"),
}

# The default catalogue: the economic codes (2018 government expenditure economic classification,
# 部门预算支出经济分类) each exception covers. A listed code also covers the codes under it
# ("301" covers every 301xx item). Finance changes it in the rule set; this is only version 1.
DEFAULT_EXCEPTION_SCOPE = {
    # 1. services bought under contract: the service items of 302 商品和服务支出. The contract,
    #    invoice and the filing with the treasury are the document reference's to prove.
    "purchased_services": {"economic_codes": [
        "30202", "30203", "30204", "30209", "30213", "30214", "30215", "30216", "30226", "30227", "30299"],
        "any_code": False},
    # 2. 工会经费 30228; 税金 30240 税金及附加费用; wages to the payroll account: 30101 基本工资,
    #    30102 津贴补贴 (where personal heating and rent subsidies are booked), 30103 奖金,
    #    30107 绩效工资, 30199 其他工资福利支出; 离退休经费 30301 离休费, 30302 退休费; 个人交通补贴
    #    30239 其他交通费用; and, under the item's closing "等", 住房公积金 30113, which is withheld
    #    with the wages (the regulation does not name it: finance may move or drop it).
    "union_tax_payroll": {"economic_codes": [
        "30101", "30102", "30103", "30107", "30113", "30199", "30228", "30239", "30240", "30301", "30302"],
        "any_code": False},
    # 3. 30308 助学金 (scholarships and grants); the "other subsidies in the budget": 30399.
    "student_aid": {"economic_codes": ["30308", "30399"], "any_code": False},
    # 4. 30108 基本养老保险缴费, 30109 职业年金缴费, 30110 职工基本医疗保险缴费, 30111 公务员医疗补助
    #    缴费, 30112 其他社会保障缴费, 30311 代缴社会保险费.
    "social_insurance": {"economic_codes": ["30108", "30109", "30110", "30111", "30112", "30311"],
                         "any_code": False},
    # 5. and 6. are defined by finance's approval, not by what was bought: any code, on the
    #    approval document given as exception_ref.
    "approved_reimbursement": {"economic_codes": [], "any_code": True},
    "other_approved": {"economic_codes": [], "any_code": True},
}


class RealFundTransfer(Rule):
    """From a zero-balance account to a real-fund account (实有资金账户) recorded for the unit
    itself, its superior, or any other unit, outside the six exceptions of Art. 13(三).

    An exception lifts the rule only if it is claimed with its document reference (validation
    refuses one without), is enabled in ``exceptions``, and covers the payment: its economic
    code is among the exception's codes in ``exception_scope`` (工会经费 30228 under
    ``union_tax_payroll``, not office supplies), or the exception covers any code (归垫资金 and
    other approved funds, which rest on finance's approval alone). 归垫 (5) holds only on an entry
    of finance's register of approved 归垫 (Art. 13(四)) with the claimed document, the payment's
    indicator and money left for it, and the payment draws the entry down. A claim that does not apply
    still raises the warning, saying which exception was claimed and why it does not apply.
    A person's own account is not in the account register, so payments to individuals are
    judged by ``individual_payee_unregistered`` (Art. 16) instead."""

    name = "real_fund_transfer"
    title = "违规向实有资金账户划转资金"
    cites = cite(art(13, 3), art(10, 3, 11, to=13))
    default_level = "block"
    parameters = {
        "exceptions": choice_param(list(EXCEPTIONS), EXCEPTIONS, "exceptions of Art. 13(三) that lift the rule",
                                   stricter="fewer"),
        "exception_scope": object_param(
            DEFAULT_EXCEPTION_SCOPE, _exception_scope, _read_exception_scope,
            "exception -> {economic_codes: codes (or classes such as 301) it covers, any_code: covers every "
            "code}; exceptions left out of a change keep their codes", stricter="fixed"),
        "payer_kinds": choice_param(["zero_balance"], ACCOUNT_KINDS, "payer account kinds the rule watches",
                                   stricter="more"),
    }

    def check(self, p, batch):
        payer = p["account"]
        if payer is None or payer.kind not in self.payer_kinds:
            return None
        payee = batch.accounts.get(p["payee_account"])
        if payee is None or payee.kind != "real_fund":
            return None
        claimed = p["exception"]
        reason = "不属于第十三条（三）规定的例外情形"
        if claimed is not None:
            item, short, _ = EXCEPTION_ITEMS[claimed]
            named = f"申报的例外情形“{short}”（第十三条（三）{item}，依据{p['exception_ref']}）不适用："
            if claimed not in self.exceptions:
                reason = named + "该例外情形已在现行预警规则中停用"
            else:
                any_code, codes = self.exception_scope[claimed]
                code = p["economic_code"]
                if any_code or code.startswith(codes):
                    problem = self._reimbursement(p, batch) if claimed == "approved_reimbursement" else None
                    if problem is None:
                        return None
                    reason = named + problem
                else:
                    reason = named + f"该情形只涵盖经济分类{'、'.join(codes)}，本笔支付的经济分类为{code}"
        if payee.unit_id == p["unit_id"]:
            whose = "本单位"
        elif payee.unit_id == batch.parent_of.get(p["unit_id"]):
            whose = "上级主管部门"
        else:
            whose = "其他单位"
        return f"从零余额账户向{whose}实有资金账户{p['payee_account']}划转资金{p['amount']}元，{reason}"

    @staticmethod
    def _reimbursement(p, batch) -> str | None:
        """Exception 5 holds only on finance's register of approved 归垫 (Art. 13(三)5, 13(四)):
        an entry of the unit with the claimed document, on the payment's indicator, with money
        left for the whole payment. Honouring it draws the entry down (``batch.advances``, locked
        for the batch); otherwise why not."""
        entry = batch.advances.find(p["unit_id"], p["exception_ref"])
        if entry is None:
            return "财政部门归垫登记中没有该文号批准的本单位归垫"
        indicator = p["indicator"]
        if indicator is None or indicator.id != entry.indicator_id:
            return "该文号批准的归垫不是本笔支付所用的预算指标"
        if entry.remaining < p["amount"]:
            return f"该文号批准的归垫尚余{entry.remaining}元，不足本笔{p['amount']}元"
        batch.advances.draw(entry, p)
        return None


class NoBudget(Rule):
    """No budget indicator for the unit, year, functional and economic code and project
    (无预算支付, Art. 14, 10(三)2)."""

    name = "no_budget"
    title = "无预算支付"
    cites = cite(art(14), art(10, 3, 2))
    default_level = "block"

    def check(self, p, batch):
        if p["indicator"] is None:
            project = f"项目“{p['project']}”" if p["project"] else "基本支出"
            return (f"{p['year']}年度无功能分类{p['functional_code']}、经济分类{p['economic_code']}"
                    f"（{project}）的预算指标")
        return None


class OverBudget(Rule):
    """Cumulative counted payments against an indicator, in payment-time order, would
    exceed it with this payment (超预算, Art. 14-15, 10(三)3).

    "Counted": accepted and held payments (a held one may yet be released); a refused one is
    taken back out. Within a batch payments are screened by ``paid_at``; a payment posted in
    a later batch is counted after those already stored even if its ``paid_at`` is earlier,
    because warnings already raised are never withdrawn."""

    name = "over_budget"
    title = "超预算支付"
    cites = cite((art(14), art(15)), art(10, 3, 3))
    default_level = "block"

    def check(self, p, batch):
        indicator = p["indicator"]
        if indicator is None:
            return None
        spent = batch.totals.get(indicator.total_key, ZERO)
        if spent + p["amount"] > indicator.amount:
            return (f"预算指标{indicator.amount}元，已支付{spent}元，本笔{p['amount']}元后累计"
                    f"{spent + p['amount']}元，超出预算{spent + p['amount'] - indicator.amount}元")
        return None


class IndividualPayeeUnregistered(Rule):
    """A payment to an individual whose identity number, employer, title and account the unit
    has not filed with finance, whose filing finance has not confirmed (备案核实确认: pending or
    rejected, :mod:`workflow.machines.payee`), or whose name or account differs from the
    filing (Art. 16)."""

    name = "individual_payee_unregistered"
    title = "个人收款人未备案"
    cites = art(16)
    default_level = "warn"
    parameters = {
        "match_account": bool_param(True, "the payee account must be the filed one", stricter="higher"),
        "match_name": bool_param(True, "the payee name must be the filed one", stricter="higher"),
    }

    def check(self, p, batch):
        if p["payee_kind"] != "individual":
            return None
        number = p["payee_id_number"]
        if not number:
            return f"向个人{p['payee_name']}支付{p['amount']}元，未提供收款人身份证号码"
        filed = batch.registrations.get((p["unit_id"], number))
        if filed is None:
            return f"收款人{p['payee_name']}（身份证{mask(number)}）未向财政部门备案身份、工作单位、职务职称和银行账号"
        if filed.status != "confirmed":
            state = "已被财政部门退回" if filed.status == "rejected" else "尚未经财政部门核实确认"
            return f"收款人{p['payee_name']}（身份证{mask(number)}）的备案{state}"
        if self.match_name and filed.name != p["payee_name"]:
            return f"收款人姓名“{p['payee_name']}”与备案姓名不一致（身份证{mask(number)}）"
        if self.match_account and filed.account != p["payee_account"]:
            return f"收款账号{p['payee_account'] or '（空）'}与收款人{p['payee_name']}备案的个人银行账号不一致"
        return None


class FrozenBalance(Rule):
    """A payment from an indicator finance has frozen or is recovering (已冻结、应收回的结转
    结余资金, Art. 10(三)14)."""

    name = "frozen_balance"
    title = "支付已冻结资金"
    cites = art(10, 3, 14)
    default_level = "block"

    def check(self, p, batch):
        indicator = p["indicator"]
        if indicator is not None and indicator.frozen:
            return f"预算指标（经济分类{p['economic_code']}）已被财政部门冻结，不得支付{p['amount']}元"
        return None


class AccountNotRegistered(Rule):
    """The payer account is not recorded (neither registered by finance nor reported by the
    unit), not the paying unit's, not registered with finance, suspended or closed, or reported
    by the unit as closed at the bank on or before the payment's day (Art. 13(一))."""

    name = "account_not_registered"
    title = "付款账户未登记或已停用"
    cites = art(13, 1)
    default_level = "block"

    def check(self, p, batch):
        account = p["account"]
        number = p["payer_account"]
        if account is None:
            return f"付款账户{number}未在财政部门登记备案"
        if account.unit_id != p["unit_id"]:
            return f"付款账户{number}不是本单位在财政部门登记的账户"
        if not account.registered:
            return f"付款账户{number}未经财政部门登记备案"
        if account.status == "suspended":
            return f"付款账户{number}已被暂停使用"
        if account.status == "closed":
            return f"付款账户{number}已撤销"
        if account.closed_on is not None and p["paid_at"].astimezone(local_zone()).date() >= account.closed_on:
            return f"付款账户{number}已由单位报告于{account.closed_on.isoformat()}在开户银行撤销"
        return None


class SangongOverBudget(Rule):
    """Cumulative "三公" spending of a category — 因公出国(境) 30212, 公务用车购置及运行
    30231/31013, 公务接待 30217 — over its budget, which is the sum of the unit's indicators
    of that category's codes for the year (Art. 19)."""

    name = "sangong_over_budget"
    title = "“三公”经费超预算"
    cites = art(19)
    default_level = "warn"
    parameters = {"categories": object_param(
        {"abroad": ["30212"], "vehicle": ["30231", "31013"], "reception": ["30217"]},
        _categories, lambda v: {name: frozenset(codes) for name, codes in v.items()},
        "category -> economic codes whose spending counts against the category's budget", stricter="fixed")}

    NAMES = {"abroad": "因公出国（境）费", "vehicle": "公务用车购置及运行费", "reception": "公务接待费"}

    def check(self, p, batch):
        category = p["category"]
        if category is None:
            return None
        budget = batch.sangong_budget.get((p["unit_id"], p["year"], category), ZERO)
        spent = batch.totals.get(p["category_key"], ZERO)
        if spent + p["amount"] > budget:
            name = self.NAMES.get(category, category)
            return (f"“三公”经费（{name}）年度预算{budget}元，已支付{spent}元，本笔{p['amount']}元后"
                    f"超出{spent + p['amount'] - budget}元")
        return None


class LuxurySpecialties(Rule):
    """The summary names a famous specialty or luxury good (名贵特产、高档消费品; Art. 19,
    财办〔2019〕47号). The word list is configurable."""

    name = "luxury_specialties"
    title = "违规购买名贵特产"
    cites = art(19)
    default_level = "warn"
    parameters = {"keywords": keywords_param(
        ["茅台", "五粮液", "高档白酒", "高档烟", "中华烟", "冬虫夏草", "虫草", "燕窝", "鱼翅", "海参", "鲍鱼",
         "名贵特产", "土特产", "名茶", "大红袍", "普洱", "和田玉", "玉器", "奢侈品", "名表", "购物卡", "高尔夫"],
        "summary words that name famous specialties and luxury goods", stricter="more")}

    def check(self, p, batch):
        summary = p["summary"]
        for word in self.keywords:
            if word in summary:
                return f"支付摘要“{summary[:60]}”含“{word}”，疑似公款购买名贵特产或高档消费品"
        return None


class EarmarkedDiverted(Rule):
    """Earmarked funds paid for other purposes (挪用专项用途资金, Art. 10(三)16-17). Precisely:

    1. a payment under an earmarked economic code — 住房公积金 30113, social security 30108
       (养老保险) and 30112 (其他社会保障缴费) — to a payee kind that does not collect such
       contributions (only ``unit``: the fund centre or social-security agency), or whose
       summary names none of the code's purposes (e.g. 30113 without "公积金");
    2. a payment naming a project (``project``) that has an indicator for the unit and year, but
       not under the payment's functional and economic codes: project money paid out under
       other codes (串项挪用). Such a payment also has no matching indicator (``no_budget``).
    """

    name = "earmarked_diverted"
    title = "挪用专项资金"
    cites = art(10, 3, 16, to=17)
    default_level = "warn"
    parameters = {
        "earmarked_codes": object_param(
            {"30113": ["公积金"], "30108": ["养老", "保险", "社保"],
             "30112": ["保险", "社保", "医疗", "失业", "工伤", "生育", "年金"]},
            _code_keywords, lambda v: {code: tuple(words) for code, words in v.items()},
            "earmarked economic code -> words one of which the summary must contain", stricter="fixed"),
        "payee_kinds": choice_param(["unit"], PAYEE_KINDS, "payee kinds an earmarked payment may go to",
                                   stricter="fewer"),
        "project_funds": bool_param(True, "flag project money paid under codes the project has no indicator for",
                                   stricter="higher"),
    }

    def check(self, p, batch):
        code = p["economic_code"]
        purposes = self.earmarked_codes.get(code)
        if purposes is not None:
            if p["payee_kind"] not in self.payee_kinds:
                return f"专项用途资金（经济分类{code}）{p['amount']}元支付给{KIND_NAMES[p['payee_kind']]}{p['payee_name']}"
            if purposes and not any(word in p["summary"] for word in purposes):
                return f"专项用途资金（经济分类{code}）的支付摘要“{p['summary'][:60]}”与其用途不符"
        if (self.project_funds and p["project"] and p["indicator"] is None
                and (p["unit_id"], p["year"], p["project"]) in batch.projects):
            return (f"项目“{p['project']}”资金在功能分类{p['functional_code']}、经济分类{code}下无预算，"
                    f"疑似挪作他用")
        return None


REQUIRE_PLAN = ("ignore", "warn")


class OverPaymentPlan(Rule):
    """Payments on an indicator in one month beyond the payment plan finance approved for that
    month (超用款计划支付: the month's authorised quota, 分月用款授权额度, Art. 10(二)1, drawn on the
    plan the unit applied for, 10(三)15). Cumulative in payment-time order, like ``over_budget``:
    the month's counted payments on the indicator so far (accepted and held), plus this one,
    against the approved amount in force. A plan being revised keeps the amount approved before
    until finance approves the revision; a plan filed or returned and never approved is no quota.

    ``require_plan`` decides a payment in a month with no approved plan for its indicator:
    ``ignore`` (the default: plans come into use unit by unit, and until a unit files them a
    warning on each of its payments would bury the others) or ``warn``.
    ``uneven_percent`` is read when a plan is filed, not in screening: a basic-expenditure plan
    that puts more than this share of the indicator's annual amount into one month is flagged
    as uneven (年度均衡性原则, Art. 10(三)15) in the filing's answer and in finance's list."""

    name = "over_payment_plan"
    title = "超用款计划支付"
    cites = cite(art(10, 2, 1), art(10, 3, 15))
    default_level = "warn"
    parameters = {
        "require_plan": one_of_param("ignore", REQUIRE_PLAN,
                                     "a payment in a month without an approved plan for its indicator: "
                                     "ignore, or warn", stricter="fixed"),
        "uneven_percent": percent_param(30, "a basic-expenditure plan putting more than this percentage of the "
                                            "indicator's annual amount into one month is flagged as uneven "
                                            "when filed", stricter="lower"),
    }

    def check(self, p, batch):
        key = p["month_key"]
        if key is None:  # no indicator: no_budget's business
            return None
        approved = batch.plans.get(key)
        amount = p["amount"]
        if approved is None:
            if self.require_plan == "warn":
                return (f"{p['year']}年{p['month']}月无财政部门批复的用款计划（功能分类{p['functional_code']}、"
                        f"经济分类{p['economic_code']}），支付{amount}元")
            return None
        spent = batch.totals.get(key, ZERO)
        if spent + amount > approved:
            return (f"{p['year']}年{p['month']}月用款计划（经济分类{p['economic_code']}）批复{approved}元，"
                    f"本月已支付{spent}元，本笔{amount}元后累计{spent + amount}元，"
                    f"超出用款计划{spent + amount - approved}元")
        return None


class SpecialFundRulesMissing(Rule):
    """A payment from special funds (财政专项资金: an indicator of the expenditure kinds in
    ``expenditure_kinds``, project funds by default) by a unit with no internal management rules
    for that fund approved by finance (内部财务管理办法审定备案, Art. 17). With ``match_fund`` the
    approved rules must name the fund paid from (their ``fund_code`` is the indicator's project);
    without, any approved rules of the unit will do. The approved filings are read once per batch
    (``batch.special_fund_rules``: (unit id, fund) pairs, and (unit id, None) for any)."""

    name = "special_fund_rules_missing"
    title = "专项资金内部管理办法未审定备案"
    cites = art(17)
    default_level = "warn"
    parameters = {
        "expenditure_kinds": choice_param(["project"], EXPENDITURE_KINDS,
                                          "indicator expenditure kinds whose money is special funds",
                                          stricter="more"),
        "match_fund": bool_param(True, "the approved rules must name the fund (the indicator's project) paid from",
                                 stricter="higher"),
    }

    def check(self, p, batch):
        indicator = p["indicator"]
        if indicator is None or indicator.expenditure_kind not in self.expenditure_kinds:
            return None
        fund = indicator.project
        if (p["unit_id"], fund if self.match_fund else None) in batch.special_fund_rules:
            return None
        named = f"“{fund}”" if fund else ""
        return (f"支付专项资金{named}{p['amount']}元，单位的专项资金{named}内部财务管理办法和会计核算管理办法"
                f"未经财政部门审定备案")


class DisbursementSuspended(Rule):
    """The unit's disbursement is suspended by a case (暂停拨款, Art. 21(四)): every payment is held."""

    name = "disbursement_suspended"
    title = "单位已被暂停拨款"
    cites = art(21, 4)
    default_level = "block"

    def check(self, p, batch):
        if p["unit_id"] in batch.suspended:
            return "该单位因逾期未整改已被暂停拨款，支付须经财政部门核实后办理"
        return None


ZERO = Decimal("0.00")
KIND_NAMES = {"unit": "单位", "company": "企业", "individual": "个人"}


def mask(id_number: str) -> str:
    """Identity numbers appear in messages masked (only the last four digits)."""
    return "*" * max(len(id_number) - 4, 0) + id_number[-4:]


RULES: tuple[type[Rule], ...] = (
    AccountNotRegistered,
    DisbursementSuspended,
    NoBudget,
    OverBudget,
    OverPaymentPlan,
    FrozenBalance,
    EarmarkedDiverted,
    RealFundTransfer,
    CashOverLimit,
    OfficialCardRequired,
    CashOutsideScope,
    IndividualPayeeUnregistered,
    SpecialFundRulesMissing,
    SangongOverBudget,
    LuxurySpecialties,
)
RULES_BY_NAME: dict[str, type[Rule]] = {rule.name: rule for rule in RULES}
# Every rule a warning may name: the screening rules above and the hand-raised kinds.
WARNING_RULES = (*RULES_BY_NAME, *MANUAL_WARNING_RULES)
# Each warning rule's Chinese name, as messages show it.
RULE_TITLES: dict[str, str] = {**{name: rule.title for name, rule in RULES_BY_NAME.items()}, **MANUAL_RULE_TITLES}


@dataclass
class BoundRules:
    """The enabled rules of one rule-set version, built once for a batch (per finance department)."""

    version: int
    rules: list[Rule] = field(default_factory=list)
    sangong_codes: dict[str, str] = field(default_factory=dict)  # economic code -> category
    department_id: int | None = None  # whose rule set (Art. 5-7): the warnings record it with the version

    @classmethod
    def build(cls, version: int, parameters: dict, department_id: int | None = None) -> BoundRules:
        rule_params = parameters["rules"]
        rules = [rule(rule_params[rule.name], parameters) for rule in RULES]
        categories = rule_params["sangong_over_budget"]["categories"]
        return cls(version=version, department_id=department_id, rules=[r for r in rules if r.enabled],
                   sangong_codes={code: name for name, codes in categories.items() for code in codes})


def _ranked(direction_order: dict | None):
    return direction_order.get if direction_order else (lambda value: value)


def tightest(stricter: str, inherited: Any, local: Any, order: dict | None = None) -> Any:
    """What a lower level's ``local`` value comes to under the ``inherited`` one when the
    parameter is not open to it (Art. 5-7): ``local`` where it is at least as strict, else the
    strictness the level above set — ``lower``/``higher`` keep the stricter value, ``more`` the
    union, ``fewer`` the intersection, ``fixed`` the inherited value. ``order`` ranks values
    that are not numbers (the levels, :data:`LEVEL_ORDER`). Values are in their stored form."""
    if stricter == "lower":
        return local if Decimal(str(local)) <= Decimal(str(inherited)) else inherited
    if stricter == "higher":
        rank = _ranked(order)
        return local if rank(local) >= rank(inherited) else inherited
    if stricter == "more":
        return sorted(set(inherited) | set(local))
    if stricter == "fewer":
        return sorted(set(inherited) & set(local))
    return inherited


def same_value(a: Any, b: Any) -> bool:
    """Two stored values are the same setting (lists as sets, amounts as amounts)."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, str) and isinstance(b, str):
        try:
            return Decimal(a) == Decimal(b)
        except ArithmeticError:
            return a == b
    return a == b


def setting_stricter(rule: type[Rule], key: str) -> tuple[str, dict | None]:
    """The direction (and ranking) of one setting of ``rule``: a parameter, ``enabled`` or ``level``."""
    if key == "enabled":
        return ENABLED_STRICTER, None
    if key == "level":
        return LEVEL_STRICTER, LEVEL_ORDER
    return rule.parameters[key].stricter, None
