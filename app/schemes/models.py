from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

ACCOUNT_KINDS = ("household", "person", "village")
CADENCES = ("quarter", "month")
# The standard eight categories (牌坊街's sheet): a new scheme's list unless it names its own.
STANDARD_CATEGORIES = ("遵纪守法", "移风易俗", "勤劳致富", "清洁卫生", "家庭文明", "邻里和睦", "遵守公德", "志愿服务")
# The settings of a village's scheme as ``PUT /villages/{id}/scheme`` reads and writes them.
SETTINGS = ("base_points", "redeem_floor", "yuan_per_point", "approval_required", "notice_days", "annual_reset")


class Scheme(db.Model):
    """A rule sheet with its settings (积分方案), run by a village or by a region. Every
    village has one household scheme, whose accounts are its households."""

    __tablename__ = "schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    account_kind: Mapped[str] = mapped_column(String(10))
    cadence: Mapped[str] = mapped_column(String(10), default="quarter")
    categories: Mapped[list] = mapped_column(JSON, default=lambda: list(STANDARD_CATEGORIES))
    base_points: Mapped[int] = mapped_column(Integer, default=100)
    redeem_floor: Mapped[int] = mapped_column(Integer, default=100)
    yuan_per_point: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False), default=1.0)
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_days: Mapped[int] = mapped_column(Integer, default=7)
    annual_reset: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @classmethod
    def for_village(cls, village) -> "Scheme":
        """A new village's household scheme: the standard settings and categories."""
        return cls(
            name=f"{village.name}积分方案"[:100],
            village_id=village.id,
            account_kind="household",
            cadence="quarter",
            categories=list(STANDARD_CATEGORIES),
            base_points=100,
            redeem_floor=100,
            yuan_per_point=1.0,
            approval_required=False,
            notice_days=7,
            annual_reset=False,
        )

    def settings(self) -> dict:
        return {f: getattr(self, f) for f in SETTINGS}

    def __repr__(self) -> str:
        return f"<Scheme {self.id} {self.account_kind}>"
