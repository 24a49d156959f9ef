"""The pages of the quarterly cycle: period management (公示, 定稿, 评优), the notice board
(公示栏), the big screen, certificates (奖状), the yearly passbook and objections (异议).

The pages take today from the real clock, so the entries are dated in the quarter before
the real one; services called directly get the same dates."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import local_today, parse_period, quarter_of, utcnow
from app.households.models import Household
from app.points import decisions
from app.points.models import Entry, Period
from app.rankings import objections, periods
from app.rankings.models import Award, Objection, Publication
from app.rankings.views import period_label, period_title
from tests import factories

TODAY = local_today("Asia/Shanghai")
THIS_Q = quarter_of(TODAY)
LAST_Q = quarter_of(parse_period(THIS_Q)[0] - timedelta(days=1))
DAY = parse_period(LAST_Q)[0] + timedelta(days=14)
PHONE = "13912345678"
ADDRESS = "幸福路八号院"


def linked_css(client, page: str) -> str:
    """The stylesheets a page links (its print layout lives there, not inline)."""
    hrefs = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    return "\n".join(client.get(href).get_data(as_text=True) for href in hrefs)


def text(response) -> str:
    return response.get_data(as_text=True)


def plain(html: str) -> str:
    """The page's text without tags and line breaks, as a reader sees it."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def section(html: str, heading: str) -> str:
    """The HTML of the <section> whose <h2> is ``heading``."""
    start = html.index(f"<h2>{heading}</h2>")
    return html[start : html.index("</section>", start)]


def score(session, world, key, rule, day=DAY, quantity=1):
    return factories.score(session, world, key, rule, day=day, today=TODAY, quantity=quantity, approve=False)


@pytest.fixture
def quarter(world, session):
    """团结村 last quarter: tj1 8 (5 + 3), tj2 6, tj3 −20 with a veto; tj1 has a phone
    and an address that no public page may show."""
    tj1 = world.households["tj1"]
    tj1.phone, tj1.address = PHONE, ADDRESS
    entries = {
        "tj1_labour": score(session, world, "tj1", "labour"),
        "tj1_school": score(session, world, "tj1", "school"),
        "tj2_school": score(session, world, "tj2", "school", quantity=2),
        "tj3_gamble": score(session, world, "tj3", "gamble"),
    }
    session.commit()
    return entries


