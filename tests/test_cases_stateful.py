"""Random actions by random parties at random times (hypothesis, stateful): whatever
happens, the case is always in one of its machine's states, a change only ever happens
by a row of the table (its trigger, a source holding the old state, its destination, a
party kind it lists), a refusal changes nothing, and the history chain always verifies.
Art. 24 (the unit's appeal, the bank's dispute) pauses and resumes deadlines: a rule takes
those routes more often than chance would, and the run must have taken each of them."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from cases_support import COMPETENT, OPENING_FIELDS, OVERSIGHT, UNIT, UNIT_ACCOUNTS
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from workflow import audit, cases
from workflow.accounts import BankAccount
from workflow.case_records import Case, CaseEvent
from workflow.db import db
from workflow.errors import DomainError
from workflow.evidence import add_evidence
from workflow.machines import MACHINES, NEW
from workflow.parties import Actor, org_by_code

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PARTIES = ("city_finance", "county_finance", "competent", "other_competent", "unit", "other_unit", "bank",
           "other_bank", "oversight", "system")
# Who acts for a party kind: mostly the right party, sometimes one that cannot see the case.
PARTY_OF_KIND = {"finance": ("city_finance", "city_finance", "county_finance"), "competent": ("competent",),
                 "unit": ("unit", "unit", "other_unit"), "bank": ("bank", "bank", "other_bank"),
                 "oversight": ("oversight",), "system": ("system",)}
TEXTS = ("已整改", "材料不全，退回补充", "全州预算单位", "情节严重", "列为重点监督对象")
BAD = {"text": "x" * 3000, "lines": [], "choice": "not_a_choice", "choices": ["burn_the_books"], "money": "12.345",
       "days": 0, "date": "2027-02-30", "org": COMPETENT, "accounts": ["6501000200300045678"]}


def field_value(spec, draw):
    if draw(st.integers(0, 19)) == 0:
        return BAD[spec.type]  # one value in twenty is wrong: it must be refused, changing nothing
    return valid_value(spec, draw)


def valid_value(spec, draw):
    if spec.type == "text":
        return draw(st.sampled_from(TEXTS))
    if spec.type == "lines":
        return draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3))
    if spec.type == "choice":
        return draw(st.sampled_from(spec.choice_values))
    if spec.type == "choices":
        return draw(st.lists(st.sampled_from(spec.choice_values), min_size=1, unique=True))
    if spec.type == "money":
        return draw(st.sampled_from(["0.00", "1500.00", "20000.50"]))
    if spec.type == "days":
        return draw(st.integers(1, 20))
    if spec.type == "date":
        return "2026-12-31"
    if spec.type == "org":
        return OVERSIGHT
    if spec.type == "accounts":
        return draw(st.lists(st.sampled_from(UNIT_ACCOUNTS), min_size=1, unique=True))
    raise AssertionError(spec.type)


def fields_for(machine, trigger: str, draw) -> dict:
    data = {}
    for spec in machine.fields_of(trigger):
        if draw(st.integers(0, 19)) < (19 if spec.required else 8):
            data[spec.name] = field_value(spec, draw)
    if draw(st.integers(0, 29)) == 0:
        data["state"] = "closed_rectified"  # mass assignment: must be refused
    return data


def test_random_actions_by_random_parties_follow_the_table(app, demo, tmp_path):
    actors = {key: Actor.of(demo.users[key]) for key in PARTIES if key != "system"}
    actors["system"] = Actor.system()
    upload_dir = str(tmp_path / "evidence")
    fired_in_run: set[tuple[str, str]] = set()  # (machine, trigger) over every example

    class CaseLife(RuleBasedStateMachine):
        @initialize(rung=st.sampled_from(["warning", "decision", "order", "refund_or_redo", "transmission_fix"]),
                    weeks=st.integers(0, 8), contest=st.sampled_from(["no", "filed", "upheld", "revoked"]), data=st.data())
        def open(self, rung, weeks, contest, data):
            self.machine = MACHINES["bank_case" if rung in ("refund_or_redo", "transmission_fix") else "unit_case"]
            subject = "BANK-ICBC-KZ" if self.machine.name == "bank_case" else UNIT
            # Each example starts from the same world: a fixed clock, and the unit's accounts
            # open again (an earlier example may have closed them), so replays draw alike.
            for account in db.session.execute(sa.select(BankAccount)).scalars():
                account.status = "active"
            self.now = START - dt.timedelta(weeks=weeks)
            case = cases.open_case(actors["city_finance"], machine=self.machine.name, subject=org_by_code(subject),
                                   rung=rung, fields=OPENING_FIELDS[rung], now=self.now)
            db.session.commit()
            self.case_id = case.id
            self.subject_key = "bank" if self.machine.name == "bank_case" else "unit"
            self.fired = []
            # Sometimes the subject contests the opening step at once (Art. 24), and sometimes
            # finance records the outcome weeks later, upholding (the case resumes its rung) or
            # not (it closes as revoked): routes that chance alone reaches rarely.
            if contest != "no" and self.art24_offered():
                self.take_art24(data)
                if contest != "filed":
                    self.now += dt.timedelta(weeks=6)
                    resumes = contest == "upheld"
                    self.take_art24(data, [t.trigger for t in self.machine.transitions if t.article.number == 24
                                           and self.machine.state(t.dest).kind == ("rung" if resumes else "closed")])

        def snapshot(self):
            db.session.expire_all()
            case = db.session.get(Case, self.case_id)
            return case.state, case.version

        @rule(days=st.integers(0, 25), data=st.data())
        def act(self, days, data):
            """Mostly an action the table offers in this state, by a party of a kind it
            names; sometimes any action (or none that exists) by any party."""
            self.now += dt.timedelta(days=days)
            before = self.snapshot()
            offered = sorted({t.trigger for t in self.machine.transitions if before[0] in t.source})
            if offered and data.draw(st.integers(0, 4)) > 0:
                trigger = data.draw(st.sampled_from(offered))
                kind = data.draw(st.sampled_from(self.machine.roles_of(trigger)))
                party = data.draw(st.sampled_from(PARTY_OF_KIND[kind]))
            else:
                trigger = data.draw(st.sampled_from(sorted(self.machine.by_trigger) + ["delete_case"]))
                party = data.draw(st.sampled_from(PARTIES))
            fields = fields_for(self.machine, trigger, data.draw) if trigger in self.machine.by_trigger else {}
            self.attempt(trigger, party, fields, before)

        def art24_offered(self) -> list[str]:
            state, _ = self.snapshot()
            return sorted({t.trigger for t in self.machine.transitions if t.article.number == 24 and state in t.source})

        @precondition(lambda self: bool(self.art24_offered()))
        @rule(days=st.integers(0, 60), data=st.data())
        def art24_route(self, days, data):
            """Art. 24 on purpose: where the table offers it, the subject appeals (unit) or
            takes its dispute to arbitration or court (bank), or finance records the outcome,
            with valid fields, by the party in charge; months may pass meanwhile."""
            self.now += dt.timedelta(days=days)
            self.take_art24(data)

        def take_art24(self, data, among=None):
            trigger = data.draw(st.sampled_from([t for t in self.art24_offered() if among is None or t in among]))
            party = {"finance": "city_finance", "unit": "unit", "bank": "bank"}[self.machine.roles_of(trigger)[0]]
            fields = {spec.name: valid_value(spec, data.draw) for spec in self.machine.fields_of(trigger)
                      if spec.required or data.draw(st.booleans())}
            self.attempt(trigger, party, fields, self.snapshot())

        def attempt(self, trigger, party, fields, before):
            actor = actors[party]
            try:
                cases.apply_action(actor, self.case_id, trigger, fields, now=self.now)
                db.session.commit()
                changed = True
            except DomainError:
                db.session.rollback()
                changed = False
            after = self.snapshot()
            if not changed:
                assert after == before
                return
            assert after[1] == before[1] + 1
            rows = [t for t in self.machine.by_trigger[trigger]
                    if before[0] in t.source and (t.dest or before[0]) == after[0] and actor.kind in t.roles]
            assert rows, f"{party} fired {trigger}: {before[0]} -> {after[0]} by no row of the table"
            self.fired.append((trigger, before[0], after[0]))
            fired_in_run.add((self.machine.name, trigger))

        @rule(days=st.integers(0, 3))
        def subject_attaches_evidence(self, days):
            self.now += dt.timedelta(days=days)
            before = self.snapshot()
            try:
                add_evidence(actors[self.subject_key], self.case_id, data="整改结果及佐证材料".encode(),
                             filename="r.txt", declared_type="text/plain", upload_dir=upload_dir, now=self.now)
                db.session.commit()
            except DomainError:  # a closed case takes no more evidence
                db.session.rollback()
                assert self.machine.state(before[0]).kind == "closed"
                assert self.snapshot() == before

        @invariant()
        def state_is_one_of_the_tables(self):
            state, _ = self.snapshot()
            assert state in self.machine.states and state != NEW

        @invariant()
        def every_event_is_a_row_of_the_table(self):
            """The whole history, compared with the table: each event is a row's trigger from
            one of its sources to its destination, by a party kind it names (or an
            evidence upload, which moves nothing)."""
            events = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == self.case_id)
                                        .order_by(CaseEvent.seq)).scalars().all()
            state = NEW
            for event in events:
                assert event.from_state == state
                if event.trigger == "evidence_added":
                    assert event.to_state == state
                else:
                    assert any(state in t.source and (t.dest or state) == event.to_state and event.party_kind in t.roles
                               for t in self.machine.by_trigger[event.trigger]), event.trigger
                state = event.to_state

        @invariant()
        def history_chain_verifies(self):
            [(case_id, problems)] = list(audit.verify_chains([self.case_id]))
            assert problems == []
            count = db.session.execute(sa.select(sa.func.count()).select_from(CaseEvent)
                                       .where(CaseEvent.case_id == case_id)).scalar_one()
            assert count == self.snapshot()[1]

    # derandomize: the same 50 examples on every run, so that the coverage check below can
    # never fail by chance in CI (a flaky test blocks a landing); the examples still
    # span every machine, party and rule of the table.
    run_state_machine_as_test(CaseLife, settings=settings(
        max_examples=50, stateful_step_count=30, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    art24 = {(m.name, t.trigger) for m in MACHINES.values() for t in m.transitions if t.article.number == 24}
    assert art24 <= fired_in_run, f"Art. 24 rows never taken: {sorted(art24 - fired_in_run)}"
