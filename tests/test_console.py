"""The console (issue 14): every party signs in and finds its pages; the pages show what the
API would show that party and nothing more (another party's object is the same 404 page as a
missing one); every form needs its CSRF token; sign-in attempts are limited; the forms are
generated from the tables' rows (a row added to a table appears as a form without template
code); a refusal comes back beside the field it names, never as a 500."""
from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from tests.console_support import UNIT_CODE, csrf_token, post_form, raise_warning, same_page, sign_in
from workflow.articles import art
from workflow.db import db
from workflow.machines import MACHINES
from workflow.machines.base import CaseMachine, req, row
from workflow.parties import User
from workflow.verification import WarningResponse
from workflow.verification_steps import STEP_KINDS, StepKind

PARTIES = ("finance", "city_finance", "county_finance", "competent", "other_competent", "unit", "other_unit",
           "bank", "other_bank", "oversight")


def test_a_stranger_is_sent_to_the_sign_in_page(client):
    answer = client.get("/warnings?level=block")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    page = client.get("/login").get_data(as_text=True)
    assert "电子邮箱" in page and "密码" in page and 'name="csrf_token"' in page


@pytest.mark.parametrize("key", PARTIES)
def test_every_party_signs_in_and_reads_its_pages(client, demo, key):
    answer = sign_in(client, demo, key)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    for url, title in (("/", "待办事项"), ("/warnings", "预警信息"), ("/cases", "违规问题处理"), ("/documents", "文书")):
        page = client.get(url)
        assert page.status_code == 200, url
        assert title in page.get_data(as_text=True)
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_cookie_is_secure_when_configured(app, client, demo):
    app.config["FUNDWATCH_SESSION_SECURE"] = True
    app.config["SESSION_COOKIE_SECURE"] = True  # what console.register sets from it at start-up
    assert "Secure" in sign_in(client, demo, "unit").headers["Set-Cookie"]


def test_a_wrong_password_is_refused_with_one_message_for_every_cause(client, demo):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    wrong = client.post("/login", data={"email": demo.logins["unit"]["email"], "password": "not-the-password",
                                        "csrf_token": token})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "whatever-it-is",
                                          "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "电子邮箱或密码不正确" in wrong.get_data(as_text=True)
    assert "电子邮箱或密码不正确" in unknown.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_passwords_are_stored_as_scrypt_hashes_only(demo):
    stored = db.session.execute(sa.select(User.password_hash).where(
        User.email == demo.logins["unit"]["email"])).scalar_one()
    assert stored.startswith("scrypt:") and demo.logins["unit"]["password"] not in stored


def test_sign_in_attempts_are_rate_limited(app, client, demo):
    app.config["FUNDWATCH_SIGN_INS_PER_WINDOW"] = 3
    token = csrf_token(client.get("/login").get_data(as_text=True))
    email = demo.logins["unit"]["email"]
    for _ in range(3):
        assert client.post("/login", data={"email": email, "password": "guess-guess-1", "csrf_token": token}).status_code == 401
    # the right password no longer helps within the window
    limited = client.post("/login", data={"email": email, "password": demo.logins["unit"]["password"],
                                          "csrf_token": token})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "登录尝试过于频繁" in limited.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(client, demo, as_finance):
    warning = raise_warning(as_finance)
    assert client.post("/login", data={"email": demo.logins["unit"]["email"],
                                       "password": demo.logins["unit"]["password"]}).status_code == 400
    sign_in(client, demo, "unit")
    refused = client.post(f"/warnings/{warning['id']}/responses", data={"text": "情况说明"})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count()).select_from(WarningResponse)).scalar() == 0


