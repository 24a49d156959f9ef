"""A person's account on the one engine, through the API: entries, caps, reversals,
batches, idempotency, redemption and cancellation, each answer naming ``account_id``;
and ``ledger verify`` clean afterwards."""

from app.clock import local_today, quarter_of
from app.redemption import shops as shop_services
from app.scope import Actor
from tests.factories import NOW
from tests.points.test_api import assert_error

TODAY = local_today("Asia/Shanghai")  # the API's today


def entry(account, rule, **extra):
    return {"account_id": account.id, "rule_id": rule.id, "occurred_on": TODAY.isoformat(), **extra}


def balance(api, account) -> int:
    return api.as_("admin").get(f"/accounts/{account.id}").get_json()["balance"]


def ledger_ok(runner):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and "ledger OK" in result.output, result.output


def test_an_entry_for_a_person_by_account_id(volunteers, world, api, runner):
    me = api.as_("tj_recorder")
    r = me.post("/entries", json=entry(volunteers.li, volunteers.rule, note="敬老院"))
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert (e["account_id"], e["household_id"], e["points"], e["status"]) == (
        volunteers.li.id,
        volunteers.li.id,
        5,
        "approved",
    )
    assert e["period"] == quarter_of(TODAY)
    assert me.get(f"/entries/{e['id']}").get_json()["account_id"] == volunteers.li.id
    view = api.as_("tj_village_admin").get(f"/accounts/{volunteers.li.id}").get_json()
    assert (view["balance"], view["period_points"]) == (15, {"quarter": 5, "year": 5})
    passbook = api.as_("tj_resident").get(f"/households/{volunteers.li.id}/entries").get_json()
    assert [(x["kind"], x["points"]) for x in passbook["items"]] == [("rule", 5), ("opening", 10)]
    ledger_ok(runner)


def test_household_id_and_account_id_are_one_field(volunteers, world, api):
    me = api.as_("tj_recorder")
    same = entry(volunteers.li, volunteers.big, household_id=volunteers.li.id)
    assert me.post("/entries", json=same).status_code == 201
    err = assert_error(
        me.post("/entries", json=entry(volunteers.li, volunteers.big, household_id=volunteers.zhao.id)),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"account_id"}
    err = assert_error(
        me.post("/entries", json={"rule_id": volunteers.big.id, "occurred_on": TODAY.isoformat()}),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"household_id"}
    err = assert_error(
        me.post("/entries", json=entry(volunteers.li, volunteers.big, account_id="x")), 422, "validation_error"
    )
    assert set(err["details"]) == {"account_id"}
    assert_error(
        me.post("/entries", json={**entry(volunteers.li, volunteers.big), "account_id": 999_999}), 400, "not_found"
    )
    assert balance(api, volunteers.li) == 40  # the one entry that was right


def test_a_persons_cap_reversal_and_idempotency(volunteers, world, api, runner):
    me = api.as_("tj_recorder")
    key = {"Idempotency-Key": "vol-li-1"}
    first = me.post("/entries", json=entry(volunteers.li, volunteers.rule), headers=key)
    again = me.post("/entries", json=entry(volunteers.li, volunteers.rule), headers=key)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    err = assert_error(me.post("/entries", json=entry(volunteers.li, volunteers.rule)), 409, "cap_reached")
    assert err["details"] == {"cap_count": 1, "used": 1}
    assert me.post("/entries", json=entry(volunteers.zhao, volunteers.rule)).status_code == 201  # a cap is per account
    eid = first.get_json()["id"]
    reviewer = api.as_("tj_reviewer")
    r = reviewer.post(f"/entries/{eid}/reverse", json={"reason": "记错了人"})
    assert r.status_code == 201 and (r.get_json()["kind"], r.get_json()["points"]) == ("reversal", -5)
    assert r.get_json()["account_id"] == volunteers.li.id
    assert_error(reviewer.post(f"/entries/{eid}/reverse", json={"reason": "再撤"}), 409, "already_reversed")
    assert balance(api, volunteers.li) == 10
    assert me.post("/entries", json=entry(volunteers.li, volunteers.rule)).status_code == 201  # the cap freed
    assert_error(api.as_("xf_recorder").post("/entries", json=entry(volunteers.li, volunteers.rule)), 400, "not_found")
    ledger_ok(runner)


