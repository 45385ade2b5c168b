"""Numbered notices (Art. 11(二)3-4, 21, 22, 23 and annexes 1-2): numbering, rendering, checks."""
import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from workflow import analysis_reports, documents
from workflow.db import db
from workflow.documents import KINDS, Document, DocumentCounter, issue_document
from workflow.errors import Conflict, Forbidden, Invalid
from workflow.parties import Actor, org_by_code

CITY = "653000-CZ"
UNIT = "653000-301001"
COMPETENT_NAME = "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会"
UNIT_NAME = COMPETENT_NAME + "机关"
BEIJING = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=BEIJING)

PAYMENT = {"payment_date": "2026-02-27", "payee": "克州迎宾馆", "voucher_number": "ZF2026-000318",
           "summary": "接待费（现金）", "payment_status": "held"}

# A context for every kind, and the text each must put on the page.
SAMPLES = {
    "interview_notice": (
        {**PAYMENT, "interview_date": dt.date(2026, 3, 6), "room": "财政局302室"},
        ["2026年2月27日", "克州迎宾馆", "ZF2026-000318", "接待费（现金）", "2026年3月6日", "财政局302室",
         "相关财务人员两位", "受约谈单位负责人签字", "受约谈单位公章"]),
    "onsite_notice": (
        {**PAYMENT, "team": ["阿依古丽", "王建国"], "team_size": 3},
        ["2026年2月27日", "克州迎宾馆", "ZF2026-000318", "接待费（现金）", "阿依古丽、王建国", "等<span class=\"fill\">3</span>名同志",
         "前往你单位进行实地核证", "被核证单位负责人签字", "被核证单位公章"]),
    "focus_letter": (
        {"findings": "本季度触发预警12次\n公务接待费现金支付3笔", "reply_by": "2026-03-13"},
        ["本季度触发预警12次", "公务接待费现金支付3笔", "2026年3月13日", "第十一条第（二）项第4目",
         "抄送：" + COMPETENT_NAME]),
    "handling_decision": (
        {"violation": "超预算支付公务接待费", "measures": ["退回违规资金", "调整账目"], "amount": "12500.00",
         "deadline": "2026-03-20"},
        ["超预算支付公务接待费", "退回违规资金", "调整账目", "12,500.00元", "2026年3月20日", "第二十一条第（二）项",
         "申请行政复议或提起行政诉讼"]),
    "rectification_order": (
        {"violation": "未按处理决定退回违规资金", "requirements": ["退回资金12500.00元"],
         "deadline": dt.datetime(2026, 3, 31, 15, 59, 59, tzinfo=dt.timezone.utc)},
        ["未按处理决定退回违规资金", "退回资金12500.00元", "2026年3月31日", "第二十一条第（三）项",
         "暂停拨付资金、撤销相关银行账户", "抄送：" + COMPETENT_NAME]),
    "public_notice": (
        {"subject_name": UNIT_NAME, "violation": "多次以现金支付公务接待费", "handling": "责令整改",
         "circulated_to": "克州财政局管辖范围内各部门、各单位", "scope": "本地区各部门、各单位"},
        ['<p class="addressee"><span class="fill">克州财政局管辖范围内各部门、各单位</span>：',
         "多次以现金支付公务接待费", "责令整改", "克州财政局管辖范围内各部门、各单位", "本地区各部门、各单位",
         "第二十一条第（五）项"]),
    "problem_circular": (
        {"period": "2026年1月1日至2026年2月28日", "circulated_to": "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会及所属预算单位",
         "findings": ["单位1：发出预警3条，其中确认违规2条", "合计：发出预警3条"], "cases": ["案例1：某单位，现金支付超限"],
         "due_on": "2026-03-20"},
        ["2026年1月1日至2026年2月28日", "单位1：发出预警3条", "案例1：某单位，现金支付超限", "2026年3月20日",
         "第十一条第（四）项", "自查自纠"]),
    "referral_letter": (
        {"subject_name": "克州政协机关", "violation": "拒不执行处理决定", "materials": ["违规问题处理单"]},
        ["克州政协机关", "拒不执行处理决定", "违规问题处理单", "第二十三条", "重点监督检查对象"]),
    "transfer_letter": (
        {**PAYMENT, "unit_name": UNIT_NAME, "warning_summary": "向无证经营者支付接待费", "amount": "1800.00",
         "matters": ["收款单位无证经营"], "basis": "《无证无照经营查处办法》", "reply_by": "2026-03-20",
         "materials": ["支付凭证复印件"]},
        [UNIT_NAME, "ZF2026-000318", "1,800.00元", "向无证经营者支付接待费", "现已被预算管理一体化系统监控拦截",
         "收款单位无证经营", "第十一条第（三）项", "《无证无照经营查处办法》", "2026年3月20日", "支付凭证复印件",
         "移交你单位处理"]),
    "bank_rectification_notice": (
        {"ground": "payment", "violation": "违规办理现金支付", "measures": "按原渠道退回资金", "deadline": "2026-03-09",
         "amount": Decimal("3000.00")},
        ["违规办理现金支付", "按原渠道退回资金", "2026年3月9日", "3,000.00元", "第二十二条第（一）项", "赔偿责任"]),
    "bank_criticism_notice": (
        {"violation": "未按要求整改", "fee_deduction": "5000.00"},
        ["未按要求整改", "通报批评", "5,000.00元", "第二十二条第（三）项"]),
    "agreement_termination_notice": (
        {"violation": "虚报整改情况", "effective_date": "2026-04-01"},
        ["虚报整改情况", "2026年4月1日", "终止", "申请仲裁或提起民事诉讼"]),
    # Art. 11(四)(五): its figures come from the tables workflow.analysis_reports builds (``extra``).
    "analysis_report": (
        {"period_kind": "annual", "period_label": "2021年度", "period_from": "2021-01-01", "period_to": "2021-12-31"},
        ["2021年度", "2021年1月1日至2021年12月31日", "年度", "一、总体情况", "六、典型案例", "第十一条第（四）项", "<svg"]),
}
ADDRESSEES = {"analysis_report": CITY, "referral_letter": "653000-SJ", "transfer_letter": "653000-SCJG",
              "problem_circular": "653000-301",
              "bank_rectification_notice": "BANK-ICBC-KZ",
              "bank_criticism_notice": "BANK-ICBC-KZ", "agreement_termination_notice": "BANK-ICBC-KZ"}


