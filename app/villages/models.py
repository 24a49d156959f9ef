from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db
from app.regions.models import Region  # noqa: F401  (the table regions.id names)

# What ``PUT /villages/{id}/scheme`` reads and writes: the settings of the village's
# household scheme (``app.schemes``), which the village's attributes of these names read
# and write through.
SCHEME_FIELDS = ("base_points", "redeem_floor", "yuan_per_point", "approval_required", "notice_days", "annual_reset")


def _through_scheme(name: str) -> property:
    def get(village):
        return getattr(village.household_scheme, name)

    def set_(village, value):
        setattr(village.household_scheme, name, value)

    return property(get, set_, doc=f"The household scheme's ``{name}``.")


class Village(db.Model):
    """A village. Its points scheme is its household scheme (``household_scheme``)."""

    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(30), unique=True)
    township: Mapped[str] = mapped_column(String(100), index=True)
    # The township region the village hangs under; ``township`` is that region's name.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # Made with the village (``villages.services.create_village``); by name, as schemes
    # sit above villages.
    household_scheme = relationship(
        "Scheme",
        primaryjoin="and_(Scheme.village_id == Village.id, Scheme.account_kind == 'household')",
        uselist=False,
        viewonly=True,
    )

    SCHEME_FIELDS = SCHEME_FIELDS
    base_points = _through_scheme("base_points")
    redeem_floor = _through_scheme("redeem_floor")
    yuan_per_point = _through_scheme("yuan_per_point")
    approval_required = _through_scheme("approval_required")
    notice_days = _through_scheme("notice_days")
    annual_reset = _through_scheme("annual_reset")

    def scheme(self) -> dict:
        return {f: getattr(self, f) for f in SCHEME_FIELDS}

    def __repr__(self) -> str:
        return f"<Village {self.code}>"
