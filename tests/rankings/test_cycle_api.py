"""/periods, /objections and /awards over HTTP: status codes, error codes and shapes.

The API takes "today" from the real clock (Asia/Shanghai); the entries are dated in 2026Q3
and 2026Q4 through the services, and the notice window is judged against the real today.
"""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import local_today
from app.points.models import Entry, Period
from app.rankings.models import Award, Objection, Publication
from tests.rankings.test_periods import Q3_DAY, Q4_DAY, build_contest, build_q3, score

REAL_TODAY = local_today("Asia/Shanghai")


@pytest.fixture
def as_(api):
    cache = {}

    def get(username):
        if username not in cache:
            cache[username] = api.as_(username)
        return cache[username]

    return get


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


def count(session, model, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def standing_rows(body):
    return [(s["rank"], s["number"], s["points"], s["eligible"]) for s in body["standings"]]


def board(as_, period, village, who="tj_resident"):
    r = as_(who).get("/leaderboards", query_string={"period": period, "village_id": village.id})
    assert r.status_code == 200, r.get_json()
    return [(s["rank"], s["number"], s["points"], s["eligible"]) for s in r.get_json()["items"]]


def entry_body(world, key, rule, day):
    prefix = key[:2]
    return {
        "household_id": world.households[key].id,
        "rule_id": world.rules[f"{prefix}_{rule}"].id,
        "occurred_on": day.isoformat(),
    }


def close(as_, world, period, who="tj_reviewer", village=None):
    return as_(who).post(f"/periods/{period}/close", json={"village_id": (village or world.a).id})


def finalize(as_, world, period, who="admin", village=None):
    return as_(who).post(f"/periods/{period}/finalize", json={"village_id": (village or world.a).id})


def ledger_ok(runner):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output


@pytest.fixture
def q3(world, session):
    return build_q3(session, world)


@pytest.fixture
def closed(world, session, q3, as_):
    """团结村 2026Q3 closed by its reviewer: tj1 8, tj2 6, tj3 −20 (veto)."""
    r = close(as_, world, "2026Q3")
    assert r.status_code == 200, r.get_json()
    return q3


def test_a_run_across_midnight_keeps_the_working_day(world, session, q3, as_, monkeypatch):
    """The suite pins the working day (tests/conftest.py): when the real clock has passed
    midnight in Shanghai since the expectations were computed, the app still answers on
    the pinned day. Unpinned, this close would end its notice a day later."""
    from datetime import datetime

    from app import clock

    tomorrow = datetime.combine(REAL_TODAY + timedelta(days=1), datetime.min.time()).replace(tzinfo=None)
    monkeypatch.setattr(clock, "utcnow", lambda: tomorrow + timedelta(hours=1) - timedelta(hours=8))
    assert local_today("Asia/Shanghai", clock.utcnow()) == REAL_TODAY + timedelta(days=1)
    world.a.notice_days = 3
    session.commit()
    r = close(as_, world, "2026Q3")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["notice_ends_on"] == (REAL_TODAY + timedelta(days=3)).isoformat()


def test_close_answers_with_the_published_standings(world, session, q3, as_):
    world.a.notice_days = 3
    session.commit()
    r = close(as_, world, "2026q3")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert {k: body[k] for k in ("period", "village_id", "status", "notice_ends_on", "version")} == {
        "period": "2026Q3",
        "village_id": world.a.id,
        "status": "notice",
        "notice_ends_on": (REAL_TODAY + timedelta(days=3)).isoformat(),
        "version": 1,
    }
    assert body["standings"][0] == {
        "rank": 1,
        "household_id": world.households["tj1"].id,
        "account_id": world.households["tj1"].id,
        "number": "TJ-001",
        "head_name": "户主tj1",
        "village_id": world.a.id,
        "village_name": "团结村",
        "points": 8,
        "eligible": True,
    }
    assert standing_rows(body) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", -20, False)]
    assert count(session, Period) == 1 and count(session, Publication) == 1


def test_close_refusals(world, session, q3, as_):
    for who in ("tj_recorder", "tj_resident"):
        assert_error(close(as_, world, "2026Q3", who=who), 403, "forbidden")
    assert_error(close(as_, world, "2026Q3", village=world.b), 400, "not_found")
    for text in ("2026Q5", "Q3", "2099Q4"):  # not a period; one that has not begun
        err = assert_error(close(as_, world, text), 422, "validation_error")
        assert "period" in err["details"]
    for body in ({}, {"village_id": str(world.a.id)}):
        r = as_("tj_reviewer").post("/periods/2026Q3/close", json=body)
        assert_error(r, 422, "validation_error")
    assert count(session, Period) == 0
    assert close(as_, world, "2026Q3").status_code == 200
    err = assert_error(close(as_, world, "2026Q3", who="tj_reviewer2"), 409, "period_closed")
    assert err["details"] == {"period": "2026Q3"}
    assert count(session, Publication) == 1


def test_a_closed_quarter_refuses_entries_batches_approvals_and_reversals(world, session, closed, as_):
    recorder = as_("tj_recorder")
    err = assert_error(recorder.post("/entries", json=entry_body(world, "tj2", "school", Q3_DAY)), 409, "period_closed")
    assert err["details"] == {"period": "2026Q3"}
    batch = {
        "rule_id": world.rules["tj_school"].id,
        "household_ids": [world.households["tj2"].id, world.households["tj3"].id],
        "occurred_on": "2026-09-30",
    }
    assert_error(recorder.post("/entries/batch", json=batch), 409, "period_closed")
    r = as_("tj_reviewer").post(f"/entries/{closed['tj1_labour'].id}/reverse", json={"reason": "记错"})
    assert_error(r, 409, "period_closed")
    # a date outside the closed quarter still works
    r = recorder.post("/entries", json=entry_body(world, "tj2", "school", Q4_DAY))
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["period"], r.get_json()["points"]) == ("2026Q4", 3)
    r = recorder.post("/entries/batch", json={**batch, "occurred_on": "2026-10-01"})
    assert r.status_code == 201 and len(r.get_json()["created"]) == 2
    assert board(as_, "2026Q3", world.a) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", -20, False)]


