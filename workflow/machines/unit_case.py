"""Budget-unit cases (预算单位违规问题处理), Art. 21, 23 and 24: the one table.

States (状态):

- ``warning``           警示纠正 — 21(一): warned (by phone), correct at once, report in writing
- ``decision``          处理决定 — 21(二): return funds, adjust accounts, complete procedures
- ``order``             书面责令整改 — 21(三): written order with a time limit, competent department told
- ``funds_suspended``   暂停拨付资金 — 21(四): the order was not carried out in time
- ``accounts_closing``  撤销账户（待银行确认） — 21(四): banks asked to close the unit's accounts
- ``accounts_closed``   银行账户已撤销 — 21(四): every bank confirmed
- ``under_review``      整改结果审核中 — the unit reported its rectification; finance reviews
- ``appealed``          行政复议或诉讼中 — Art. 24: deadlines pause while it runs
- ``closed_rectified``  整改到位，已结案
- ``closed_revoked``    处理决定被撤销，已结案 — Art. 24

Public notice (通报, 21(五)), referral (移送, Art. 23) and the oversight body's findings
are internal transitions: they are recorded and issue their documents, but the case
stays on its rung. Review and appeal return to the rung the case left through one
row per rung, each guarded by ``came_from_<rung>``.

On overdue (:mod:`workflow.scheduling` reads it from the rows): ``escalate`` is the
scheduler's trigger (``Actor.system()``) once a deadline has passed, one row per rung to the
next (``MACHINE.escalation``). Rows marked ``auto`` are fired by the scheduler unless
``FUNDWATCH_AUTO_ESCALATION`` turns them off; on the others, or when switched off, the case
is marked overdue and finance is proposed the row marked ``proposed_on_overdue`` for that
rung (``MACHINE.proposals``):

=================  =====  ==================  ===============================================
rung               auto   proposed            why
=================  =====  ==================  ===============================================
warning            on     issue_order         21(三): not corrected in time → a written order ("由财政部门制发")
decision           on     issue_order         21(三): decision not carried out → a written order
order              off    suspend_funds       21(四): suspending funds is discretionary ("可以采取")
funds_suspended    off    close_accounts      21(四): closing accounts is discretionary, and involves the banks
=================  =====  ==================  ===============================================
"""
from __future__ import annotations

import workflow.machines.effects as effects
import workflow.machines.guards as guards
from workflow.machines.base import NEW, CaseMachine, Issue, State, Tell, art, opt, req, row

LADDER = ("warning", "decision", "order", "funds_suspended", "accounts_closing", "accounts_closed")
APPEALABLE = ("decision", "order", "funds_suspended", "accounts_closing", "accounts_closed")
OPEN = LADDER + ("under_review", "appealed")
EVERY = OPEN + ("closed_rectified", "closed_revoked")

STATES = (
    State(NEW, "立案", "start"),
    State("warning", "警示纠正", "rung", art(21, 1), "warning"),
    State("decision", "处理决定", "rung", art(21, 2), "decision"),
    State("order", "书面责令整改", "rung", art(21, 3), "order"),
    State("funds_suspended", "暂停拨付资金", "rung", art(21, 4), "suspended"),
    State("accounts_closing", "撤销银行账户（待银行确认）", "rung", art(21, 4), "closure"),
    State("accounts_closed", "银行账户已撤销", "rung", art(21, 4)),
    State("under_review", "整改结果审核中", "review", art(21, 1)),
    State("appealed", "行政复议或行政诉讼中（期限中止）", "appeal", art(24)),
    State("closed_rectified", "整改到位，已结案", "closed"),
    State("closed_revoked", "处理决定被撤销，已结案", "closed", art(24)),
)

# --- the fields actions take ------------------------------------------------------------
SUMMARY = req("summary", "text", "违规问题摘要", max_length=500)
NOTE = opt("note", "text", "说明")
DAYS = opt("deadline_days", "days", "整改期限（工作日，不填按默认期限）")
MEASURES = req("measures", "choices", "处理决定事项", choices=(
    ("return_funds", "退回违规资金"), ("adjust_accounts", "调整账目"), ("complete_procedures", "补办手续")))