def _report_values(kind: str) -> dict | None:
    """What an analysis report renders besides its context: its tables and charts."""
    if kind != "analysis_report":
        return None
    tables = analysis_reports.build_tables(org_by_code(CITY), analysis_reports.parse_period("annual", "2021"))
    return {"report": tables, "charts": analysis_reports.charts(tables)}


def issue(kind="interview_notice", *, issuer=CITY, addressee=None, context=None, now=NOW, actor=None, **kw):
    kw.setdefault("extra", _report_values(kind))
    return issue_document(actor or Actor.system(), kind=kind, issuer=org_by_code(issuer),
                          addressee=org_by_code(addressee or ADDRESSEES.get(kind, UNIT)),
                          context=SAMPLES[kind][0] if context is None else context, now=now, **kw)


def test_annex_number_reads_year_and_sequence(demo):
    assert issue().number == "2026年第1号"
    assert issue().number == "2026年第2号"


def test_number_year_is_the_beijing_year_of_issue(demo):
    new_year_in_beijing = dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.timezone.utc)
    document = issue(now=new_year_in_beijing)
    assert (document.year, document.number) == (2026, "2026年第1号")
    assert "2026年1月1日" in document.html


def test_numbers_count_per_issuer_year_and_kind(demo):
    assert [issue().seq for _ in range(3)] == [1, 2, 3]
    assert issue("onsite_notice").seq == 1
    assert issue(issuer="650000-CZ").seq == 1
    assert issue(now=NOW.replace(year=2027)).seq == 1
    assert issue().seq == 4