def close(session, world):
    view = periods.close_period(session, world.actor("tj_reviewer"), world.a.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()
    return view


def finalize(session, world):
    view = periods.finalize_period(session, world.actor("admin"), world.a.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()
    return view


def test_reviewer_publishes_a_period_from_the_page(world, session, quarter, login):
    client = login("tj_reviewer")
    page = text(client.get("/periods"))
    card = page.split(f'id="period-{LAST_Q}"')[1].split("</section>")[0]
    assert "未公示" in card and "公示</button>" in card

    response = client.post(f"/periods/{LAST_Q}/close")
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert f"{period_label(LAST_Q)} 的排名已公示（3 户）" in page
    card = page.split(f'id="period-{LAST_Q}"')[1].split("</section>")[0]
    assert "公示中" in card and "定稿</button>" in card
    row = session.scalar(select(Period).where(Period.village_id == world.a.id, Period.period == LAST_Q))
    assert row.status == "notice"


def test_pending_entries_are_a_warning_before_publishing(world, session, login):
    score(session, world, "xf1", "school")  # 幸福村: waits for approval
    session.commit()
    page = text(login("xf_reviewer").get("/periods"))
    card = page.split(f'id="period-{LAST_Q}"')[1].split("</section>")[0]
    assert "还有 1 条记分待审核" in card


def test_finalising_during_the_notice_window_says_when_it_ends(world, session, quarter, login):
    view = close(session, world)
    client = login("tj_reviewer")
    response = client.post(f"/periods/{LAST_Q}/finalize", follow_redirects=True)
    assert f"公示期至 {view.notice_ends_on.isoformat()} 结束，期满后才能定稿" in text(response)
    assert periods.view_period(session, world.a, LAST_Q).status == "notice"


def test_finalising_with_an_open_objection_is_refused(world, session, quarter, login):
    close(session, world)
    objections.file_objection(session, world.actor("tj_resident"), reason="记错了", now=utcnow(), period=LAST_Q)
    session.commit()
    client = login("admin")
    response = client.post(f"/periods/{LAST_Q}/finalize?village_id={world.a.id}", follow_redirects=True)
    assert "还有 1 条异议未处理" in text(response)
    assert "有 1 条异议未处理，处理完才能定稿" in text(response)


def test_admin_picks_a_village_first(world, login):
    page = text(login("admin").get("/periods"))
    assert "请先选择一个村" in page and "团结村" in page and "幸福村" in page


def test_residents_and_recorders_cannot_manage_periods(world, login):
    assert login("tj_resident").get("/periods").status_code == 403
    assert login("tj_recorder").post(f"/periods/{LAST_Q}/close").status_code == 403


def test_notice_board_shows_the_published_standings_without_personal_data(world, session, quarter, login):
    view = close(session, world)
    client = login("tj_resident")
    page = text(client.get(f"/notice/{LAST_Q}?village_id={world.a.id}"))
    assert "团结村" in page and period_title(LAST_Q) in page
    published = local_today("Asia/Shanghai", view.row.closed_at)  # the local day it was closed
    assert f"公示期：{published.isoformat()} 至 {view.notice_ends_on.isoformat()}" in page
    assert "第 1 次公示" in page and "异议成立后更新" not in page
    rows = re.findall(r'class="rank">(\d+)</td>.*?data-label="户主">([^<]+)<', page, re.S)
    assert rows == [("1", "户主tj1"), ("2", "户主tj2"), ("3", "户主tj3")]
    veto_row = page.split("户主tj3")[1].split("</tr>")[0]
    assert "一票否决" in veto_row
    assert PHONE not in page and ADDRESS not in page
    # Deductions: how many and how much, not who.
    deductions = section(page, "扣分情况")
    assert "本期共有 1 户被扣分，共 1 笔，合计 -20 分" in plain(deductions)
    assert "户主tj3" not in deductions and "TJ-003" not in deductions
    # How to object, with the page's address for a phone.
    assert f"如有异议，请于 {view.notice_ends_on.isoformat()} 前向村评议会提出，或在手机上提交异议" in page
    assert f"/objections/new?period={LAST_Q}&amp;village_id={world.a.id}" in page
    assert "@page { size: A4; margin: 15mm; }" in linked_css(client, page)


def test_ties_are_shown_as_ties(world, session, login):
    score(session, world, "tj1", "labour")
    score(session, world, "tj2", "labour")
    session.commit()
    close(session, world)
    page = text(login("tj_reviewer").get(f"/notice/{LAST_Q}"))
    assert re.findall(r'class="rank">(\d+)</td>', page) == ["1", "1", "3"]
    assert page.count('<span class="badge tie">并列</span>') == 2


def test_deduction_names_and_masked_heads_follow_the_configuration(app, world, session, quarter, login):
    factories.household(session, world.admin, world.a, "TJ-004", "王建国")
    session.commit()
    close(session, world)
    client = login("tj_reviewer")
    app.config["NOTICE_SHOW_DEDUCTION_NAMES"] = True
    page = text(client.get(f"/notice/{LAST_Q}"))
    assert "户主tj3" in section(page, "扣分情况")
    assert "王建国" in page

    app.config["NOTICE_MASK_NAMES"] = True
    page = text(client.get(f"/notice/{LAST_Q}"))
    assert "王*国" in page and "王建国" not in page
    assert "户***3" in section(page, "扣分情况")
    assert "王建国" not in text(client.get(f"/notice/{LAST_Q}?mask=0"))  # a query never unmasks


def test_a_period_not_yet_published_says_so(world, login):
    page = text(login("tj_resident").get(f"/notice/{THIS_Q}"))
    assert "的排名尚未公示" in page


def test_another_villages_officials_and_residents_get_404(world, session, quarter, login):
    close(session, world)
    for username in ("xf_reviewer", "xf_resident"):
        client = login(username)
        assert client.get(f"/notice/{LAST_Q}?village_id={world.a.id}").status_code == 404
        assert client.get(f"/bigscreen?village_id={world.a.id}").status_code == 404
        assert client.get(f"/awards?village_id={world.a.id}").status_code == 404
    assert login("tj_resident").get(f"/notice/{LAST_Q}?village_id={world.a.id}").status_code == 200
    assert login("admin").get(f"/notice/{LAST_Q}?village_id={world.a.id}").status_code == 200


def test_notice_without_a_period_opens_the_latest_publication(world, session, quarter, login):
    close(session, world)
    response = login("tj_resident").get("/notice")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/notice/{LAST_Q}?village_id={world.a.id}")


def test_big_screen_shows_the_top_and_refreshes_itself(world, session, quarter, login):
    close(session, world)
    page = text(login("tj_reviewer").get(f"/bigscreen?village_id={world.a.id}&period={LAST_Q}"))
    assert '<meta http-equiv="refresh" content="60">' in page
    assert "团结村" in page and "户主tj1" in page and "公示版（第 1 次）" in page
    assert 'class="topbar' not in page and "退出" not in page  # no navigation on the TV
    assert PHONE not in page


def test_big_screen_shows_live_points_before_publication(world, session, quarter, login):
    score(session, world, "tj2", "labour", day=TODAY)
    session.commit()
    page = text(login("tj_resident").get("/bigscreen"))
    assert "实时积分" in page and "户主tj2" in page


def test_awards_form_names_the_winners_and_prints_certificates(world, session, quarter, login):
    close(session, world)
    client = login("admin")
    response = client.post(f"/periods/{LAST_Q}/finalize?village_id={world.a.id}")
    assert response.status_code == 302
    assert periods.view_period(session, world.a, LAST_Q).status == "final"
    before = session.get(Household, world.households["tj1"].id).balance
    response = client.post(
        f"/periods/{LAST_Q}/awards?village_id={world.a.id}",
        data={
            f"award-{LAST_Q}-title_choice": "季度道德之星",
            f"award-{LAST_Q}-top_n": "1",
            f"award-{LAST_Q}-bonus_points": "10",
        },
    )
    assert response.status_code == 302, text(response)
    award = session.scalar(select(Award).where(Award.village_id == world.a.id))
    assert (award.household_id, award.rank, award.title) == (world.households["tj1"].id, 1, "季度道德之星")
    session.expire_all()
    assert session.get(Household, world.households["tj1"].id).balance == before + 10

    page = text(client.get(f"/periods?village_id={world.a.id}"))
    assert "季度道德之星：第 1 名 户主tj1" in plain(page)
    listing = text(client.get(f"/awards?village_id={world.a.id}&period={LAST_Q}"))
    assert f"/awards/{award.id}/certificate" in listing

    resident = login("tj_resident")
    cert = text(resident.get(f"/awards/{award.id}/certificate"))
    words = plain(cert)
    assert "荣誉证书" in words
    assert f"户主tj1 家庭（户号 TJ-001）在 {period_title(LAST_Q)}道德积分评比中荣获「季度道德之星」称号" in words
    assert "团结村村民委员会" in words
    signed = local_today("Asia/Shanghai", award.granted_at)  # the day it was granted, there
    assert f"{signed.year} 年 {signed.month} 月 {signed.day} 日" in words
    assert "size: A4 landscape" in linked_css(resident, cert)

    every = text(client.get(f"/awards/certificates?period={LAST_Q}&village_id={world.a.id}"))
    assert every.count('<article class="cert">') == 1
    assert "page-break-after: always" in linked_css(client, every)


def test_a_free_text_title_and_field_errors_beside_the_fields(world, session, quarter, login):
    close(session, world)
    finalize(session, world)
    client = login("tj_reviewer")
    prefix = f"award-{LAST_Q}-"
    response = client.post(
        f"/periods/{LAST_Q}/awards",
        data={prefix + "title_choice": "other", prefix + "title_other": "", prefix + "top_n": "0"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "请填写称号" in page and "名额须为 1 到 1000 的整数" in page
    response = client.post(
        f"/periods/{LAST_Q}/awards",
        data={prefix + "title_choice": "other", prefix + "title_other": "孝老爱亲之星", prefix + "top_n": "2"},
    )
    assert response.status_code == 302
    titles = session.scalars(select(Award.title).where(Award.village_id == world.a.id)).all()
    assert titles == ["孝老爱亲之星", "孝老爱亲之星"]


def test_awards_before_the_period_is_final_are_refused(world, session, quarter, login):
    close(session, world)
    page = text(login("tj_reviewer").get("/periods"))
    assert f"award-{LAST_Q}-top_n" not in page  # the form appears once the period is final


def test_passbook_running_balance_ends_at_the_households_balance(world, session, login):
    tj1 = world.households["tj1"]
    # dated today, as the reversal is: in one year's passbook whatever the date
    score(session, world, "tj1", "labour", day=TODAY)
    school = score(session, world, "tj1", "school", day=TODAY)
    decisions.reverse_entry(session, world.actor("tj_reviewer"), school.id, reason="重复", now=utcnow())
    session.commit()
    resident = login("tj_resident")
    page = text(resident.get(f"/passbook/{tj1.id}/{TODAY.year}"))
    closing = re.search(r'id="closing-balance">(-?\d+)<', page).group(1)
    session.expire_all()
    assert int(closing) == session.get(Household, tj1.id).balance
    balances = [int(b) for b in re.findall(r'class="num balance">(-?\d+)<', page)]
    assert balances[-1] == int(closing) and len(balances) >= 4
    assert "已冲正" in page and "冲正第" in page
    assert "size: A4" in linked_css(resident, page)


def test_passbook_opening_balance_is_everything_before_the_year(world, session, quarter, login):
    tj1 = world.households["tj1"]
    page = text(login("tj_reviewer").get(f"/passbook/{tj1.id}/{TODAY.year + 1}"))
    session.expire_all()
    balance = session.get(Household, tj1.id).balance
    assert re.search(r"年初余额（1 月 1 日）</small><b>(-?\d+)<", page).group(1) == str(balance)


def test_passbook_is_for_the_household_and_its_village_only(world, login):
    tj1 = world.households["tj1"]
    assert login("tj_resident").get(f"/passbook/{world.households['tj2'].id}/{TODAY.year}").status_code == 404
    assert login("xf_reviewer").get(f"/passbook/{tj1.id}/{TODAY.year}").status_code == 404
    assert login("tj_clerk").get(f"/passbook/{tj1.id}/{TODAY.year}").status_code == 200


def test_resident_objects_and_the_reviewer_upholds_it(world, session, quarter, login):
    close(session, world)
    entry = quarter["tj1_labour"]
    tj1 = world.households["tj1"]
    client = login("tj_resident")
    passbook = text(client.get(f"/passbook/{tj1.id}/{DAY.year}"))
    assert f"/objections/new?entry_id={entry.id}" in passbook

    form = text(client.get(f"/objections/new?entry_id={entry.id}"))
    assert "义务投工投劳" in form
    response = client.post("/objections/new", data={"entry_id": str(entry.id), "reason": "那天我家没人出工"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/objections/mine")
    mine = text(client.get("/objections/mine"))
    assert "待处理" in mine and "那天我家没人出工" in mine
    objection = session.scalar(select(Objection))
    assert (objection.entry_id, objection.status) == (entry.id, "open")

    reviewer = login("tj_reviewer")
    queue = text(reviewer.get("/objections"))
    card = queue.split(f'id="objection-{objection.id}"')[1].split("</section>")[0]
    assert "TJ-001 户主tj1" in card and "义务投工投劳" in card and "+5" in card and "那天我家没人出工" in card
    assert "tj_resident" in card
    response = reviewer.post(
        f"/objections/{objection.id}/decide",
        data={f"o{objection.id}-upheld": "yes", f"o{objection.id}-note": "经核实当天未出工"},
    )
    assert response.status_code == 302
    assert "该笔记录已冲正，排名已重新公示" in text(reviewer.get("/objections"))

    assert session.scalar(select(Entry.id).where(Entry.reverses_id == entry.id)) is not None
    versions = session.scalars(select(Publication.version).order_by(Publication.version)).all()
    assert versions == [1, 2]
    board = text(client.get(f"/notice/{LAST_Q}"))
    assert "第 2 次公示（异议成立后更新）" in board
    assert re.findall(r'class="rank">(\d+)</td>.*?data-label="户主">([^<]+)<', board, re.S)[:2] == [
        ("1", "户主tj2"),
        ("2", "户主tj1"),
    ]
    mine = text(login("tj_resident").get("/objections/mine"))
    assert "异议成立" in mine and "经核实当天未出工" in mine and "该笔记录已冲正" in mine


def test_objection_against_the_standings_and_a_dismissal(world, session, quarter, login):
    close(session, world)
    client = login("tj_resident")
    form = text(client.get(f"/objections/new?period={LAST_Q}&village_id={world.a.id}"))
    assert f'<option selected value="{LAST_Q}">' in form or f'value="{LAST_Q}" selected' in form
    response = client.post(
        "/objections/new", data={"period": LAST_Q, "village_id": str(world.a.id), "reason": "二组的分没有算进去"}
    )
    assert response.status_code == 302
    objection = session.scalar(select(Objection))
    assert (objection.period, objection.entry_id, objection.village_id) == (LAST_Q, None, world.a.id)

    reviewer = login("tj_reviewer")
    assert "对排名的异议" in text(reviewer.get("/objections"))
    response = reviewer.post(f"/objections/{objection.id}/decide", data={f"o{objection.id}-upheld": "no"})
    assert response.status_code == 422
    assert "请填写处理意见" in text(response)
    response = reviewer.post(
        f"/objections/{objection.id}/decide",
        data={f"o{objection.id}-upheld": "no", f"o{objection.id}-note": "已核对，无误"},
    )
    assert response.status_code == 302
    queue = text(reviewer.get("/objections"))
    assert "没有待处理的异议" in queue and "已核对，无误" in queue and "异议不成立" in queue
    assert session.scalar(select(func.count()).select_from(Publication)) == 1


def test_an_empty_reason_keeps_the_form(world, session, quarter, login):
    entry = quarter["tj1_labour"]
    response = login("tj_resident").post("/objections/new", data={"entry_id": str(entry.id), "reason": ""})
    assert response.status_code == 422
    assert "请写明异议理由" in text(response) and "义务投工投劳" in text(response)


NOT_CONTESTABLE = "只能对按规则记的分提出异议；开户底分、兑换、退还、清零、奖励和冲正记录不受理异议"


def entry_field(html: str) -> str:
    """The block of the objection form that shows the contested entry (and its errors)."""
    start = html.index('id="objection-entry"')
    return html[html.rindex("<div", 0, start) : html.index("</div>", start)]


def test_only_rule_entries_are_offered_for_objection(world, session, quarter, login):
    """The base points of enrolment are not contestable: no link to object to them, a form
    that says why instead of offering to file, and the refusal beside the entry when a
    POST names one anyway."""
    tj1 = world.households["tj1"]
    opening = session.scalar(select(Entry).where(Entry.household_id == tj1.id, Entry.kind == "opening"))
    rule = quarter["tj1_labour"]
    client = login("tj_resident")
    for page in (f"/households/{tj1.id}", f"/passbook/{tj1.id}/{opening.occurred_on.year}"):
        html = text(client.get(page))
        assert f"/objections/new?entry_id={opening.id}" not in html, page
    assert f"/objections/new?entry_id={rule.id}" in text(client.get(f"/passbook/{tj1.id}/{DAY.year}"))

    response = client.get(f"/objections/new?entry_id={opening.id}")
    assert response.status_code == 200
    form = text(response)
    field = entry_field(form)
    assert "has-error" in field and f'<small class="error-text">{NOT_CONTESTABLE}</small>' in field
    assert '<button type="submit">' not in form and 'name="reason"' not in form

    response = client.post("/objections/new", data={"entry_id": str(opening.id), "reason": "底分不对"})
    assert response.status_code == 422
    field = entry_field(text(response))
    assert "has-error" in field and f'<small class="error-text">{NOT_CONTESTABLE}</small>' in field
    assert '<button type="submit">' not in text(response)
    assert session.scalar(select(func.count()).select_from(Objection)) == 0
    session.expire_all()
    assert tj1.balance == 108

    # a rule entry is offered as before, without the error
    form = text(client.get(f"/objections/new?entry_id={rule.id}"))
    assert "has-error" not in entry_field(form) and '<button type="submit">' in form


def test_no_objection_once_the_period_is_final(world, session, quarter, login):
    close(session, world)
    finalize(session, world)
    entry = quarter["tj1_labour"]
    client = login("tj_resident")
    assert f"/objections/new?entry_id={entry.id}" not in text(
        client.get(f"/passbook/{world.households['tj1'].id}/{DAY.year}")
    )
    response = client.post("/objections/new", data={"entry_id": str(entry.id), "reason": "晚了"})
    assert response.status_code == 409
    assert "已定稿，不再受理异议" in text(response)


def test_objections_about_other_households_and_queues_of_other_villages(world, session, quarter, login):
    other = quarter["tj2_school"]
    assert login("tj_resident").get(f"/objections/new?entry_id={other.id}").status_code == 404
    objection = objections.file_objection(
        session, world.actor("tj_resident"), reason="不对", now=utcnow(), entry_id=quarter["tj1_labour"].id
    )
    session.commit()
    assert login("tj_resident").get("/objections").status_code == 403
    xf = login("xf_reviewer")
    assert "不对" not in text(xf.get("/objections"))
    response = xf.post(f"/objections/{objection.id}/decide", data={f"o{objection.id}-upheld": "yes"})
    assert response.status_code == 404


def test_publishing_a_running_period_or_finalising_early_warns_in_the_confirmation(world, session, quarter, login):
    page = text(login("tj_reviewer").get("/periods"))
    card = page.split(f'id="period-{THIS_Q}"')[1].split("</section>")[0]
    end = parse_period(THIS_Q)[1].isoformat()
    confirm = re.search(r"<form[^>]*data-confirm=\"([^\"]*)\"", card).group(1)
    assert f"本期到 {end} 才结束；现在公示后，本期剩余日期的记分都将被拒绝" in confirm
    view = close(session, world)
    page = text(login("admin").get(f"/periods?village_id={world.a.id}"))
    card = page.split(f'id="period-{LAST_Q}"')[1].split("</section>")[0]
    form = re.search(r"<form[^>]*/finalize[^>]*>", card).group(0)
    assert f"公示期至 {view.notice_ends_on.isoformat()} 未满，提前定稿后不再受理异议" in form
