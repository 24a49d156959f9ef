"""Users, passwords and API tokens."""

import re
from datetime import datetime, timedelta
from functools import cache, lru_cache

from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit import services as audit
from app.auth import models
from app.auth.models import REGION_ROLES, ROLES, User
from app.errors import BadReference, Forbidden, InvalidCredentials, NotFound, ValidationFailed
from app.households.models import Household
from app.regions.models import Region
from app.regions.services import region_ids_below
from app.scope import OFFICIAL_ROLES, Actor, in_villages
from app.villages.models import Village

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,40}$")
MIN_PASSWORD = 8


@cache
def _dummy_hash() -> str:
    """Checked when the username is unknown, so both paths take as long."""
    return generate_password_hash("not-a-password", method=models.PASSWORD_METHOD)


def authenticate(session: Session, username: str, password: str, *, now: datetime) -> User:
    """The user whose name this is, whatever its case: a phone's keyboard capitalises the
    first letter (``Tj_recorder``). Names are unique ignoring case; were two older ones
    not, only the exact spelling finds either."""
    name = (username or "").strip()
    found = session.scalars(select(User).where(func.lower(User.username) == name.lower())).all()
    user = next((u for u in found if u.username == name), found[0] if len(found) == 1 else None)
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        raise InvalidCredentials()
    if not user.check_password(password or "") or not user.active:
        raise InvalidCredentials()
    user.last_login_at = now
    return user


@lru_cache(maxsize=4)  # built on every API request otherwise
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="api-token")


def issue_token(user: User, secret: str, max_age: int, now: datetime) -> tuple[str, datetime]:
    token = _serializer(secret).dumps({"u": user.id, "v": user.token_version})
    return token, now + timedelta(seconds=max_age)


def user_from_token(session: Session, token: str, secret: str, max_age: int) -> User | None:
    try:
        data = _serializer(secret).loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or not user.active or user.token_version != data.get("v"):
        return None
    return user


def user_from_session(session: Session, session_id: str) -> User | None:
    """The user a browser session names (``User.get_id``): none once its password was
    changed or reset or the account deactivated, as for an API token; a session from
    before the version was kept ("5") too, so every old session ends."""
    user_id, _, version = str(session_id).partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = session.get(User, int(user_id)) if int(user_id) <= 2**31 - 1 else None
    if user is None or not user.active or user.token_version != int(version):
        return None
    return user


def validate_user(session: Session, values: dict) -> dict:
    errors: dict[str, list[str]] = {}
    username = str(values.get("username") or "").strip()
    if not USERNAME_RE.match(username):
        errors["username"] = [str(_l("用户名须为 3–40 位字母、数字或 _.-"))]
    elif session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        errors["username"] = [str(_l("用户名已被使用"))]
    password = values.get("password") or ""
    if len(password) < MIN_PASSWORD:
        errors["password"] = [str(_l("密码至少 %(n)s 位", n=MIN_PASSWORD))]
    roles = values.get("roles") or []
    if not roles or any(r not in ROLES for r in roles):
        errors["roles"] = [str(_l("角色须从 %(r)s 中选择", r=", ".join(ROLES)))]
    # A village that does not exist is a bad reference, 400 as the contract says. So is
    # a household or shop that does not exist or is not the village's, once every field
    # is valid: a form with several mistakes shows them all beside their fields first.
    village_id = values.get("village_id")
    village = session.get(Village, village_id) if isinstance(village_id, int) else None
    if village_id is not None and village is None:
        raise BadReference(field="village_id")
    region_id = values.get("region_id")
    region = session.get(Region, region_id) if isinstance(region_id, int) else None
    if region_id is not None and region is None:
        raise BadReference(field="region_id")
    if region is not None:
        if village is not None:
            errors["region_id"] = [str(_l("所属区域和所属村只能填一项"))]
        elif roles and not set(roles) <= set(REGION_ROLES):
            errors["roles"] = [str(_l("区域账号的角色须从 %(r)s 中选择", r=", ".join(REGION_ROLES)))]
    elif set(roles) & set(OFFICIAL_ROLES + ("resident",)) and village is None:
        errors["village_id"] = [str(_l("村级角色须指定所属村"))]
    household_id = values.get("household_id")
    if "resident" in roles:
        if not isinstance(household_id, int):
            errors["household_id"] = [str(_l("村民账号须关联本村的一户"))]
    elif household_id is not None:
        errors["household_id"] = [str(_l("只有村民账号关联户"))]
    if errors:
        raise ValidationFailed(errors)
    if "resident" in roles:
        household = session.get(Household, household_id)
        if household is None or household.village_id != village.id:
            raise BadReference(field="household_id")
    shop_id = values.get("shop_id")
    if shop_id is not None:
        shops = User.__table__.metadata.tables["shops"]  # by table: auth does not import the shop package
        shop_village = session.execute(select(shops.c.village_id).where(shops.c.id == shop_id)).scalar()
        if shop_village is None or (village is not None and shop_village != village.id):
            raise BadReference(field="shop_id")
    return {
        "username": username,
        "password": password,
        "display_name": str(values.get("display_name") or username).strip()[:50],
        "roles": list(roles),
        "village_id": village.id if village else None,
        "region_id": region.id if region else None,
        "household_id": household_id if "resident" in roles else None,
        "shop_id": values.get("shop_id"),
    }


