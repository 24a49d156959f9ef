"""The command line of the contract: ``users create``, ``demo``, ``ledger verify``."""

from sqlalchemy import func, select, text

from app.auth.models import User
from app.extensions import db


def invoke(runner, *args):
    result = runner.invoke(args=list(args))
    return result.exit_code, result.output


def table_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(table))
            for name, table in db.metadata.tables.items()
        }


def test_users_create(app, runner, client):
    code, output = invoke(runner, "users", "create", "root", "--role", "admin", "--password", "long-enough")
    assert code == 0, output
    assert "created user root" in output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "root"))
        assert user.roles == ["admin"] and user.village_id is None
    r = client.post("/api/v1/auth/token", json={"username": "root", "password": "long-enough"})
    assert r.status_code == 200 and r.get_json()["user"]["roles"] == ["admin"]


def test_users_create_with_several_roles_in_a_village(app, runner):
    invoke(runner, "users", "create", "root", "--role", "admin", "--password", "long-enough")
    with app.app_context():
        from app.scope import Actor
        from app.villages.services import create_village

        root = db.session.scalar(select(User).where(User.username == "root"))
        village = create_village(db.session, Actor(root), {"name": "团结村", "code": "TJ", "township": "乡"})
        db.session.commit()
        village_id = village.id
    code, output = invoke(
        runner,
        "users",
        "create",
        "li_si",
        "--role",
        "recorder",
        "--role",
        "reviewer",
        "--password",
        "long-enough",
        "--village-id",
        str(village_id),
    )
    assert code == 0, output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "li_si"))
        assert (user.roles, user.village_id) == (["recorder", "reviewer"], village_id)


def test_users_create_refuses_a_bad_role(app, runner):
    code, output = invoke(runner, "users", "create", "bob", "--role", "mayor", "--password", "long-enough")
    assert code != 0
    assert "roles" in output
    assert table_counts(app)["users"] == 0


def test_users_create_refuses_bad_values(app, runner):
    code, output = invoke(runner, "users", "create", "bob", "--role", "admin", "--password", "short")
    assert code != 0 and "password" in output
    code, output = invoke(runner, "users", "create", "bob", "--role", "recorder", "--password", "long-enough")
    assert code != 0 and "village_id" in output
    code, output = invoke(runner, "users", "create", "bob", "--password", "long-enough")
    assert code != 0 and "--role" in output
    invoke(runner, "users", "create", "bob", "--role", "admin", "--password", "long-enough")
    code, output = invoke(runner, "users", "create", "bob", "--role", "admin", "--password", "long-enough")
    assert code != 0 and "username" in output
    assert table_counts(app)["users"] == 1


def test_users_create_names_a_village_that_does_not_exist(app, runner):
    code, output = invoke(
        runner, "users", "create", "bob", "--role", "recorder", "--password", "long-enough", "--village-id", "9999"
    )
    assert code == 2
    assert "village_id" in output and "v; i" not in output  # the message, not the field's letters
    assert table_counts(app)["users"] == 0


def test_demo_loads_once(app, runner):
    code, output = invoke(runner, "demo")
    assert code == 0, output
    assert "demo loaded" in output
    first = table_counts(app)
    assert first["villages"] == 6  # 团结村 and 幸福村 with households, four more to score
    # the households, the volunteers (person accounts) and each village's account in the
    # county's scheme
    assert first["households"] == 60 + 5 + 6
    assert first["entries"] > 60  # openings and a quarter of entries
    code, output = invoke(runner, "demo")
    assert code == 0, output
    assert "nothing changed" in output
    assert table_counts(app) == first
    code, output = invoke(runner, "ledger", "verify")
    assert code == 0, output


def test_ledger_verify_on_an_empty_database(app, runner):
    code, output = invoke(runner, "ledger", "verify")
    assert code == 0
    assert "ledger OK" in output


def test_ledger_verify_names_a_tampered_household(world, session, runner):
    hid = world.households["xf2"].id
    session.execute(text("UPDATE households SET balance = 123456 WHERE id = :id"), {"id": hid})
    session.commit()
    code, output = invoke(runner, "ledger", "verify")
    assert code == 1
    assert f"MISMATCH household {hid}: balance 123456 but ledger says 100" in output
    assert "1 problem(s) found" in output


def test_users_create_a_region_official(app, runner, session, world):
    from app.regions.services import create_region
    from app.scope import Actor

    county = create_region(session, Actor(world.admin), {"name": "洞口县", "code": "DK", "level": "county"})
    session.commit()
    args = ("users", "create", "dk_one", "--role", "reviewer", "--password", "long-enough", "--region-id")
    code, output = invoke(runner, *args, str(county.id))
    assert code == 0, output
    user = session.scalar(select(User).where(User.username == "dk_one"))
    assert (user.region_id, user.village_id, user.roles) == (county.id, None, ["reviewer"])
    code, output = invoke(runner, *args[:2], "dk_two", *args[3:], "9999")
    assert code == 2 and "region_id" in output