def test_a_closed_quarter_refuses_approving_its_pending_entry(world, session, as_):
    r = as_("xf_recorder").post("/entries", json=entry_body(world, "xf1", "school", Q3_DAY))
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    pending = r.get_json()["id"]
    r2 = as_("xf_recorder").post("/entries", json=entry_body(world, "xf1", "school", Q4_DAY))
    assert close(as_, world, "2026Q3", who="xf_reviewer", village=world.b).status_code == 200
    assert_error(as_("xf_reviewer").post(f"/entries/{pending}/approve"), 409, "period_closed")
    assert session.get(Entry, pending).status == "pending"
    r = as_("xf_reviewer").post(f"/entries/{r2.get_json()['id']}/approve")
    assert r.status_code == 200 and r.get_json()["status"] == "approved"


def test_closing_a_year_blocks_all_its_dates(world, session, q3, as_):
    r = close(as_, world, "2026")
    assert r.status_code == 200 and r.get_json()["period"] == "2026"
    for day in (date(2026, 1, 2), Q3_DAY, Q4_DAY):
        r = as_("tj_recorder").post("/entries", json=entry_body(world, "tj2", "school", day))
        assert assert_error(r, 409, "period_closed")["details"] == {"period": "2026"}
    r = as_("tj_recorder").post("/entries", json=entry_body(world, "tj2", "school", date(2025, 12, 31)))
    assert r.status_code == 201


def test_get_period_follows_open_notice_final(world, session, q3, as_):
    resident = as_("tj_resident")
    r = resident.get("/periods/2026Q3", query_string={"village_id": world.a.id})
    assert r.status_code == 200
    assert r.get_json() == {
        "period": "2026Q3",
        "scheme_id": world.a.household_scheme.id,
        "village_id": world.a.id,
        "status": "open",
        "notice_ends_on": None,
        "version": None,
        "published_at": None,
        "standings": [],
    }
    close(as_, world, "2026Q3")
    score(session, world, "tj3", "school", Q4_DAY, quantity=20)  # a later entry in another period
    session.commit()
    body = resident.get("/periods/2026Q3", query_string={"village_id": world.a.id}).get_json()
    assert (body["status"], body["version"], body["notice_ends_on"]) == (
        "notice",
        1,
        (REAL_TODAY + timedelta(days=7)).isoformat(),
    )
    assert body["published_at"].endswith("+08:00")
    assert standing_rows(body) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", -20, False)]
    assert finalize(as_, world, "2026Q3").status_code == 200
    body = as_("tj_recorder").get("/periods/2026q3", query_string={"village_id": world.a.id}).get_json()
    assert (body["period"], body["status"], body["version"]) == ("2026Q3", "final", 1)
    assert standing_rows(body)[2] == (3, "TJ-003", -20, False)