AMOUNT = opt("amount", "money", "涉及金额（元）")
REQUIREMENTS = opt("requirements", "lines", "整改要求（每行一项）")
GROUNDS = req("grounds", "choice", "责令整改事由（第二十一条（三））", choices=(
    ("not_corrected_in_time", "不及时纠正违规行为"),
    ("not_cooperating", "实地核证中不配合"),
    ("refused_decision", "拒不执行处理决定"),
    ("not_rectified_as_required", "不按要求整改"),
    ("false_rectification", "虚报整改情况")))
ACCOUNTS = opt("accounts", "accounts", "撤销的账户号（不填为该单位全部未撤销账户）")
REASON = req("reason", "text", "理由")
REPORT = req("report", "text", "书面纠正（整改）结果")
APPEAL_ROUTE = req("route", "choice", "救济途径", choices=(
    ("reconsideration", "行政复议"), ("litigation", "行政诉讼")))
AUTHORITY = req("authority", "text", "复议机关或人民法院", max_length=200)
DECIDED_ON = opt("decided_on", "date", "复议决定或裁判日期")
FILED_ON = opt("filed_on", "date", "申请或起诉日期")
# 在一定范围内通报 (21(五)): the scope is a choice of recipients, each sent the notice.
SCOPE = req("scope", "choice", "通报范围", choices=(
    ("competent", "违规单位的主管部门"),
    ("department_units", "违规单位的主管部门及其所属各单位"),
    ("region_units", "本地区（案件所属财政部门管辖范围内）各部门、各单位")))
HANDLING = opt("handling", "lines", "通报的处理情况（每行一项）")
OVERSIGHT = req("oversight", "org", "移送机关（人大、审计、纪检监察）代码", org_kind="oversight")
MATERIALS = opt("materials", "lines", "移送材料（每行一项）")
FINDINGS = req("findings", "text", "监督检查意见")

# --- what the rungs issue and whom they tell --------------------------------------------
TELL_SUBJECT = Tell("case_action", "subject")
TELL_FINANCE = Tell("case_action", "finance")
TELL_COMPETENT = Tell("case_action", "competent")
COPY_ORDER = Tell("rectification_order_copy", "competent")
# The competent department learns of every case on its unit (issue 10): on the order rung by
# the order's copy (21(三)), on the others by the opening message.
OPENED = (Tell("case_opened", "subject"), Tell("case_opened", "competent"))
ESCALATED = (Tell("case_escalated", "subject"), Tell("case_escalated", "finance"))
DECISION = Issue("handling_decision", effects.decision_notice)
ORDER = Issue("rectification_order", effects.order_notice)
SUSPENSION = Issue("handling_decision", effects.suspension_notice)
CLOSURE = Issue("handling_decision", effects.closure_notice)

ENTER_ORDER = (effects.start_deadline, effects.copy_competent_department)
ENTER_SUSPENSION = (effects.start_deadline, effects.suspend_disbursement)
ENTER_CLOSURE = (effects.start_deadline, effects.schedule_account_closure)
TELL_SUSPENSION = Tell("suspension_to_execute", "unit_banks")
TELL_CLOSURE = Tell("account_closure_to_execute", "closing_banks")

FIN = ("finance",)