def test_a_batch_by_account_ids(volunteers, world, api, runner):
    me = api.as_("tj_recorder")
    tj1 = world.households["tj1"].id
    ids = [volunteers.li.id, volunteers.zhao.id, volunteers.li.id, tj1]
    body = {"rule_id": volunteers.big.id, "account_ids": ids, "occurred_on": TODAY.isoformat()}
    r = me.post("/entries/batch", json=body)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert [(e["account_id"], e["points"]) for e in out["created"]] == [
        (volunteers.li.id, 30),
        (volunteers.zhao.id, 30),
    ]
    assert out["skipped"] == [
        {"household_id": volunteers.li.id, "account_id": volunteers.li.id, "reason": "duplicate"},
        {"household_id": tj1, "account_id": tj1, "reason": "not_found"},  # another scheme's account
    ]
    err = assert_error(me.post("/entries/batch", json={**body, "household_ids": ids[:1]}), 422, "validation_error")
    assert set(err["details"]) == {"account_ids"}
    err = assert_error(me.post("/entries/batch", json={**body, "account_ids": []}), 422, "validation_error")
    assert set(err["details"]) == {"account_ids"}  # named as sent
    assert (balance(api, volunteers.li), balance(api, volunteers.zhao)) == (40, 40)
    ledger_ok(runner)


def sale(volunteers, quantity=1, **who):
    return {"shop_id": volunteers.shop.id, "lines": [{"item_id": volunteers.item.id, "quantity": quantity}], **who}


def test_a_person_redeems_at_its_schemes_shop(volunteers, world, api, runner, app):
    api.as_("tj_recorder").post("/entries", json=entry(volunteers.li, volunteers.big))  # 40 points
    clerk = api.as_("tj_clerk")
    r = clerk.post("/redemptions", json=sale(volunteers, account_id=volunteers.li.id))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["account_id"], body["household_id"], body["total_points"], body["balance_after"]) == (
        volunteers.li.id,
        volunteers.li.id,
        20,
        20,
    )
    assert body["yuan_value"] == 40.0  # the volunteer scheme's 2 yuan a point
    err = assert_error(
        clerk.post("/redemptions", json=sale(volunteers, 2, account_id=volunteers.li.id)), 409, "insufficient_points"
    )
    assert err["details"]["redeemable"] == 20 and err["details"]["needed"] == 40
    token = api.as_("tj_village_admin").get(f"/accounts/{volunteers.li.id}/qr").get_json()["token"]
    by_card = clerk.post("/redemptions", json=sale(volunteers, qr_token=token))
    assert by_card.status_code == 201 and by_card.get_json()["balance_after"] == 0
    r = clerk.post(f"/redemptions/{by_card.get_json()['id']}/cancel", json={"reason": "退货"})
    assert r.status_code == 200 and balance(api, volunteers.li) == 20
    assert_error(
        clerk.post(f"/redemptions/{by_card.get_json()['id']}/cancel", json={"reason": "再退"}), 409, "already_cancelled"
    )
    ledger_ok(runner)


def test_out_of_stock_for_a_person(volunteers, world, api):
    for _ in range(3):
        api.as_("tj_recorder").post("/entries", json=entry(volunteers.zhao, volunteers.big))  # 100 points
    clerk = api.as_("tj_clerk")
    err = assert_error(
        clerk.post("/redemptions", json=sale(volunteers, 4, account_id=volunteers.zhao.id)), 409, "out_of_stock"
    )
    assert err["details"]["item_id"] == volunteers.item.id and err["details"]["stock"] == 3
    assert balance(api, volunteers.zhao) == 100  # nothing charged