def test_sign_out_ends_the_session(client, demo):
    sign_in(client, demo, "unit")
    assert post_form(client, "/", "/logout", {}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_new_password_ends_the_sessions_opened_before(client, demo, runner):
    sign_in(client, demo, "unit")
    result = runner.invoke(args=["users", "set-password", "--email", demo.logins["unit"]["email"], "--random"])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302


def test_the_api_takes_tokens_not_the_console_cookie(client, demo):
    sign_in(client, demo, "finance")
    assert client.get("/api/v1/warnings").status_code == 401
    assert client.post("/api/v1/warnings", json={}).status_code == 401


def test_the_unit_answers_its_warning_art_27(client, demo, as_finance):
    """Art. 27(三): the unit explains the warning; its answer is recorded as the API's would be."""
    warning = raise_warning(as_finance)
    sign_in(client, demo, "unit")
    home = client.get("/").get_data(as_text=True)
    assert f"/warnings/{warning['id']}" in home
    page = client.get(f"/warnings/{warning['id']}").get_data(as_text=True)
    assert "提交答复" in page and "确认违规" not in page and "核实：" not in page
    answer = post_form(client, f"/warnings/{warning['id']}", f"/warnings/{warning['id']}/responses",
                       {"text": "该笔支出系会议费，附会议通知", "evidence_ref": "HY-2021-07"})
    assert answer.status_code == 302
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "答复已提交" in shown and "该笔支出系会议费" in shown
    detail = as_finance.get(f"/api/v1/warnings/{warning['id']}").get_json()
    assert [r["text"] for r in detail["responses"]] == ["该笔支出系会议费，附会议通知"]


def test_another_partys_warning_is_the_same_404_page_as_a_missing_one(client, demo, as_finance):
    warning = raise_warning(as_finance)
    sign_in(client, demo, "other_unit")
    hidden = client.get(f"/warnings/{warning['id']}")
    missing = client.get("/warnings/999999")
    assert hidden.status_code == missing.status_code == 404
    assert same_page(hidden, missing)
    posted = post_form(client, "/", f"/warnings/{warning['id']}/responses", {"text": "试图答复"})
    assert posted.status_code == 404 and same_page(posted, missing)
    assert f"/warnings/{warning['id']}" not in client.get("/warnings").get_data(as_text=True)


def test_the_step_forms_are_the_step_kinds_rows(client, demo, as_finance):
    """Art. 11(二): each verification step kind is a form with its row's fields, labels and required marks."""
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    page = client.get(f"/warnings/{warning['id']}").get_data(as_text=True)
    for kind in STEP_KINDS.values():
        assert f'id="step-{kind.name}"' in page and kind.title in page
        for f in kind.fields:
            assert f'id="step-{kind.name}-{f.name}"' in page, (kind.name, f.name)
            assert f.label in page
    assert 'id="step-interview-interview_at" type="datetime-local"' in page
    assert 'id="step-documents-due_date" type="date"' in page
    assert 'id="step-onsite-team_size" type="number"' in page
    assert 'id="step-interview-room" type="text" name="room" value="" required' in page
    # the oversight bodies the joint investigation may address, as options
    assert 'id="step-joint_investigation-oversight_code"' in page and "653000-SJ" in page and "<option value=\"653000-SJ\"" in page


def test_a_step_kind_added_to_the_table_appears_as_a_form(client, demo, as_finance, monkeypatch):
    fake = StepKind("hearing", "听证核实", art(11, 2, 3),
                    (req("hearing_place", "text", "听证地点", max_length=100), req("hearing_day", "date", "听证日期")))
    monkeypatch.setitem(STEP_KINDS, "hearing", fake)
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    page = client.get(f"/warnings/{warning['id']}").get_data(as_text=True)
    assert "听证核实" in page and 'id="step-hearing-hearing_place"' in page and "听证地点" in page
    assert 'id="step-hearing-hearing_day" type="date"' in page


def test_a_refused_step_names_the_field_beside_it(client, demo, as_finance):
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    answer = post_form(client, f"/warnings/{warning['id']}", f"/warnings/{warning['id']}/steps",
                       {"kind": "phone", "contact": "王会计"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "通话情况（文字记录）：必填" in page and 'value="王会计"' in page


def _confirm_on_warning_rung(client, warning_id: int):
    return post_form(client, f"/warnings/{warning_id}", f"/warnings/{warning_id}/confirm",
                     {"rung": "warning", "summary": "虚列会议费支出", "deadline_days": "5"})


def test_finance_verifies_confirms_and_acts_on_the_case_art_11_and_21(client, demo, as_finance, as_unit):
    """Art. 11(二)-(三), 21: a phone verification, confirmation on the warning rung opening a
    case, then a rectification order from the case page's form for the action now allowed."""
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    step = post_form(client, f"/warnings/{warning['id']}", f"/warnings/{warning['id']}/steps",
                     {"kind": "phone", "summary": "电话联系单位财务负责人，称系会议费", "contact": "王会计"})
    assert step.status_code == 302
    opened = _confirm_on_warning_rung(client, warning["id"])
    assert opened.status_code == 302 and opened.headers["Location"].startswith("/cases/")
    case_url = opened.headers["Location"]
    page = client.get(case_url).get_data(as_text=True)
    case = as_finance.get(f"/api/v1{case_url}").get_json()
    # exactly the actions the API allows finance now, each a form
    for trigger in case["allowed_actions"]:
        assert f'id="action-{trigger}"' in page
    assert 'id="action-submit_rectification"' not in page
    assert 'aria-current="step"' in page and 'id="state-warning"' in page  # the diagram marks where it stands
    acted = post_form(client, case_url, f"{case_url}/actions/issue_order",
                      {"version": str(case["version"]), "grounds": "not_rectified_as_required", "deadline_days": "15"})
    assert acted.status_code == 302
    assert as_finance.get(f"/api/v1{case_url}").get_json()["state"] == "order"
    unit_page = client.get(case_url).get_data(as_text=True)
    assert "责令" in unit_page
    assert as_unit.get(f"/api/v1{case_url}").status_code == 200


def test_a_stale_version_says_someone_else_changed_the_case(client, demo, as_finance):
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    case_url = _confirm_on_warning_rung(client, warning["id"]).headers["Location"]
    version = as_finance.get(f"/api/v1{case_url}").get_json()["version"]
    answer = post_form(client, case_url, f"{case_url}/actions/issue_order",
                       {"version": str(version + 5), "grounds": "not_rectified_as_required"})
    assert answer.status_code == 409
    assert "有人已更改此记录" in answer.get_data(as_text=True)


def test_an_action_added_to_the_machine_table_appears_as_a_form(client, demo, as_finance, monkeypatch):
    unit_case = MACHINES["unit_case"]
    remark = row("add_remark", tuple(s for s in unit_case.states if unit_case.states[s].is_open), None,
                 roles="finance", article=art(21), label="添加办理备注", fields=(req("remark", "text", "备注内容"),))
    extended = CaseMachine(unit_case.name, unit_case.label, tuple(unit_case.states.values()),
                           unit_case.transitions + (remark,), article=unit_case.article)
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    case_url = _confirm_on_warning_rung(client, warning["id"]).headers["Location"]
    monkeypatch.setitem(MACHINES, "unit_case", extended)
    page = client.get(case_url).get_data(as_text=True)
    assert 'id="action-add_remark"' in page and "添加办理备注" in page and "备注内容" in page


def test_another_partys_case_is_the_same_404_page(client, demo, as_finance):
    warning = raise_warning(as_finance)
    sign_in(client, demo, "finance")
    case_url = _confirm_on_warning_rung(client, warning["id"]).headers["Location"]
    post_form(client, "/", "/logout", {})
    sign_in(client, demo, "other_unit")
    hidden, missing = client.get(case_url), client.get("/cases/999999")
    assert hidden.status_code == missing.status_code == 404 and same_page(hidden, missing)
    assert client.get(f"{case_url}x").status_code == 404


def test_the_unit_acknowledges_its_notice_art_11(client, demo, as_finance):
    """Art. 11(二)4: the focus letter is issued to the unit, which signs for it in the console."""
    warning = raise_warning(as_finance)
    step = as_finance.post(f"/api/v1/warnings/{warning['id']}/steps",
                           json={"kind": "focus_letter", "findings": ["会议费支出偏高"]})
    document_id = step.get_json()["document_id"]
    sign_in(client, demo, "unit")
    assert f"/documents/{document_id}" in client.get("/").get_data(as_text=True)
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "签收" in page and f"/documents/{document_id}/pdf" in page
    notice = client.get(f"/documents/{document_id}/notice")
    assert notice.status_code == 200 and "关注" in notice.get_data(as_text=True)
    pdf = client.get(f"/documents/{document_id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    done = post_form(client, f"/documents/{document_id}", f"/documents/{document_id}/acknowledge", {})
    assert done.status_code == 302
    assert as_finance.get(f"/api/v1/documents/{document_id}").get_json()["acknowledged_at"]
    again = post_form(client, "/documents", f"/documents/{document_id}/acknowledge", {})
    assert again.status_code == 409 and "未能办理" in again.get_data(as_text=True)


def test_the_warnings_list_filters_sorts_and_names_a_bad_filter(client, demo, as_finance):
    raise_warning(as_finance, level="block", description="大额现金支付")
    raise_warning(as_finance, level="remind", description="提示性疑点")
    sign_in(client, demo, "finance")
    blocks = client.get("/warnings?level=block").get_data(as_text=True)
    assert "拦截" in blocks and blocks.count('href="/warnings/') == 1
    assert client.get("/warnings?sort=level&status=open").status_code == 200
    bad = client.get("/warnings?min_amount=abc")
    assert bad.status_code == 422 and "min_amount" in bad.get_data(as_text=True)
    assert client.get(f"/warnings?unit_code={UNIT_CODE}&date_from=2020-01-01").status_code == 200


def test_finance_home_counts_pending_warnings_by_level(client, demo, as_finance):
    raise_warning(as_finance, level="block")
    sign_in(client, demo, "finance")
    page = client.get("/").get_data(as_text=True)
    assert "待处理拦截预警" in page and '<span class="tile-n">1</span><span class="tile-l">待处理拦截预警' in page


def test_no_input_is_a_500(client, demo):
    sign_in(client, demo, "finance")
    for url in ("/warnings?page=abc", "/warnings?sort=nonsense", "/cases?due=never", "/documents?kind=x",
                "/warnings?level=%00", "/cases/99999999999"):
        assert client.get(url).status_code < 500, url


def test_demo_load_writes_the_console_logins(app, runner, tmp_path):
    tokens, logins = tmp_path / "tokens.json", tmp_path / "logins.json"
    result = runner.invoke(args=["demo", "load", "--tokens-file", str(tokens), "--logins-file", str(logins)])
    assert result.exit_code == 0, result.output
    written = json.loads(logins.read_text(encoding="utf-8"))
    assert set(written) == set(json.loads(tokens.read_text(encoding="utf-8")))
    assert all(set(entry) == {"email", "password"} for entry in written.values())
    assert oct(logins.stat().st_mode & 0o777) == "0o600"


def test_the_units_home_shows_its_case_deadline_and_next_step_art_27(client, demo, as_finance):
    """Art. 27(四): the unit's open case with its deadline in working days and what it may do next."""
    warning = raise_warning(as_finance)
    confirmed = as_finance.post(f"/api/v1/warnings/{warning['id']}/confirm",
                                json={"rung": "warning", "summary": "虚列会议费支出"}).get_json()
    sign_in(client, demo, "unit")
    home = client.get("/").get_data(as_text=True)
    assert f'/cases/{confirmed["id"]}' in home and "办理中的案件" in home
    label = MACHINES["unit_case"].by_trigger["submit_rectification"][0].label
    assert label in home and "待答复的预警" in home


def test_the_unit_uploads_evidence_and_submits_rectification_finance_rejects_then_accepts_art_21(
        client, demo, as_finance):
    """Art. 21(一): the written result comes with supporting evidence (several files at once);
    finance rejects it with a reason, then accepts the second submission."""
    warning = raise_warning(as_finance)
    case = as_finance.post(f"/api/v1/warnings/{warning['id']}/confirm",
                           json={"rung": "warning", "summary": "虚列会议费支出"}).get_json()
    url = f"/cases/{case['id']}"

    def version():
        return str(as_finance.get(f"/api/v1{url}").get_json()["version"])

    sign_in(client, demo, "unit")
    early = post_form(client, url, f"{url}/actions/submit_rectification", {"version": version(), "report": "已整改"})
    assert early.status_code == 409 and "未提交佐证材料" in early.get_data(as_text=True)
    token = csrf_token(client.get(url).get_data(as_text=True))
    uploaded = client.post(f"{url}/evidence", content_type="multipart/form-data", data={
        "csrf_token": token, "note": "会议通知及签到表",
        "files": [(io.BytesIO("会议通知\n".encode()), "notice.txt"),
                  (io.BytesIO("姓名,签到\n王某,是\n".encode()), "sign-in.csv")]})
    assert uploaded.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "notice.txt" in page and "sign-in.csv" in page
    download = client.get("/evidence/" + page.split('href="/evidence/')[1].split('"')[0])
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    assert download.get_data() in ("会议通知\n".encode(), "姓名,签到\n王某,是\n".encode())
    download.close()
    assert post_form(client, url, f"{url}/actions/submit_rectification",
                     {"version": version(), "report": "已退回多列支的会议费"}).status_code == 302
    assert as_finance.get(f"/api/v1{url}").get_json()["state"] == "under_review"

    post_form(client, "/", "/logout", {})
    sign_in(client, demo, "finance")
    missing_reason = post_form(client, url, f"{url}/actions/reject_rectification", {"version": version()})
    assert missing_reason.status_code == 422
    assert 'id="action-reject_rectification-reason-error"' in missing_reason.get_data(as_text=True)
    assert post_form(client, url, f"{url}/actions/reject_rectification",
                     {"version": version(), "reason": "未附退款凭证"}).status_code == 302
    assert as_finance.get(f"/api/v1{url}").get_json()["state"] == "warning"

    post_form(client, "/", "/logout", {})
    sign_in(client, demo, "unit")
    assert post_form(client, url, f"{url}/actions/submit_rectification",
                     {"version": version(), "report": "补充退款凭证"}).status_code == 302
    post_form(client, "/", "/logout", {})
    sign_in(client, demo, "finance")
    assert post_form(client, url, f"{url}/actions/accept_rectification", {"version": version()}).status_code == 302
    assert as_finance.get(f"/api/v1{url}").get_json()["state"] == "closed_rectified"
