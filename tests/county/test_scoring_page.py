"""The county's monthly scoring page: a township's villages, one tap per indicator."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.clock import local_today, month_of
from app.points.models import Entry

TODAY = local_today("Asia/Shanghai")
MONTH = month_of(TODAY)


def url(county, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/county/schemes/{county.scheme.id}/score" + (f"?{query}" if query else "")


def tap(client, county, village, rule, *, month=MONTH, township=None, confirmed=True):
    """A tap; a deduction's as confirmed on its confirmation page unless ``confirmed=False``."""
    account = county.accounts[village]
    town = township or (county.gs if village == "QF" else county.cg)
    data = {"township_id": town.id, "month": month, "tap": f"{account.id}-{county.rules[rule].id}"}
    return client.post(url(county), data=data | ({"confirmed": "1"} if confirmed else {}))


def entries(session, county, village, rule=None):
    stmt = select(func.count()).select_from(Entry).where(Entry.household_id == county.accounts[village].id)
    if rule:
        stmt = stmt.where(Entry.rule_id == county.rules[rule].id)
    session.expire_all()
    return session.scalar(stmt)


def test_every_village_of_a_township_with_a_column_per_indicator(county, auth, client):
    auth.login("dk_recorder")
    page = client.get(url(county, township_id=county.cg.id)).get_data(as_text=True)
    assert "和平村" in page and "新华村" in page and "清风村" not in page
    for name in ("零事故", "零非访", "零发案", "零违建", "零污染", "零疫情", "发生重大问题"):
        assert name in page
    assert page.count('name="tap"') == 2 * 7  # a button per village and indicator
    other = client.get(url(county, township_id=county.gs.id)).get_data(as_text=True)
    assert "清风村" in other and "和平村" not in other


def test_a_tap_records_once_and_the_cell_shows_it(county, auth, client, session):
    auth.login("dk_recorder")
    r = tap(client, county, "HP", "零事故")
    cell = f"c-{county.accounts['HP'].id}-{county.rules['零事故'].id}"
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#{cell}")
    assert entries(session, county, "HP", "零事故") == 1
    again = tap(client, county, "HP", "零事故")  # the double tap
    assert again.status_code == 302
    assert entries(session, county, "HP", "零事故") == 1
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "未重复记分" in page and f'id="{cell}"' in page
    assert page.count('name="tap"') == 2 * 7 - 1  # the recorded cell shows +10, not a button
    row = re.search(rf'id="account-{county.accounts["HP"].id}".*?</tr>', page, re.S).group(0)
    assert "+10" in row and '<td class="num total">10</td>' in row
    passbook = f"/households/{county.accounts['HP'].id}"
    assert f'href="{passbook}"' in row and client.get(passbook).status_code == 200  # a recorder reads the entry
    session.expire_all()
    assert county.accounts["HP"].balance == 10  # through the ordinary ledger


def test_a_deduction_and_another_village_are_separate_cells(county, auth, client, session):
    auth.login("dk_recorder")
    tap(client, county, "HP", "扣分")
    tap(client, county, "XH", "零事故")
    tap(client, county, "XH", "零非访")
    assert (entries(session, county, "HP"), entries(session, county, "XH")) == (1, 2)
    page = client.get(url(county, township_id=county.cg.id)).get_data(as_text=True)
    assert "-20" in page


def test_last_month_is_dated_in_last_month(county, auth, client, session):
    last = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    auth.login("dk_recorder")
    tap(client, county, "HP", "零事故", month=last)
    tap(client, county, "HP", "零事故")  # this month is another cell
    session.expire_all()
    days = sorted(session.scalars(select(Entry.occurred_on).where(Entry.household_id == county.accounts["HP"].id)))
    assert [d.strftime("%Y-%m") for d in days] == [last, MONTH]
    page = client.get(url(county, township_id=county.cg.id, month=last)).get_data(as_text=True)
    assert page.count('name="tap"') == 2 * 7 - 1


def test_a_refused_tap_is_shown_beside_its_cell(county, auth, client, session):
    county.accounts["HP"].moved_out_on = TODAY  # an account that takes no more entries
    session.commit()
    auth.login("dk_recorder")
    r = tap(client, county, "HP", "零事故")
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    cells = re.findall(r'<td class="cell has-error"[^>]*>(.*?)</td>', page, re.S)
    assert len(cells) == 1 and 'aria-label="和平村 · 零事故"' in cells[0]
    assert "该户已迁出，不能再记分" in cells[0]
    assert entries(session, county, "HP") == 0


def test_a_future_month_or_a_bad_tap_is_refused(county, auth, client, session):
    auth.login("dk_recorder")
    future = f"{TODAY.year + 1}-01"
    assert client.get(url(county, month=future)).status_code == 404
    assert tap(client, county, "HP", "零事故", month=future).status_code == 404
    r = client.post(
        url(county), data={"township_id": county.cg.id, "month": MONTH, "tap": "x-y"}, follow_redirects=True
    )
    assert "引用的记录不存在" in r.get_data(as_text=True)
    assert entries(session, county, "HP") == 0


def test_an_account_of_another_township_is_refused_on_the_page_of_this_one(county, auth, client, session):
    auth.login("dk_recorder")
    # 清风村 is 高沙镇's; posted as from 城关镇's page it is still the scheme's account: recorded
    # only once, in its own cell (the township only chooses the rows shown).
    tap(client, county, "QF", "零事故", township=county.cg)
    tap(client, county, "QF", "零事故")
    assert entries(session, county, "QF") == 1


def test_a_deduction_is_asked_again_before_it_is_recorded(county, auth, client, session):
    auth.login("dk_recorder")
    r = tap(client, county, "HP", "扣分", confirmed=False)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "确认扣分" in page and "和平村" in page and "-20" in page
    assert 'name="confirmed" value="1"' in page
    cell = f"c-{county.accounts['HP'].id}-{county.rules['扣分'].id}"
    assert f"#{cell}" in page  # cancelling goes back to the cell
    assert entries(session, county, "HP") == 0
    r = tap(client, county, "HP", "扣分")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#{cell}")
    assert entries(session, county, "HP") == 1
    assert tap(client, county, "HP", "零事故", confirmed=False).status_code == 302  # a gain: at once
    assert entries(session, county, "HP") == 2


def test_a_recorded_cell_links_to_its_reversal(county, auth, client, session):
    auth.login("dk_admin")
    tap(client, county, "HP", "零事故")
    entry = session.scalar(select(Entry).where(Entry.household_id == county.accounts["HP"].id))
    page = client.get(url(county, township_id=county.cg.id)).get_data(as_text=True)
    assert f'href="/entries/{entry.id}/reverse"' in page
    auth.logout()
    auth.login("dk_reviewer")
    assert client.get(f"/entries/{entry.id}/reverse").status_code == 200
    r = client.post(f"/entries/{entry.id}/reverse", data={"reason": "点错了村"})
    assert r.status_code == 302
    page = client.get(url(county, township_id=county.cg.id)).get_data(as_text=True)
    row = re.search(rf'id="account-{county.accounts["HP"].id}".*?</tr>', page, re.S).group(0)
    assert "/reverse" not in row and '<td class="num total">0</td>' in row  # corrected
