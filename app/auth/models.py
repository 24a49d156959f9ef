from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, object_session
from werkzeug.security import check_password_hash, generate_password_hash

from app.clock import utcnow
from app.extensions import db
from app.scope import OFFICIAL_ROLES

ROLES = ("admin", "village_admin", "recorder", "reviewer", "clerk", "resident")
# Tests lower the cost; production keeps werkzeug's default (scrypt).
PASSWORD_METHOD = "scrypt"
# Roles that may act for a region (every village below it) instead of a village.
REGION_ROLES = ("admin", "reviewer", "recorder")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(50), default="")
    roles_text: Mapped[str] = mapped_column("roles", String(200), default="")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    # A region's official acts in every village below the region (and nowhere else).
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or deactivation: outstanding API tokens and browser
    # sessions (which hold it through ``get_id``) stop working.
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_text.split() if r]

    @roles.setter
    def roles(self, values) -> None:
        self.roles_text = " ".join(r for r in ROLES if r in set(values))

    def has_role(self, *roles: str) -> bool:
        mine = set(self.roles)
        return "admin" in mine or bool(mine.intersection(roles))

    @property
    def is_admin(self) -> bool:
        """The deployment's administrator: an admin not bound to a region."""
        return "admin" in self.roles and self.region_id is None

    def region_village_ids(self) -> frozenset[int]:
        """The villages below the user's region (none without one), read once per
        transaction however many checks ask."""
        if self.region_id is None:
            return frozenset()
        from app.regions.services import village_ids_below

        return village_ids_below(object_session(self), self.region_id)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """What a login session keeps (Flask-Login): the id and the token version, so a
        session ends with the password that opened it (``auth.services.user_from_session``)."""
        return f"{self.id}:{self.token_version}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def can_see_village(self, village_id: int | None) -> bool:
        """Officials see their own village; admins see all. Residents see no village data."""
        if self.is_admin:
            return True
        if village_id is None:
            return False
        if self.region_id is not None:
            return bool(set(self.roles) & set(REGION_ROLES)) and village_id in self.region_village_ids()
        return self.village_id == village_id and bool(set(self.roles) & set(OFFICIAL_ROLES))

    def can_see_household(self, household) -> bool:
        """An account is seen by the officials of its scheme (a village's or a region's)
        and by the resident of the household it is, or is linked to (a person's account)."""
        scheme = household.scheme
        if scheme.village_id is not None:
            if self.can_see_village(scheme.village_id):
                return True
        elif self.is_admin or (self.region_id is not None and set(self.roles) & set(REGION_ROLES)):
            from app.regions.services import can_see_region

            if can_see_region(object_session(self), self, scheme.region_id):
                return True
        mine = self.household_id
        return mine is not None and mine in (household.id, household.linked_household_id)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class RateLimitCounter(db.Model):
    """A login-throttling counter that every gunicorn worker shares (``auth.throttle``)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # Unix time, as the limits library counts
