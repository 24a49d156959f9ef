"""The races of households (cap, overspend, oversell, one key) for person accounts, and
overspend and oversell for village accounts (a shop of a township's village scheme), with
the households' machinery: threads on the services, gunicorn for the counter."""

from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.households.models import Household
from app.points import services
from app.points.models import Entry
from app.points.proof import verify
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption
from app.regions.models import Region
from app.scope import Actor
from app.villages.services import create_village
from tests.accounts.conftest import person
from tests.county.conftest import village_accounts, village_scheme
from tests.factories import NOW
from tests.points.test_concurrency import THREADS, TODAY, as_actor, outcome, release, run_threads
from tests.redemption.test_concurrency import proof, serve  # noqa: F401  (serve: a fixture)
from tests.redemption.test_services import give_points


def test_a_persons_cap_holds_under_concurrent_recording(app, world, session, volunteers):
    from app.points import rules as rulebook

    rule = rulebook.create_rule(
        session,
        Actor(world.users["tj_village_admin"]),
        None,
        {"code": "VOL-CAP", "name": "值班", "category": "志愿服务", "points": 2, "cap_period": "day", "cap_count": 5},
        scheme_id=volunteers.scheme.id,
    )
    aid, rid = volunteers.li.id, rule.id
    release(session)

    def work(i):
        return outcome(
            lambda: services.record_entry(
                db.session,
                as_actor("tj_recorder"),
                household_id=aid,
                rule_id=rid,
                occurred_on=TODAY,
                today=TODAY,
                now=NOW,
            )
        )

    results = run_threads(app, THREADS, work)
    assert sorted(results) == ["cap_reached"] * (THREADS - 5) + ["ok"] * 5, results
    assert session.scalar(select(func.count(Entry.id)).where(Entry.rule_id == rid)) == 5
    assert session.get(Household, aid).balance == 20
    assert verify(session) == []


@dataclass
class Till:
    """A shop of a scheme whose accounts are not households, with rice at 20 points (3
    in stock), and ``accounts(n)``: n accounts of the scheme holding ``balance`` each."""

    shop_id: int
    rice_id: int
    accounts: object


@pytest.fixture(params=["person", "village"])
def till(request, world, session, volunteers) -> Till:
    """The 爱心超市 of 团结村's volunteers (a person's account opens with 10 points), or
    a shop at 团结村 of 上木拉乡's village scheme (a village's account opens with none;
    one account per village below the township, so a buyer more is a village more)."""
    if request.param == "person":
        boss = Actor(world.users["tj_village_admin"])

        def people(n, balance):
            made = [volunteers.li] + [
                person(session, boss, volunteers.scheme, f"R-{i:03d}", f"志愿者{i}") for i in range(n - 1)
            ]
            for p in made:
                give_points(session, world, p, balance - session.get(Household, p.id).balance)
            return [p.id for p in made]

        return Till(volunteers.shop.id, volunteers.item.id, people)
    admin = Actor(world.admin)
    region = session.get(Region, world.a.region_id)  # 上木拉乡
    scheme = village_scheme(session, admin, region, name="上木拉乡积分换项目")
    shop = shop_services.create_shop(session, admin, world.a.id, "乡爱心超市", scheme_id=scheme.id)
    rice = shop_services.create_item(session, admin, shop.id, {"name": "大米", "price_points": 20, "stock": 3}, now=NOW)
    session.commit()

    def villages(n, balance):
        for i in range(n - len(village_accounts(session, scheme))):
            create_village(session, admin, {"name": f"新村{i}", "code": f"NV{i:03d}", "region_id": region.id})
        session.commit()
        made = sorted(village_accounts(session, scheme).values(), key=lambda a: a.home_village_id != world.a.id)
        for account in made[:n]:
            give_points(session, world, account, balance - account.balance)
        return [a.id for a in made[:n]]

    return Till(shop.id, rice.id, villages)


def test_one_account_ten_tills(world, session, serve, till):  # noqa: F811
    """Overspend: ten sales at once of one account holding four bags' worth."""
    (aid,) = till.accounts(1, 90)  # no floor: four bags of rice at 20
    shop_services.receive_stock(session, Actor(world.admin), till.rice_id, 47, reason="receipt", note="", now=NOW)
    session.commit()
    shop_id, rice_id = till.shop_id, till.rice_id

    server = serve()
    token = server.login("tj_clerk")
    body = {"shop_id": shop_id, "account_id": aid, "lines": [{"item_id": rice_id, "quantity": 1}]}
    results = server.race(token, [body] * 10)

    assert Counter(status for status, _ in results) == {201: 4, 409: 6}, results
    sold = sorted((b for s, b in results if s == 201), key=lambda b: b["id"])
    assert [b["balance_after"] for b in sold] == [70, 50, 30, 10]
    assert {b["account_id"] for b in sold} == {aid}
    refused = [b["error"] for s, b in results if s == 409]
    assert {(e["code"], e["details"]["redeemable"], e["details"]["needed"]) for e in refused} == {
        ("insufficient_points", 10, 20)
    }
    session.expire_all()
    assert session.get(Household, aid).balance == 10
    assert session.get(Item, rice_id).stock == 46
    proof(session)


def test_many_accounts_three_bags_of_rice(world, session, serve, till):  # noqa: F811
    """Oversell: one bag each for many accounts at once, three on the shelf."""
    buyers_count = 12  # a village scheme's buyers are villages: fewer than 40 people
    ids = till.accounts(buyers_count, 20)  # one bag each
    shop_id, rice_id = till.shop_id, till.rice_id

    server = serve()
    token = server.login("tj_clerk")
    bodies = [{"shop_id": shop_id, "account_id": aid, "lines": [{"item_id": rice_id, "quantity": 1}]} for aid in ids]
    results = server.race(token, bodies)

    assert Counter(status for status, _ in results) == {201: 3, 409: buyers_count - 3}, results
    refused = [body["error"] for status, body in results if status == 409]
    assert {(e["code"], e["details"]["item_id"], e["details"]["stock"]) for e in refused} == {
        ("out_of_stock", rice_id, 0)
    }
    buyers = {body["account_id"] for status, body in results if status == 201}
    session.expire_all()
    assert session.get(Item, rice_id).stock == 0
    assert session.scalar(select(func.count(Redemption.id))) == 3
    balances = dict(session.execute(select(Household.id, Household.balance).where(Household.id.in_(ids))).all())
    assert sorted(balances.values()) == [0] * 3 + [20] * (buyers_count - 3)
    assert {aid for aid, b in balances.items() if b == 0} == buyers
    proof(session)


def test_one_key_pressed_eight_times_for_a_person(world, session, serve, volunteers):  # noqa: F811
    give_points(session, world, volunteers.zhao, 90)  # 100
    shop_id, rice_id, aid = volunteers.shop.id, volunteers.item.id, volunteers.zhao.id

    server = serve()
    token = server.login("tj_clerk")
    body = {"shop_id": shop_id, "account_id": aid, "lines": [{"item_id": rice_id, "quantity": 2}]}
    results = server.race(token, [body] * 8, headers={"Idempotency-Key": "love-till-1"})

    assert [status for status, _ in results] == [201] * 8, results
    assert {b["id"] for _, b in results} == {results[0][1]["id"]} and results[0][1]["balance_after"] == 60
    session.expire_all()
    assert session.get(Household, aid).balance == 60
    assert session.get(Item, rice_id).stock == 1
    assert session.scalar(select(func.count(Redemption.id))) == 1
    proof(session)