def test_a_rolled_back_issue_gives_its_number_back(demo):
    issue()
    db.session.commit()
    issue()
    db.session.rollback()
    assert issue().number == "2026年第2号"


def test_counter_holds_the_last_number_given(demo):
    city = org_by_code(CITY)
    issue(), issue()
    counter = db.session.get(DocumentCounter, (city.id, 2026, "interview_notice"))
    assert counter.last_seq == 2


def test_every_kind_declares_an_existing_template_and_an_article():
    root = Path(documents.TEMPLATES_DIR)
    for kind in KINDS.values():
        assert (root / kind.template).is_file(), kind.template
        assert kind.article and kind.title and kind.required_fields


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_renders_its_fields_in_chinese(demo, kind):
    document = issue(kind)
    html = document.html
    assert document.title == KINDS[kind].title
    assert f"编号：{document.number}" in html
    assert f"<h1>{KINDS[kind].title}</h1>" in html
    assert org_by_code(ADDRESSEES.get(kind, UNIT)).name in html
    assert "克孜勒苏柯尔克孜自治州财政局" in html and "2026年3月2日" in html
    for text in SAMPLES[kind][1]:
        assert text in html, text


def test_sample_table_covers_every_kind():
    assert set(SAMPLES) == set(KINDS)


def test_annex1_interview_notice_is_the_form_filled_in(demo):
    html = issue("interview_notice").html
    assert (f"你单位于<span class=\"fill\">2026年2月27日</span>申请向<span class=\"fill\">克州迎宾馆</span>（收款单位）"
            f"支付的第<span class=\"fill\">ZF2026-000318</span>号（支付凭证号）") in html
    assert "于<span class=\"fill\">2026年3月6日</span>到我单位<span class=\"fill\">财政局302室</span>（房间号）进行约谈" in html
    assert "此通知书，请受约谈单位负责人签字并加盖公章后，返还我单位存档。" in html
    assert f"<span class=\"fill\">{UNIT_NAME}</span>（预算单位）：" in html


def test_annex2_onsite_notice_names_the_team_and_its_size(demo):
    context = {**PAYMENT, "team": "阿依古丽、王建国、李明"}
    html = issue("onsite_notice", context=context).html
    assert "派出<span class=\"fill\">阿依古丽、王建国、李明</span>等<span class=\"fill\">3</span>名同志" in html
    assert "此通知书，请被核证单位负责人签字并加盖公章后，返还我单位存档。" in html


def test_annex2_onsite_notice_names_an_entrusted_accounting_firm(demo):
    html = issue("onsite_notice", context={**PAYMENT, "team": ["张伟"], "agency": "新疆天山会计师事务所"}).html
    assert "委托<span class=\"fill\">新疆天山会计师事务所</span>派出" in html


def test_annex_fields_come_from_the_payment(demo):
    payment = SimpleNamespace(paid_at=dt.datetime(2026, 2, 26, 17, 0, tzinfo=dt.timezone.utc),
                              payee_name="克州迎宾馆", voucher_no="ZF2026-000318", summary="接待费",
                              status="held")
    context = {**documents.payment_context(payment), "interview_date": "2026-03-06", "room": "302"}
    html = issue("interview_notice", context=context).html
    assert "2026年2月27日" in html  # 01:00 on the 27th in Beijing
    assert "ZF2026-000318" in html


def test_missing_context_fields_are_named_and_nothing_is_written(demo):
    context = {k: v for k, v in SAMPLES["interview_notice"][0].items() if k not in ("voucher_number", "room")}
    with pytest.raises(Invalid) as raised:
        issue("interview_notice", context=context)
    assert raised.value.errors == {"context.voucher_number": ["required"], "context.room": ["required"]}
    assert "voucher_number" in raised.value.message
    assert db.session.execute(sa.select(sa.func.count()).select_from(Document)).scalar() == 0
    assert db.session.execute(sa.select(sa.func.count()).select_from(DocumentCounter)).scalar() == 0


