"""The races of households (cap, overspend, oversell, one key) for person accounts, with
the households' machinery: threads on the services, gunicorn for the counter."""

from collections import Counter

from sqlalchemy import func, select

from app.extensions import db
from app.households.models import Household
from app.points import services
from app.points.models import Entry
from app.points.proof import verify
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption
from app.scope import Actor
from tests.accounts.conftest import person
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


def test_one_person_ten_tills(world, session, serve, volunteers):  # noqa: F811
    li = volunteers.li
    give_points(session, world, li, 80)  # 90, no floor: four bags of rice at 20
    shop_services.receive_stock(session, Actor(world.admin), volunteers.item.id, 47, reason="receipt", note="", now=NOW)
    session.commit()
    aid, shop_id, rice_id = li.id, volunteers.shop.id, volunteers.item.id

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


def test_forty_volunteers_three_bags_of_rice(world, session, serve, volunteers):  # noqa: F811
    boss = Actor(world.users["tj_village_admin"])
    people = [person(session, boss, volunteers.scheme, f"R-{i:03d}", f"志愿者{i}") for i in range(40)]
    for p in people:
        give_points(session, world, p, 10)  # 20 each: one bag
    shop_id, rice_id, ids = volunteers.shop.id, volunteers.item.id, [p.id for p in people]

    server = serve()
    token = server.login("tj_clerk")
    bodies = [{"shop_id": shop_id, "account_id": aid, "lines": [{"item_id": rice_id, "quantity": 1}]} for aid in ids]
    results = server.race(token, bodies)

    assert Counter(status for status, _ in results) == {201: 3, 409: 37}, results
    refused = [body["error"] for status, body in results if status == 409]
    assert {(e["code"], e["details"]["item_id"], e["details"]["stock"]) for e in refused} == {
        ("out_of_stock", rice_id, 0)
    }
    buyers = {body["account_id"] for status, body in results if status == 201}
    session.expire_all()
    assert session.get(Item, rice_id).stock == 0
    assert session.scalar(select(func.count(Redemption.id))) == 3
    balances = dict(session.execute(select(Household.id, Household.balance).where(Household.id.in_(ids))).all())
    assert sorted(balances.values()) == [0] * 3 + [20] * 37
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
