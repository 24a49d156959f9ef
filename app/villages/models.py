from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db
from app.regions.models import Region  # noqa: F401  (the table regions.id names)


class Village(db.Model):
    """A village and its points scheme (one scheme per village)."""

    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(30), unique=True)
    township: Mapped[str] = mapped_column(String(100), index=True)
    # The township region the village hangs under; ``township`` is that region's name.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    base_points: Mapped[int] = mapped_column(Integer, default=100)
    redeem_floor: Mapped[int] = mapped_column(Integer, default=100)
    yuan_per_point: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False), default=1.0)
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_days: Mapped[int] = mapped_column(Integer, default=7)
    annual_reset: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    SCHEME_FIELDS = (
        "base_points",
        "redeem_floor",
        "yuan_per_point",
        "approval_required",
        "notice_days",
        "annual_reset",
    )

    def scheme(self) -> dict:
        return {f: getattr(self, f) for f in self.SCHEME_FIELDS}

    def __repr__(self) -> str:
        return f"<Village {self.code}>"