def test_get_period_scope_and_arguments(world, session, closed, as_):
    assert_error(as_("tj_resident").get("/periods/2026Q3", query_string={"village_id": world.b.id}), 404, "not_found")
    assert_error(as_("xf_reviewer").get("/periods/2026Q3", query_string={"village_id": world.a.id}), 404, "not_found")
    assert_error(as_("tj_resident").get("/periods/2026Q3", query_string={"village_id": 999999}), 404, "not_found")
    assert_error(as_("tj_resident").get("/periods/2026Q3"), 422, "validation_error")
    assert_error(
        as_("tj_resident").get("/periods/2026Q9", query_string={"village_id": world.a.id}), 422, "validation_error"
    )
    assert as_("admin").get("/periods/2026Q3", query_string={"village_id": world.a.id}).get_json()["status"] == "notice"


def object_to(as_, who="tj_resident", **body):
    return as_(who).post("/objections", json={"reason": "不属实", **body})


def test_filing_objections(world, session, closed, as_):
    r = object_to(as_, entry_id=closed["tj1_labour"].id)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert {
        k: body[k] for k in ("status", "village_id", "period", "entry_id", "household_id", "reason", "filed_by")
    } == {
        "status": "open",
        "village_id": world.a.id,
        "period": "2026Q3",
        "entry_id": closed["tj1_labour"].id,
        "household_id": world.households["tj1"].id,
        "reason": "不属实",
        "filed_by": world.users["tj_resident"].id,
    }
    assert isinstance(body["id"], int) and body["decided_at"] is None
    err = assert_error(object_to(as_, entry_id=closed["tj2_school"].id), 400, "not_found")
    assert err["details"] == {"field": "entry_id"}
    r = object_to(as_, period="2026Q3", village_id=world.a.id)
    assert r.status_code == 201 and (r.get_json()["entry_id"], r.get_json()["period"]) == (None, "2026Q3")
    r = object_to(as_, period="2026Q3")
    assert r.status_code == 201 and r.get_json()["village_id"] == world.a.id
    assert_error(object_to(as_, period="2026Q3", village_id=world.b.id), 400, "not_found")
    r = object_to(as_, who="tj_reviewer", entry_id=closed["tj2_school"].id)
    assert r.status_code == 201 and r.get_json()["household_id"] == world.households["tj2"].id
    assert_error(object_to(as_, who="tj_recorder", period="2026Q3"), 403, "forbidden")
    r = as_("tj_resident").post("/objections", json={"period": "2026Q3"})
    assert "reason" in assert_error(r, 422, "validation_error")["details"]
    r = as_("tj_resident").post("/objections", json={"period": "2026Q3", "reason": "  "})
    assert "reason" in assert_error(r, 422, "validation_error")["details"]
    assert count(session, Objection) == 4
    mine = as_("tj_resident").get("/objections").get_json()
    assert mine["total"] == 3  # the resident's own three
    assert as_("tj_reviewer").get("/objections?status=open").get_json()["total"] == 4


def test_objections_against_entries_other_than_rule_entries_are_refused(world, session, closed, as_, runner):
    """The base points of enrolment (like any other non-rule entry) take no objection: 422
    ``validation_error`` naming ``entry_id``, in the caller's language."""
    opening = session.scalar(
        select(Entry).where(Entry.household_id == world.households["tj1"].id, Entry.kind == "opening")
    )
    for who in ("tj_resident", "tj_reviewer"):
        err = assert_error(object_to(as_, who=who, entry_id=opening.id), 422, "validation_error")
        assert list(err["details"]) == ["entry_id"]
        assert "开户底分" in err["details"]["entry_id"][0]
    assert count(session, Objection) == 0
    assert as_("tj_resident").get(f"/households/{world.households['tj1'].id}").get_json()["balance"] == 108
    ledger_ok(runner)
    # last: ``?lang=en`` leaves a session cookie behind on the shared test client
    r = as_("tj_resident").post("/objections?lang=en", json={"reason": "不属实", "entry_id": opening.id})
    err = assert_error(r, 422, "validation_error")
    assert err["details"]["entry_id"][0].startswith("Objections are taken only against points recorded under a rule")
    assert count(session, Objection) == 0