def create_user(session: Session, actor: Actor | None, values: dict) -> User:
    """Create a user. ``actor`` None is the command line (trusted)."""
    if actor is not None:
        me = actor.user
        if me is None or not me.has_role("village_admin"):
            raise Forbidden()
        if me.region_id is not None:
            _check_region_reach(session, me, values)
        elif not me.is_admin:
            # Any region, or another village, is to a village admin one that does not exist.
            if values.get("region_id") is not None:
                raise BadReference(field="region_id")
            if "admin" in (values.get("roles") or []) or values.get("village_id") is None:
                raise Forbidden()
            if values.get("village_id") != me.village_id:
                raise BadReference(field="village_id")
    values = validate_user(session, values)
    user = User(
        username=values["username"],
        display_name=values["display_name"],
        village_id=values["village_id"],
        region_id=values["region_id"],
        household_id=values["household_id"],
        shop_id=values["shop_id"],
    )
    user.roles = values["roles"]
    user.set_password(values["password"])
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor or Actor(None),
        "user.create",
        village_id=user.village_id,
        target=user,
        summary=f"{user.username} ({' '.join(user.roles)})",
    )
    return user


def _check_region_reach(session: Session, me: User, values: dict) -> None:
    """A region's admin creates users of the villages and regions below its region; any
    other village or region it names is, to it, one that does not exist."""
    village_id, region_id = values.get("village_id"), values.get("region_id")
    if "admin" in (values.get("roles") or []) and region_id is None:
        raise Forbidden()  # an admin of no region is the deployment's: above any region's admin
    if isinstance(village_id, int) and not me.can_see_village(village_id):
        raise BadReference(field="village_id")
    if isinstance(region_id, int) and region_id not in region_ids_below(session, me.region_id):
        raise BadReference(field="region_id")
    if village_id is None and region_id is None:
        raise Forbidden()


def manages(session: Session, me: User, user: User) -> bool:
    """Whether ``me`` may manage ``user``: any for the deployment's administrator; the
    users of its villages and regions for a region's admin; its village's for a village
    admin."""
    if me.is_admin:
        return True
    if me.region_id is not None:
        if user.region_id is not None:
            return user.region_id in region_ids_below(session, me.region_id)
        return user.village_id is not None and me.can_see_village(user.village_id)
    return user.region_id is None and user.village_id is not None and user.village_id == me.village_id


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationFailed({"password": [str(_l("密码至少 %(n)s 位", n=MIN_PASSWORD))]})
    user.set_password(password)
    user.token_version += 1
    audit.record(session, actor, "user.password", village_id=user.village_id, target=user, summary=user.username)


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    me = actor.user
    user = session.get(User, user_id)
    if user is None or not (me.has_role("village_admin") and manages(session, me, user)):
        raise NotFound()
    if user.is_admin and not me.is_admin:
        raise Forbidden()
    if user.active != active:
        user.active = active
        user.token_version += 1
        audit.record(
            session,
            actor,
            "user.activate" if active else "user.deactivate",
            village_id=user.village_id,
            target=user,
            summary=user.username,
        )
    return user


def list_users(village_id: int | frozenset[int] | None, region_ids: frozenset[int] | None = None):
    """Users of a village (or of a region official's villages, and of ``region_ids``)."""
    stmt = select(User).order_by(User.username)
    if region_ids is not None:
        return stmt.where(or_(in_villages(User.village_id, village_id), User.region_id.in_(sorted(region_ids))))
    return stmt.where(in_villages(User.village_id, village_id))


def user_in_scope(session: Session, actor: Actor, user_id) -> User:
    """A user the actor may manage: any for an admin, its village's for a village admin."""
    me = actor.user
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if me is None or not me.has_role("village_admin"):
        raise Forbidden()
    if user is None or not manages(session, me, user):
        raise NotFound()
    if user.is_admin and not me.is_admin:
        raise Forbidden()
    return user


def reset_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    user = user_in_scope(session, actor, user_id)
    set_password(session, actor, user, password)
    session.flush()
    return user