def test_a_shop_takes_the_cards_of_its_own_scheme_only(volunteers, world, session, api, app):
    store = shop_services.create_shop(session, Actor(world.users["tj_village_admin"]), world.a.id, "团结村积分超市")
    soap = shop_services.create_item(
        session, Actor(world.admin), store.id, {"name": "肥皂", "price_points": 1, "stock": 9}, now=NOW
    )
    session.commit()
    admin, clerk = api.as_("tj_village_admin"), api.as_("tj_clerk")
    tj1 = world.households["tj1"].id
    household_card = admin.get(f"/accounts/{tj1}/qr").get_json()["token"]
    person_card = admin.get(f"/accounts/{volunteers.li.id}/qr").get_json()["token"]
    assert_error(clerk.post("/redemptions", json=sale(volunteers, qr_token=household_card)), 400, "invalid_qr")
    assert_error(clerk.post("/redemptions", json=sale(volunteers, account_id=tj1)), 400, "not_found")
    at_store = {"shop_id": store.id, "lines": [{"item_id": soap.id, "quantity": 1}]}
    assert_error(clerk.post("/redemptions", json={**at_store, "qr_token": person_card}), 400, "invalid_qr")
    assert_error(clerk.post("/redemptions", json={**at_store, "account_id": volunteers.li.id}), 400, "not_found")
    err = assert_error(
        clerk.post("/redemptions", json=sale(volunteers, account_id=volunteers.li.id, household_id=tj1)),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"account_id"}
    assert_error(
        api.as_("xf_clerk").post("/redemptions", json=sale(volunteers, qr_token=person_card)), 400, "not_found"
    )