def test_a_household_reads_the_objections_about_it(world, session, closed, as_):
    about_me = object_to(as_, who="tj_reviewer", entry_id=closed["tj1_labour"].id).get_json()["id"]
    about_neighbour = object_to(as_, who="tj_reviewer", entry_id=closed["tj2_school"].id).get_json()["id"]
    resident = as_("tj_resident")
    listed = resident.get("/objections").get_json()
    assert [(o["id"], o["household_id"]) for o in listed["items"]] == [(about_me, world.households["tj1"].id)]
    r = resident.get(f"/objections/{about_me}")
    assert r.status_code == 200 and r.get_json()["filed_by"] == world.users["tj_reviewer"].id
    assert_error(resident.get(f"/objections/{about_neighbour}"), 404, "not_found")
    assert_error(as_("xf_resident").get(f"/objections/{about_me}"), 404, "not_found")
    assert_error(as_("xf_reviewer").get(f"/objections/{about_me}"), 404, "not_found")


def decide(as_, objection_id, who="tj_reviewer", **body):
    return as_(who).post(f"/objections/{objection_id}/decide", json=body)


def test_upholding_an_objection_reverses_the_entry_and_republishes(world, session, closed, as_, runner):
    oid = object_to(as_, entry_id=closed["tj1_labour"].id).get_json()["id"]
    r = decide(as_, oid, upheld=True, note="核实未出工")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["decision_note"], body["decided_by"]) == (
        "upheld",
        "核实未出工",
        world.users["tj_reviewer"].id,
    )
    reversal = as_("tj_reviewer").get(f"/entries/{body['reversal_entry_id']}").get_json()
    assert (reversal["kind"], reversal["points"], reversal["period"], reversal["occurred_on"]) == (
        "reversal",
        -5,
        "2026Q3",
        "2026-08-15",
    )
    household = as_("tj_resident").get(f"/households/{world.households['tj1'].id}").get_json()
    assert household["balance"] == 103
    period = as_("tj_resident").get("/periods/2026Q3", query_string={"village_id": world.a.id}).get_json()
    assert (period["status"], period["version"]) == ("notice", 2)
    assert standing_rows(period) == [(1, "TJ-002", 6, True), (2, "TJ-001", 3, True), (3, "TJ-003", -20, False)]
    assert board(as_, "2026", world.a)[:2] == [(1, "TJ-002", 6, True), (2, "TJ-001", 3, True)]
    assert as_("tj_resident").get(f"/objections/{oid}").get_json()["status"] == "upheld"
    ledger_ok(runner)


def test_a_dismissed_objection_changes_nothing_and_decisions_are_final(world, session, closed, as_):
    oid = object_to(as_, entry_id=closed["tj1_labour"].id).get_json()["id"]
    entries = count(session, Entry)
    assert_error(decide(as_, oid, who="tj_resident", upheld=True, note="x"), 403, "forbidden")
    assert_error(decide(as_, oid, who="xf_reviewer", upheld=True, note="x"), 404, "not_found")
    assert "note" in assert_error(decide(as_, oid, upheld=True), 422, "validation_error")["details"]
    assert "note" in assert_error(decide(as_, oid, upheld=True, note=" "), 422, "validation_error")["details"]
    assert_error(decide(as_, oid, upheld="yes", note="x"), 422, "validation_error")
    r = decide(as_, oid, upheld=False, note="记录属实")
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["reversal_entry_id"]) == ("dismissed", None)
    assert_error(decide(as_, oid, upheld=True, note="再议"), 409, "not_pending")
    assert_error(decide(as_, oid, who="tj_reviewer2", upheld=False, note="再议"), 409, "not_pending")
    assert count(session, Entry) == entries
    assert as_("tj_resident").get(f"/households/{world.households['tj1'].id}").get_json()["balance"] == 108
    period = as_("tj_resident").get("/periods/2026Q3", query_string={"village_id": world.a.id}).get_json()
    assert period["version"] == 1 and standing_rows(period)[0] == (1, "TJ-001", 8, True)


def test_finalize_waits_for_the_window_and_the_objections(world, session, closed, as_):
    err = assert_error(finalize(as_, world, "2026Q3", who="tj_reviewer"), 409, "notice_running")
    assert err["details"] == {"notice_ends_on": (REAL_TODAY + timedelta(days=7)).isoformat()}
    oid = object_to(as_, period="2026Q3").get_json()["id"]
    assert assert_error(finalize(as_, world, "2026Q3"), 409, "objection_open")["details"] == {"count": 1}
    assert_error(finalize(as_, world, "2026Q3", who="tj_resident"), 403, "forbidden")
    assert_error(finalize(as_, world, "2026Q3", who="xf_reviewer"), 400, "not_found")
    assert decide(as_, oid, upheld=False, note="排名无误").status_code == 200
    r = finalize(as_, world, "2026Q3")  # an admin, inside the window
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["version"]) == ("final", 1)
    assert_error(finalize(as_, world, "2026Q3"), 409, "period_closed")
    assert_error(finalize(as_, world, "2026Q3", who="tj_reviewer"), 409, "period_closed")


