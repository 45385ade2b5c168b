"""Agent-bank cases (代理银行违规问题处理), Art. 22 and 24: the one table.

States (状态):

- ``refund_or_redo``           退回资金或重新办理 — 22(一): illegal payment; return the funds by the
  original channel or redo the business, and compensate losses under the agency agreement
- ``transmission_fix``         限期解决信息传输问题 — 22(二): monitoring data not transmitted in
  time, accurately or completely; fix it at once
- ``criticised_fee_deducted``  通报批评并扣减服务费 — 22(三): not rectified in time, not as
  required, or false rectification
- ``under_review``             整改情况审核中 — the bank reported; finance reviews
- ``in_dispute``               仲裁或民事诉讼中 — Art. 24: the bank took a dispute arising under the
  agency agreement to arbitration or to court, as the agreement provides; the deadline pauses
- ``agreement_terminated``     终止代理协议 — 22(三) "直至终止代理协议"; the case ends there
- ``closed``                   整改到位，已结案
- ``closed_revoked``           处理意见经仲裁或诉讼撤销，已结案 — Art. 24: the bank's claim succeeded

Escalation: none is automatic. Criticism comes with a fee deduction that finance sets
"结合综合考评情况" (with the comprehensive evaluation), and terminating an agency
agreement is finance's decision: the table has no ``escalate`` row. When a bank deadline
passes the scheduler proposes to finance the row marked ``proposed_on_overdue`` for that
rung (``MACHINE.proposals``) instead of firing one.

Disputes (Art. 24) work like the unit's appeal and use the same guards and effects: filing
pauses the deadline keeping the working days left (``effects.pause_deadline``); finance records
the award or judgment, which either upholds the handling (the case resumes on the rung it
left, ``guards.came_from``, with the days it had, ``effects.resume_deadline``) or finds for the bank
(the case closes as revoked, ``effects.close_as_revoked``).
"""
from __future__ import annotations

import workflow.machines.effects as effects
import workflow.machines.guards as guards
from workflow.machines.base import NEW, CaseMachine, Issue, State, Tell, art, opt, req, row

RUNGS = ("refund_or_redo", "transmission_fix", "criticised_fee_deducted")

STATES = (
    State(NEW, "立案", "start"),
    State("refund_or_redo", "退回资金或重新办理", "rung", art(22, 1), "bank_rectify"),
    State("transmission_fix", "限期解决信息传输问题", "rung", art(22, 2), "bank_rectify"),
    State("criticised_fee_deducted", "通报批评并扣减服务费", "rung", art(22, 3), "bank_criticism"),
    State("under_review", "整改情况审核中", "review", art(22, 3)),
    State("in_dispute", "仲裁或民事诉讼中（期限中止）", "appeal", art(24)),
    State("agreement_terminated", "终止代理协议，已结案", "closed", art(22, 3)),
    State("closed", "整改到位，已结案", "closed"),
    State("closed_revoked", "处理意见经仲裁或诉讼撤销，已结案", "closed", art(24)),
)

SUMMARY = req("summary", "text", "违规问题摘要", max_length=500)
NOTE = opt("note", "text", "说明")
DAYS = opt("deadline_days", "days", "整改期限（工作日，不填按默认期限）")
PAYMENT_MEASURES = req("measures", "choices", "整改事项（第二十二条（一））", choices=(
    ("refund", "将违规资金按原渠道退回相关银行账户"), ("redo", "重新办理有关业务"),
    ("compensate", "按国库集中支付代理协议承担赔偿责任")))
AMOUNT = opt("amount", "money", "涉及金额（元）")
REQUIREMENTS = opt("requirements", "lines", "整改要求（每行一项）")
GROUNDS = req("grounds", "choice", "通报批评事由（第二十二条（三））", choices=(
    ("not_rectified_in_time", "不及时整改"), ("not_rectified_as_required", "未按要求整改"),
    ("false_rectification", "虚报整改情况")))
FEE = req("fee_deduction", "money", "扣减代理服务费（元）")
EVALUATION = opt("evaluation", "text", "综合考评情况")
REPORT = req("report", "text", "整改情况报告")
REFUNDED = opt("refunded_amount", "money", "已退回资金（元）")
REASON = req("reason", "text", "理由")
EFFECTIVE = req("effective_date", "date", "协议终止日期")
AGREEMENT = opt("agreement", "text", "代理协议名称及编号", max_length=200)
# Art. 24: a dispute taken to arbitration or to court "依照代理协议的规定", and its outcome.
FORUM = req("forum", "choice", "争议解决方式（依照代理协议的约定）", choices=(
    ("arbitration", "申请仲裁"), ("civil_suit", "提起民事诉讼")))
TRIBUNAL = req("tribunal", "text", "仲裁委员会或人民法院", max_length=200)
FILED_ON = req("filed_on", "date", "申请仲裁或起诉日期")
REFERENCE = opt("reference", "text", "受理案号（受理后填写）", max_length=100)
DISPUTE = req("grounds", "text", "争议事项及理由（所依据的代理协议条款）")
DECIDED_ON = req("decided_on", "date", "裁决或判决日期")
RULING_NO = req("ruling_number", "text", "仲裁裁决书或民事判决书（调解书）文号", max_length=100)
RULING = opt("ruling", "text", "裁决或判决主文")