TRANSITIONS = (
    # Opening (立案) on the rung the finding calls for.
    row("open_warning", NEW, "warning", roles=FIN, article=art(21, 1), label="立案并警示纠正",
        fields=(SUMMARY, NOTE, DAYS), effects=(effects.start_deadline,),
        tells=OPENED),
    row("open_decision", NEW, "decision", roles=FIN, article=art(21, 2), label="立案并作出处理决定",
        fields=(SUMMARY, MEASURES, AMOUNT, REQUIREMENTS, NOTE, DAYS),
        effects=(effects.start_deadline, effects.record_measures), issues=(DECISION,),
        tells=OPENED),
    row("open_order", NEW, "order", roles=FIN, article=art(21, 3), label="立案并制发书面责令整改意见",
        fields=(SUMMARY, GROUNDS, REQUIREMENTS, NOTE, DAYS),
        effects=ENTER_ORDER + (effects.record_measures,), issues=(ORDER,),
        tells=(Tell("case_opened", "subject"), COPY_ORDER)),

    # Up the ladder, by finance.
    row("issue_decision", "warning", "decision", roles=FIN, article=art(21, 2), label="作出处理决定",
        fields=(MEASURES, AMOUNT, REQUIREMENTS, NOTE, DAYS),
        effects=(effects.start_deadline, effects.record_measures), issues=(DECISION,), tells=(TELL_SUBJECT,)),
    row("issue_order", ("warning", "decision"), "order", roles=FIN, article=art(21, 3),
        label="制发书面责令整改意见", fields=(GROUNDS, REQUIREMENTS, NOTE, DAYS),
        effects=ENTER_ORDER + (effects.record_measures,), issues=(ORDER,), tells=(TELL_SUBJECT, COPY_ORDER),
        proposed_on_overdue=True),
    row("suspend_funds", "order", "funds_suspended", roles=FIN, article=art(21, 4), label="暂停拨付资金",
        guards=(guards.order_not_carried_out_in_time,), fields=(NOTE, DAYS),
        effects=ENTER_SUSPENSION, issues=(SUSPENSION,), tells=(TELL_SUBJECT, TELL_COMPETENT, TELL_SUSPENSION),
        proposed_on_overdue=True),
    row("close_accounts", ("order", "funds_suspended"), "accounts_closing", roles=FIN, article=art(21, 4),
        label="撤销相关银行账户", guards=(guards.order_not_carried_out_in_time, guards.unit_has_open_accounts),
        fields=(ACCOUNTS, NOTE, DAYS), effects=ENTER_CLOSURE, issues=(CLOSURE,),
        tells=(TELL_SUBJECT, TELL_COMPETENT, TELL_CLOSURE), proposed_on_overdue="funds_suspended"),

    # The bank executes the closure (Art. 28); the case moves when the last bank confirms.
    row("confirm_account_closure", "accounts_closing", None, roles="bank", article=art(21, 4),
        label="代理银行确认撤户", guards=(guards.bank_has_pending_closure, guards.other_banks_still_to_confirm),
        fields=(NOTE,), effects=(effects.close_confirmed_accounts,), tells=(TELL_FINANCE,)),
    row("confirm_account_closure", "accounts_closing", "accounts_closed", roles="bank", article=art(21, 4),
        label="代理银行确认撤户", guards=(guards.bank_has_pending_closure, guards.last_bank_to_confirm),
        fields=(NOTE,), effects=(effects.close_confirmed_accounts, effects.stop_deadline), tells=(TELL_FINANCE, TELL_SUBJECT)),

    # The scheduler's escalation once a deadline has passed: next rung on overdue. A written
    # order is due by the regulation (21(三) "由财政部门制发"): automatic. Suspending funds and
    # closing accounts are what finance "可以采取" (21(四)): only when switched on.
    row("escalate", ("warning", "decision"), "order", roles="system", article=art(21, 3),
        label="逾期未纠正，升级为书面责令整改", guards=(guards.has_deadline_passed,),
        effects=ENTER_ORDER, issues=(ORDER,), tells=ESCALATED + (COPY_ORDER,), auto=True),
    row("escalate", "order", "funds_suspended", roles="system", article=art(21, 4),
        label="逾期未落实整改意见，暂停拨付资金", guards=(guards.has_deadline_passed,),
        effects=ENTER_SUSPENSION, issues=(SUSPENSION,), tells=ESCALATED + (TELL_SUSPENSION,), auto=False),
    row("escalate", "funds_suspended", "accounts_closing", roles="system", article=art(21, 4),
        label="逾期仍未整改，撤销相关银行账户", guards=(guards.has_deadline_passed, guards.unit_has_open_accounts),
        effects=ENTER_CLOSURE, issues=(CLOSURE,), tells=ESCALATED + (TELL_CLOSURE,), auto=False),

    # Public notice on any open rung; the case does not move (21(五)).
    row("publish_notice", OPEN, None, roles=FIN, article=art(21, 5), label="在一定范围内通报",
        guards=(guards.scope_has_recipients,), fields=(SCOPE, HANDLING, NOTE),
        issues=(Issue("public_notice", effects.public_notice, circulate=effects.notice_scope),),
        tells=(TELL_SUBJECT, Tell("notice_circulated", "circulation"))),

    # Referral of a serious case to the people's congress, audit or discipline body (Art. 23).
    row("refer", EVERY, None, roles=FIN, article=art(23), label="移送人大、审计、纪检监察机关",
        guards=(guards.not_yet_referred_there,), fields=(OVERSIGHT, REASON, MATERIALS),
        effects=(effects.record_referral,), issues=(Issue("referral_letter", effects.referral_letter, "referred"),),
        tells=(Tell("referral", "referred"),)),
    row("record_findings", EVERY, None, roles="oversight", article=art(23), label="反馈监督检查意见",
        guards=(guards.referred_to_this_body,), fields=(FINDINGS,), tells=(TELL_FINANCE,)),

    # Rectification on any rung, reviewed by finance.
    row("submit_rectification", LADDER, "under_review", roles="unit", article=art(21, 1),
        label="提交书面整改结果及佐证材料", guards=(guards.evidence_attached,), fields=(REPORT, NOTE),
        effects=(effects.remember_rung_left, effects.stop_deadline),
        # Art. 27(四): the rectification is reported to finance and to the competent department.
        tells=(Tell("unit_submission", "finance"), Tell("unit_submission", "competent"))),
    row("accept_rectification", "under_review", "closed_rectified", roles=FIN, article=art(21, 1),
        label="审核通过，结案", fields=(NOTE,), effects=(effects.lift_suspension, effects.close_as_rectified),
        tells=(TELL_SUBJECT, TELL_COMPETENT)),
    *(row("reject_rectification", "under_review", rung, roles=FIN, article=art(21, 1),
          label="审核不通过，退回并重新限期", guards=(guards.came_from(rung),), fields=(REASON, DAYS),
          effects=(effects.forget_rung_left, effects.start_deadline), tells=(TELL_SUBJECT,))
      for rung in LADDER),
    # Rejected and moved up: not rectified as required, or false rectification (21(三)-(四)).
    row("reject_and_escalate", "under_review", "order", roles=FIN, article=art(21, 3),
        label="不按要求整改或虚报整改情况，升级处理", guards=(guards.came_from("warning", "decision"),),
        fields=(REASON, REQUIREMENTS, DAYS), effects=(effects.forget_rung_left,) + ENTER_ORDER, issues=(ORDER,),
        tells=ESCALATED + (COPY_ORDER,)),
    row("reject_and_escalate", "under_review", "funds_suspended", roles=FIN, article=art(21, 4),
        label="不按要求整改或虚报整改情况，升级处理", guards=(guards.came_from("order"),),
        fields=(REASON, REQUIREMENTS, DAYS), effects=(effects.forget_rung_left,) + ENTER_SUSPENSION,
        issues=(SUSPENSION,), tells=ESCALATED + (TELL_SUSPENSION,)),
    row("reject_and_escalate", "under_review", "accounts_closing", roles=FIN, article=art(21, 4),
        label="不按要求整改或虚报整改情况，升级处理",
        guards=(guards.came_from("funds_suspended"), guards.unit_has_open_accounts),
        fields=(REASON, REQUIREMENTS, DAYS), effects=(effects.forget_rung_left,) + ENTER_CLOSURE,
        issues=(CLOSURE,), tells=ESCALATED + (TELL_CLOSURE,)),

    # Appeal (Art. 24): the time limit pauses; upheld resumes the rung it left with the
    # working days it had, revoked closes the case.
    row("appeal", APPEALABLE, "appealed", roles="unit", article=art(24), label="申请行政复议或提起行政诉讼",
        fields=(APPEAL_ROUTE, AUTHORITY, FILED_ON, NOTE), effects=(effects.pause_deadline,), tells=(TELL_FINANCE,)),
    *(row("uphold_after_appeal", "appealed", rung, roles=FIN, article=art(24), label="处理决定经复议或诉讼维持",
          guards=(guards.came_from(rung),), fields=(DECIDED_ON, NOTE), effects=(effects.resume_deadline,),
          tells=(TELL_SUBJECT,))
      for rung in APPEALABLE),
    row("revoke_after_appeal", "appealed", "closed_revoked", roles=FIN, article=art(24),
        label="处理决定经复议或诉讼撤销，结案", fields=(DECIDED_ON, NOTE),
        effects=(effects.lift_suspension, effects.close_as_revoked), tells=(TELL_SUBJECT, TELL_COMPETENT)),
)

MACHINE = CaseMachine("unit_case", "预算单位违规问题处理", STATES, TRANSITIONS, article=art(21))
