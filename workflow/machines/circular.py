"""The lifecycles of the results' use (监控结果运用, Art. 11(四)(五), 25(三), 26(三)): a circular of
common problems and each recipient's self-check answer, and a periodic work report sent up a level.

Art. 11(四): finance circulates common problems, typical cases and risks to the competent
departments, "督促其开展自查自纠"; each recipient answers with the result of its self-check.
Art. 11(五): city and county finance report their monitoring work to the level above regularly.

Circular (问题通报):
- ``issued``   已印发 — compiled, numbered and sent; recipients answer by the due date
- ``closed``   已办结 — finance closed it; no more answers

Answer (自查情况):
- ``pending``  待自查 — the recipient has not answered yet
- ``answered`` 已报送自查情况 — its self-check result (and files) given, never changed

Work report (工作情况报告):
- ``draft``     草稿 — filled from the period's statistics; the narrative may still change
- ``submitted`` 已报送 — sent to the level above; immutable
"""
from __future__ import annotations

from workflow.machines.base import NEW, State, art, row
from workflow.machines.lifecycle import Lifecycle

ISSUED, CLOSED = "issued", "closed"
PENDING, ANSWERED = "pending", "answered"
DRAFT, SUBMITTED = "draft", "submitted"

CIRCULAR = Lifecycle("circular", "问题通报", "circular", (
    State(NEW, "汇总通报", "start"),
    State(ISSUED, "已印发", "rung", art(11, 4)),
    State(CLOSED, "已办结", "closed", art(11, 4)),
), (
    row("issue", NEW, ISSUED, roles="finance", article=art(11, 4),
        label="财政部门通报共性问题、典型案例，督促主管部门自查自纠"),
    row("close", ISSUED, CLOSED, roles="finance", article=art(11, 4), label="财政部门办结通报"),
), article=art(11, 4))

CIRCULAR_ANSWER = Lifecycle("circular_answer", "通报自查情况", "answer", (
    State(NEW, "送达", "start"),
    State(PENDING, "待自查", "rung", art(11, 4)),
    State(ANSWERED, "已报送自查情况", "closed", art(26, 3)),
), (
    row("address", NEW, PENDING, roles="finance", article=art(11, 4), label="通报送达主管部门（及其所属单位）"),
    row("answer", PENDING, ANSWERED, roles=("competent", "unit"), article=art(26, 3),
        label="报送自查自纠情况及佐证材料"),
), article=art(11, 4))

WORK_REPORT = Lifecycle("work_report", "监控工作情况报告", "work report", (
    State(NEW, "生成草稿", "start"),
    State(DRAFT, "草稿", "rung", art(11, 5)),
    State(SUBMITTED, "已报送上级财政部门", "closed", art(11, 5)),
), (
    row("draft", NEW, DRAFT, roles="finance", article=art(11, 5), label="按统计数据生成报告草稿"),
    row("edit", DRAFT, None, roles="finance", article=art(11, 5), label="补充工作情况说明"),
    row("submit", DRAFT, SUBMITTED, roles="finance", article=art(11, 5), label="定期向上级财政部门报告"),
), article=art(11, 5))