def test_a_reviewer_finalises_once_the_window_has_ended(world, session, closed, as_):
    row = session.scalar(select(Period).where(Period.village_id == world.a.id))
    row.notice_ends_on = REAL_TODAY - timedelta(days=1)
    session.commit()
    r = finalize(as_, world, "2026Q3", who="tj_reviewer")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "final"
    session.expire_all()
    assert row.finalized_by_id == world.users["tj_reviewer"].id


def test_a_final_period_changes_no_more(world, session, closed, as_):
    assert finalize(as_, world, "2026Q3").status_code == 200
    entry_id = closed["tj1_labour"].id
    assert_error(object_to(as_, entry_id=entry_id), 409, "objection_window_closed")
    assert_error(object_to(as_, period="2026Q3"), 409, "objection_window_closed")
    assert_error(
        object_to(as_, who="tj_reviewer", period="2026Q3", village_id=world.a.id), 409, "objection_window_closed"
    )
    assert_error(
        as_("tj_recorder").post("/entries", json=entry_body(world, "tj2", "school", Q3_DAY)), 409, "period_closed"
    )
    assert_error(as_("tj_reviewer").post(f"/entries/{entry_id}/reverse", json={"reason": "x"}), 409, "period_closed")
    assert count(session, Objection) == 0
    assert board(as_, "2026Q3", world.a)[0] == (1, "TJ-001", 8, True)


def award_body(world, **extra):
    return {"period": "2026Q3", "village_id": world.a.id, "title": "季度道德之星", "top_n": 2, **extra}


@pytest.fixture
def contest(world, session):
    return build_contest(session, world)


def test_awards_need_the_final_standings(world, session, contest, as_):
    reviewer = as_("tj_reviewer")
    assert_error(reviewer.post("/awards", json=award_body(world)), 409, "period_not_final")
    assert close(as_, world, "2026Q3").status_code == 200
    err = assert_error(reviewer.post("/awards", json=award_body(world)), 409, "period_not_final")
    assert err["details"] == {"period": "2026Q3"}
    assert_error(as_("tj_resident").post("/awards", json=award_body(world)), 403, "forbidden")
    assert count(session, Award) == 0


def test_awards_name_the_top_eligible_and_a_bonus_never_ranks(world, session, contest, as_):
    close(as_, world, "2026Q3")
    finalize(as_, world, "2026Q3")
    before = {p: board(as_, p, world.a) for p in ("2026Q3", "2026Q4", "2026")}
    assert before["2026Q3"] == [
        (1, "TJ-001", 10, False),
        (2, "TJ-002", 9, True),
        (3, "TJ-003", 6, True),
        (3, "TJ-004", 6, True),
        (5, "TJ-005", 5, True),
    ]
    r = as_("tj_reviewer").post("/awards", json=award_body(world, bonus_points=30))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    hid = {k: h.id for k, h in world.households.items()}
    assert [(i["household_id"], i["rank"], i["title"], i["points"]) for i in body["items"]] == [
        (hid["tj2"], 2, "季度道德之星", 9),
        (hid["tj3"], 3, "季度道德之星", 6),
        (hid["tj4"], 3, "季度道德之星", 6),
    ]
    assert body["items"][0]["number"] == "TJ-002" and body["items"][0]["bonus_points"] == 30
    assert {p: board(as_, p, world.a) for p in before} == before  # rankings unchanged
    balances = {k: as_("admin").get(f"/households/{hid[k]}").get_json()["balance"] for k in ("tj1", "tj2", "tj5")}
    assert balances == {"tj1": 110, "tj2": 139, "tj5": 105}
    assert count(session, Entry, Entry.kind == "award") == 3
    err = assert_error(as_("tj_reviewer2").post("/awards", json=award_body(world, top_n=1)), 422, "validation_error")
    assert "title" in err["details"]
    r = as_("tj_reviewer").post("/awards", json=award_body(world, title="季度道德冠军", top_n=1))
    assert [(i["household_id"], i["rank"]) for i in r.get_json()["items"]] == [(hid["tj2"], 2)]
    listed = as_("tj_resident").get("/awards", query_string={"period": "2026Q3", "village_id": world.a.id})
    assert listed.status_code == 200
    assert listed.get_json()["total"] == 4
    assert sorted((i["title"], i["household_id"], i["rank"]) for i in listed.get_json()["items"]) == sorted(
        [
            ("季度道德之星", hid["tj2"], 2),
            ("季度道德之星", hid["tj3"], 3),
            ("季度道德之星", hid["tj4"], 3),
            ("季度道德冠军", hid["tj2"], 2),
        ]
    )
    assert as_("tj_resident").get("/awards", query_string={"period": "2026Q4"}).get_json()["total"] == 0
    assert_error(as_("tj_resident").get("/awards", query_string={"period": "2026Q7"}), 422, "validation_error")