def test_art21_3_rectification_order_needs_its_deadline(demo):
    context = {k: v for k, v in SAMPLES["rectification_order"][0].items() if k != "deadline"}
    with pytest.raises(Invalid) as raised:
        issue("rectification_order", context=context)
    assert raised.value.errors == {"context.deadline": ["required"]}


def test_money_in_a_notice_never_passes_through_float(demo):
    context = {**SAMPLES["bank_criticism_notice"][0], "fee_deduction": 5000.0}
    with pytest.raises(Invalid) as raised:
        issue("bank_criticism_notice", context=context)
    assert list(raised.value.errors) == ["context.fee_deduction"]


def test_a_naive_datetime_is_refused(demo):
    context = {**SAMPLES["rectification_order"][0], "deadline": dt.datetime(2026, 3, 31, 18, 0)}
    with pytest.raises(Invalid) as raised:
        issue("rectification_order", context=context)
    assert list(raised.value.errors) == ["context.deadline"]


def test_context_is_stored_normalised_without_unknown_keys(demo):
    context = {**SAMPLES["rectification_order"][0], "version": 3, "comment": "内部意见"}
    document = issue("rectification_order", context=context)
    assert document.context == {"violation": "未按处理决定退回违规资金", "requirements": ["退回资金12500.00元"],
                                "deadline": "2026-03-31"}


def test_user_text_is_escaped_in_the_notice(demo):
    context = {**SAMPLES["handling_decision"][0], "violation": "<script>alert(1)</script>"}
    html = issue("handling_decision", context=context).html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_issued_notice_cannot_be_changed(demo):
    document = issue()
    db.session.commit()
    document.html = "<p>改过的</p>"
    with pytest.raises(Conflict):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Document, document.id).html != "<p>改过的</p>"


def test_art25_only_finance_issues_notices(demo):
    with pytest.raises(Forbidden):
        issue(actor=Actor.of(demo.users["unit"]))


def test_a_finance_officer_issues_only_in_their_own_departments_name(demo):
    with pytest.raises(Forbidden):
        issue(actor=Actor.of(demo.users["finance"]))  # a province officer, in the city's name
    assert issue(actor=Actor.of(demo.users["city_finance"])).issuer.code == CITY


def test_art22_bank_notices_go_to_banks_only(demo):
    with pytest.raises(Invalid) as raised:
        issue("bank_criticism_notice", addressee=UNIT)
    assert list(raised.value.errors) == ["addressee"]


def test_art23_referral_goes_to_an_oversight_body(demo):
    with pytest.raises(Invalid):
        issue("referral_letter", addressee=UNIT)
    assert issue("referral_letter").addressee.kind == "oversight"


def test_notices_go_only_to_parties_in_the_issuers_jurisdiction(demo):
    with pytest.raises(Invalid) as raised:
        issue(issuer="653001-CZ")  # the county does not oversee the prefecture's unit
    assert raised.value.errors == {"addressee": ["outside the issuer's jurisdiction"]}


def test_unknown_kind_is_refused(demo):
    with pytest.raises(Invalid) as raised:
        issue_document(Actor.system(), kind="memo", issuer=org_by_code(CITY), addressee=org_by_code(UNIT), context={})
    assert list(raised.value.errors) == ["kind"]


def test_document_links_to_its_warning(demo):
    from workflow.monitoring.models import MonitoringWarning

    unit = org_by_code(UNIT)
    warning = MonitoringWarning(unit=unit, rule="cash_over_limit", level="block", article="第十三条（二）1⑦", message="现金超限额")
    db.session.add(warning)
    db.session.flush()
    document = issue(warning_id=warning.id)
    db.session.commit()
    assert db.session.get(Document, document.id).warning_id == warning.id


def test_art21_4_a_suspension_decision_cites_item_four(demo):
    context = {"violation": "未在限期内落实书面整改意见", "measures": ["暂停拨付资金，直至整改到位"], "basis": "21(四)"}
    html = issue("handling_decision", context=context).html
    assert "第二十一条第（四）项" in html and "第二十一条第（二）项" not in html
    assert "未在限期内落实我单位书面责令整改意见" in html
