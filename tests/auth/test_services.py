"""Users, passwords and tokens without HTTP."""

from datetime import datetime

import pytest

from app.auth import services
from app.auth.models import User
from app.errors import BadReference, Forbidden, InvalidCredentials, NotFound, ValidationFailed
from app.scope import Actor
from tests.factories import PASSWORD

NOW = datetime(2026, 11, 20, 2, 0)
SECRET = "test-secret"


def values(**extra):
    return {"username": "someone", "password": "long-enough", "roles": ["recorder"], **extra}


def test_authenticate_returns_the_user_and_stamps_the_login(world, session):
    user = services.authenticate(session, " tj_recorder ", PASSWORD, now=NOW)
    assert user.id == world.users["tj_recorder"].id
    assert user.last_login_at == NOW


def test_authenticate_ignores_the_case_a_phone_keyboard_adds(world, session):
    assert services.authenticate(session, "Tj_Recorder", PASSWORD, now=NOW).id == world.users["tj_recorder"].id


def test_a_username_differing_only_in_case_is_taken(world, session):
    with pytest.raises(ValidationFailed) as exc:
        services.create_user(session, None, values(username="TJ_RECORDER"))
    assert "username" in exc.value.details


def test_names_that_differ_only_in_case_need_the_exact_spelling(world, session):
    """Older data could hold both: neither is guessed."""
    session.add(User(username="TJ_recorder", password_hash=world.users["tj_recorder"].password_hash))
    session.flush()
    assert services.authenticate(session, "TJ_recorder", PASSWORD, now=NOW).username == "TJ_recorder"
    assert services.authenticate(session, "tj_recorder", PASSWORD, now=NOW).username == "tj_recorder"
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, "Tj_Recorder", PASSWORD, now=NOW)


@pytest.mark.parametrize("username, password", [("tj_recorder", "nope"), ("ghost", PASSWORD), (None, None)])
def test_authenticate_refuses(world, session, username, password):
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, username, password, now=NOW)


def test_authenticate_refuses_a_deactivated_user(world, session):
    services.set_active(session, world.actor("tj_village_admin"), world.users["tj_recorder"].id, False)
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, "tj_recorder", PASSWORD, now=NOW)


def test_token_round_trip_and_version(world, session):
    user = world.users["tj_reviewer"]
    token, expires = services.issue_token(user, SECRET, 3600, NOW)
    assert (expires - NOW).total_seconds() == 3600
    assert services.user_from_token(session, token, SECRET, 3600) is user
    assert services.user_from_token(session, token, "other-secret", 3600) is None
    assert services.user_from_token(session, token + "x", SECRET, 3600) is None
    services.set_password(session, world.actor("admin"), user, "brand-new-pass")
    assert services.user_from_token(session, token, SECRET, 3600) is None


def test_set_password_checks_length(world, session):
    with pytest.raises(ValidationFailed) as exc:
        services.set_password(session, world.actor("admin"), world.users["tj_clerk"], "short")
    assert "password" in exc.value.details


def test_village_admin_manages_only_its_own_users(world, session):
    me = world.actor("tj_village_admin")
    assert services.set_active(session, me, world.users["tj_clerk"].id, False).active is False
    with pytest.raises(NotFound):
        services.set_active(session, me, world.users["xf_clerk"].id, False)
    with pytest.raises(NotFound):
        services.set_active(session, me, world.users["admin"].id, False)


def test_deactivation_bumps_the_token_version_once(world, session):
    user = world.users["tj_clerk"]
    before = user.token_version
    services.set_active(session, world.actor("admin"), user.id, False)
    services.set_active(session, world.actor("admin"), user.id, False)
    assert user.token_version == before + 1


def test_create_user_from_the_command_line_is_trusted(world, session):
    u = services.create_user(session, None, values(username="root2", roles=["admin"]))
    assert u.is_admin and u.village_id is None
    assert u.check_password("long-enough")


def test_create_user_scope(world, session):
    a_admin = world.actor("tj_village_admin")
    u = services.create_user(session, a_admin, values(village_id=world.a.id))
    assert u.village_id == world.a.id and u.roles == ["recorder"]
    with pytest.raises(BadReference):  # another village is, to it, one that does not exist
        services.create_user(session, a_admin, values(username="x2", village_id=world.b.id))
    with pytest.raises(Forbidden):
        services.create_user(session, a_admin, values(username="x3", roles=["admin"]))
    with pytest.raises(Forbidden):
        services.create_user(session, Actor(world.users["tj_recorder"]), values(username="x4", village_id=world.a.id))


def test_validate_user_names_every_bad_field(world, session):
    with pytest.raises(ValidationFailed) as exc:
        services.validate_user(session, {"username": "a", "password": "1", "roles": ["king"]})
    assert set(exc.value.details) == {"username", "password", "roles"}
    with pytest.raises(ValidationFailed) as exc:
        services.validate_user(session, {"username": "a", "password": "1", "roles": ["recorder"]})
    assert set(exc.value.details) == {"username", "password", "village_id"}


def test_validate_user_refuses_a_reference_to_nothing(world, session):
    with pytest.raises(BadReference) as exc:
        services.validate_user(session, {"username": "abc", "password": "1", "roles": ["king"], "village_id": 10**6})
    assert exc.value.details == {"field": "village_id"}


def test_roles_are_stored_in_a_fixed_order(world, session):
    u = services.create_user(session, None, values(roles=["reviewer", "recorder", "reviewer"], village_id=world.a.id))
    session.commit()
    session.expire_all()
    assert session.get(User, u.id).roles == ["recorder", "reviewer"]


def test_resident_sees_only_its_household(world):
    resident = world.users["tj_resident"]
    assert resident.can_see_household(world.households["tj1"])
    assert not resident.can_see_household(world.households["tj2"])
    assert not resident.can_see_village(world.a.id)
    official = world.users["tj_recorder"]
    assert official.can_see_household(world.households["tj2"])
    assert not official.can_see_household(world.households["xf1"])