def test_award_validation(world, session, contest, as_):
    close(as_, world, "2026Q3")
    finalize(as_, world, "2026Q3")
    reviewer = as_("tj_reviewer")
    for extra, field in (
        ({"top_n": 0}, "top_n"),
        ({"top_n": "2"}, "top_n"),
        ({"bonus_points": -5}, "bonus_points"),
        ({"title": ""}, "title"),
        ({"period": "2026Q0"}, "period"),
    ):
        err = assert_error(reviewer.post("/awards", json=award_body(world, **extra)), 422, "validation_error")
        assert field in err["details"], err
    assert_error(reviewer.post("/awards", json=award_body(world, village_id=world.b.id)), 400, "not_found")
    assert count(session, Award) == 0


def test_a_year_award_uses_the_annual_total(world, session, contest, as_):
    score(session, world, "tj5", "school", Q4_DAY, quantity=5)  # tj5: 5 in Q3 + 15 in Q4
    session.commit()
    assert close(as_, world, "2026").status_code == 200
    assert finalize(as_, world, "2026").status_code == 200
    r = as_("tj_reviewer").post(
        "/awards", json=award_body(world, period="2026", title="年度最美家庭", top_n=1, bonus_points=50)
    )
    assert r.status_code == 201, r.get_json()
    assert [(i["household_id"], i["rank"], i["points"]) for i in r.get_json()["items"]] == [
        (world.households["tj5"].id, 1, 20)
    ]
    assert as_("admin").get(f"/households/{world.households['tj5'].id}").get_json()["balance"] == 170
    assert board(as_, "2026", world.a)[0] == (1, "TJ-005", 20, True)


def test_a_retried_award_is_answered_again_and_writes_nothing(world, session, contest, as_):
    close(as_, world, "2026Q3")
    finalize(as_, world, "2026Q3")
    key = {"Idempotency-Key": "award-2026Q3-star"}
    reviewer = as_("tj_reviewer")
    first = reviewer.post("/awards", json=award_body(world, bonus_points=10), headers=key)
    assert first.status_code == 201
    entries, awards = count(session, Entry), count(session, Award)
    assert awards == 3
    again = reviewer.post("/awards", json=award_body(world, bonus_points=10), headers=key)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (count(session, Entry), count(session, Award)) == (entries, awards)
    assert as_("admin").get(f"/households/{world.households['tj2'].id}").get_json()["balance"] == 119
    other = reviewer.post("/awards", json=award_body(world, bonus_points=20), headers=key)
    assert_error(other, 409, "idempotency_conflict")


def test_a_retried_decision_is_answered_again_and_reverses_once(world, session, closed, as_, runner):
    oid = object_to(as_, entry_id=closed["tj1_labour"].id).get_json()["id"]
    key = {"Idempotency-Key": "decide-1"}
    first = as_("tj_reviewer").post(f"/objections/{oid}/decide", json={"upheld": True, "note": "成立"}, headers=key)
    assert first.status_code == 200, first.get_json()
    again = as_("tj_reviewer").post(f"/objections/{oid}/decide", json={"upheld": True, "note": "成立"}, headers=key)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert count(session, Entry, Entry.kind == "reversal") == 1
    assert count(session, Publication) == 2
    assert as_("tj_resident").get(f"/households/{world.households['tj1'].id}").get_json()["balance"] == 103
    r = as_("tj_reviewer").post(f"/objections/{oid}/decide", json={"upheld": False, "note": "成立"}, headers=key)
    assert_error(r, 409, "idempotency_conflict")
    ledger_ok(runner)