TELL_BANK = Tell("case_action", "subject")
TELL_FINANCE = Tell("case_action", "finance")
CRITICISM = Issue("bank_criticism_notice", effects.criticism_notice)
FIN = ("finance",)

TRANSITIONS = (
    row("open_refund_or_redo", NEW, "refund_or_redo", roles=FIN, article=art(22, 1), label="立案：违规支付资金",
        fields=(SUMMARY, PAYMENT_MEASURES, AMOUNT, NOTE, DAYS), effects=(effects.start_deadline, effects.record_measures),
        issues=(Issue("bank_rectification_notice", effects.bank_payment_notice),),
        tells=(Tell("case_opened", "subject"),)),
    row("open_transmission_fix", NEW, "transmission_fix", roles=FIN, article=art(22, 2),
        label="立案：未及时、准确、完整传输监控信息", fields=(SUMMARY, REQUIREMENTS, NOTE, DAYS),
        effects=(effects.start_deadline, effects.record_measures),
        issues=(Issue("bank_rectification_notice", effects.bank_transmission_notice),),
        tells=(Tell("case_opened", "subject"),)),

    row("criticise_and_deduct_fee", ("refund_or_redo", "transmission_fix"), "criticised_fee_deducted",
        roles=FIN, article=art(22, 3), label="通报批评并扣减代理服务费",
        fields=(GROUNDS, FEE, EVALUATION, NOTE, DAYS), effects=(effects.start_deadline, effects.record_measures),
        issues=(CRITICISM,), tells=(TELL_BANK,), proposed_on_overdue=True),
    row("terminate_agreement", "criticised_fee_deducted", "agreement_terminated", roles=FIN, article=art(22, 3),
        label="终止代理协议", guards=(guards.has_deadline_passed,), fields=(EFFECTIVE, AGREEMENT, NOTE),
        effects=(effects.record_measures, effects.close_as_agreement_terminated),
        issues=(Issue("agreement_termination_notice", effects.termination_notice),), tells=(TELL_BANK,),
        proposed_on_overdue=True),

    row("submit_rectification", RUNGS, "under_review", roles="bank", article=art(22, 3),
        label="提交整改情况及佐证材料", guards=(guards.evidence_attached,), fields=(REPORT, REFUNDED, NOTE),
        effects=(effects.remember_rung_left, effects.stop_deadline), tells=(TELL_FINANCE,)),
    row("accept_rectification", "under_review", "closed", roles=FIN, article=art(22, 3),
        label="审核通过，结案", fields=(NOTE,), effects=(effects.close_as_rectified,), tells=(TELL_BANK,)),
    *(row("reject_rectification", "under_review", rung, roles=FIN, article=art(22, 3),
          label="审核不通过，退回并重新限期", guards=(guards.came_from(rung),), fields=(REASON, DAYS),
          effects=(effects.forget_rung_left, effects.start_deadline), tells=(TELL_BANK,))
      for rung in RUNGS),
    row("reject_and_escalate", "under_review", "criticised_fee_deducted", roles=FIN, article=art(22, 3),
        label="未按要求整改或虚报整改情况，通报批评并扣减服务费",
        guards=(guards.came_from("refund_or_redo", "transmission_fix"),),
        fields=(REASON, FEE, EVALUATION, DAYS), effects=(effects.forget_rung_left, effects.start_deadline, effects.record_measures),
        issues=(CRITICISM,), tells=(TELL_BANK,)),

    # Art. 24: a dispute under the agency agreement pauses the time limit. The award or
    # judgment upholding the handling resumes the rung it left with the working days it had;
    # one finding for the bank closes the case as revoked.
    row("file_dispute", RUNGS, "in_dispute", roles="bank", article=art(24), label="依照代理协议申请仲裁或提起民事诉讼",
        fields=(FORUM, TRIBUNAL, FILED_ON, REFERENCE, DISPUTE, NOTE), effects=(effects.pause_deadline,),
        tells=(Tell("dispute_filed", "finance"),)),
    *(row("uphold_after_dispute", "in_dispute", rung, roles=FIN, article=art(24),
          label="仲裁裁决或判决维持处理意见，恢复办理", guards=(guards.came_from(rung),),
          fields=(DECIDED_ON, RULING_NO, RULING, NOTE), effects=(effects.resume_deadline,), tells=(TELL_BANK,))
      for rung in RUNGS),
    row("revoke_after_dispute", "in_dispute", "closed_revoked", roles=FIN, article=art(24),
        label="仲裁裁决或判决支持代理银行，处理意见撤销，结案", fields=(DECIDED_ON, RULING_NO, RULING, NOTE),
        effects=(effects.close_as_revoked,), tells=(TELL_BANK,)),
)

MACHINE = CaseMachine("bank_case", "代理银行违规问题处理", STATES, TRANSITIONS, article=art(22))