def test_an_objection_about_a_persons_entry_names_the_account(volunteers, world, api):
    e = api.as_("tj_recorder").post("/entries", json=entry(volunteers.zhao, volunteers.big)).get_json()
    r = api.as_("tj_reviewer").post("/objections", json={"entry_id": e["id"], "reason": "并未参加"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["account_id"] == r.get_json()["household_id"] == volunteers.zhao.id


def test_the_objection_page_of_a_village_accounts_entry_looks_up_no_village(world, session, api, auth, client, county):
    import warnings

    from sqlalchemy.exc import SAWarning

    from app.points import rules as rulebook
    from tests.county.conftest import village_accounts, village_scheme

    dk = Actor(county.users["dk_admin"])
    projects = village_scheme(session, dk, county.county)
    values = {"code": "ZERO-1", "name": "零事故", "category": "六零目标", "points": 10}
    zero = rulebook.create_rule(session, dk, None, values, scheme_id=projects.id)
    session.commit()
    hp = village_accounts(session, projects)["HP"]
    e = api.as_("dk_recorder").post("/entries", json=entry(hp, zero)).get_json()
    auth.login("dk_reviewer")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)  # no lookup of a village by a NULL key
        r = client.get(f"/objections/new?entry_id={e['id']}")
    assert r.status_code == 200, r.status_code


def test_a_county_schemes_worker_scored_by_the_countys_recorder(world, session, api, runner, county):
    from app.points import rules as rulebook
    from tests.accounts.conftest import person, person_scheme

    dk = Actor(county.users["dk_admin"])
    grid = person_scheme(session, dk, {"region_id": county.county.id}, "网格员积分")
    patrol = rulebook.create_rule(
        session, dk, None, {"code": "GRID-1", "name": "巡查", "category": "志愿服务", "points": 3}, scheme_id=grid.id
    )
    worker = person(session, dk, grid, "G-1", "网格员甲", household_id=county.households["hp1"].id)
    session.commit()
    me = api.as_("dk_recorder")
    r = me.post("/entries", json=entry(worker, patrol))
    assert r.status_code == 201 and r.get_json()["account_id"] == worker.id
    body = {"rule_id": patrol.id, "account_ids": [worker.id], "occurred_on": TODAY.isoformat()}
    r = me.post("/entries/batch", json=body)
    assert r.status_code == 201 and [e["account_id"] for e in r.get_json()["created"]] == [worker.id]
    assert balance(api, worker) == 16
    # A township's recorder below the county does not run the county's scheme.
    assert_error(api.as_("cg_recorder").post("/entries", json=entry(worker, patrol)), 400, "not_found")
    assert_error(api.as_("cg_recorder").post("/entries/batch", json=body), 400, "not_found")
    ledger_ok(runner)


def test_a_resident_reads_the_redemptions_of_the_person_linked_to_it(volunteers, world, api):
    api.as_("tj_recorder").post("/entries", json=entry(volunteers.li, volunteers.big))
    clerk = api.as_("tj_clerk")
    mine = clerk.post("/redemptions", json=sale(volunteers, account_id=volunteers.li.id)).get_json()
    api.as_("tj_recorder").post("/entries", json=entry(volunteers.zhao, volunteers.big))
    other = clerk.post("/redemptions", json=sale(volunteers, account_id=volunteers.zhao.id)).get_json()
    me = api.as_("tj_resident")
    listed = me.get(f"/redemptions?account_id={volunteers.li.id}").get_json()
    assert [r["id"] for r in listed["items"]] == [mine["id"]] and listed["items"][0]["account_id"] == volunteers.li.id
    assert me.get(f"/redemptions/{mine['id']}").status_code == 200
    assert_error(me.get(f"/redemptions/{other['id']}"), 404, "not_found")
    assert_error(me.get(f"/redemptions?account_id={volunteers.zhao.id}"), 404, "not_found")
    assert me.get("/redemptions").get_json()["total"] == 0  # its household's own: none
    err = assert_error(
        me.get(f"/redemptions?account_id={volunteers.li.id}&household_id={world.households['tj1'].id}"),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"account_id"}
    assert_error(api.as_("xf_resident").get(f"/redemptions/{mine['id']}"), 404, "not_found")


def upload_photo(api, username, village_id) -> str:
    import io

    from tests.test_scope_matrix import png

    r = api.as_(username).post(
        "/evidence",
        data={"village_id": str(village_id), "file": (io.BytesIO(png()), "photo.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_rule_asking_for_a_photo_works_for_every_kind_of_account(volunteers, world, session, api, runner, county):
    """A photo belongs to a village: to a volunteer's (its home village), to a village's
    own account in a county's scheme, and to an event's village for a batch."""
    from app.points import rules as rulebook
    from tests.county.conftest import village_accounts, village_scheme

    boss = Actor(world.users["tj_village_admin"])
    values = {"code": "VOL-PIC", "name": "清扫", "category": "志愿服务", "points": 2, "requires_evidence": True}
    sweep = rulebook.create_rule(session, boss, None, values, scheme_id=volunteers.scheme.id)
    dk = Actor(county.users["dk_admin"])
    projects = village_scheme(session, dk, county.county)
    values = {"code": "ZERO-1", "name": "零事故", "category": "六零目标", "points": 10, "requires_evidence": True}
    zero = rulebook.create_rule(session, dk, None, values, scheme_id=projects.id)
    session.commit()
    hp = village_accounts(session, projects)["HP"]
    me = api.as_("tj_recorder")
    assert_error(me.post("/entries", json=entry(volunteers.li, sweep)), 409, "evidence_required")
    tj_photo = upload_photo(api, "tj_recorder", world.a.id)
    r = me.post("/entries", json=entry(volunteers.li, sweep, evidence_id=tj_photo))
    assert r.status_code == 201 and r.get_json()["evidence_id"] == tj_photo, r.get_json()
    batch = {"rule_id": sweep.id, "account_ids": [volunteers.zhao.id], "occurred_on": TODAY.isoformat()}
    r = me.post("/entries/batch", json={**batch, "evidence_id": tj_photo})
    assert r.status_code == 201 and len(r.get_json()["created"]) == 1, r.get_json()
    xf_photo = upload_photo(api, "xf_recorder", world.b.id)
    assert_error(me.post("/entries", json=entry(volunteers.zhao, sweep, evidence_id=xf_photo)), 400, "not_found")
    # A village's account in the county's scheme: a photo of that village, not another's.
    county_recorder = api.as_("dk_recorder")
    hp_photo = upload_photo(api, "dk_recorder", county.hp.id)
    r = county_recorder.post("/entries", json=entry(hp, zero, evidence_id=hp_photo))
    assert r.status_code == 201, r.get_json()
    assert_error(county_recorder.post("/entries", json=entry(hp, zero, evidence_id=tj_photo)), 400, "not_found")
    ledger_ok(runner)


def test_the_admins_list_of_households_holds_households_only(volunteers, world, api):
    """Every account shares the households' table; the list of households is theirs."""
    items = api.as_("admin").get("/households?per_page=500").get_json()["items"]
    assert {i["id"] for i in items} == {h.id for h in world.households.values()}
    assert volunteers.li.id not in {i["id"] for i in items}
