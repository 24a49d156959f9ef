from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.clock import utcnow
from app.extensions import db
from app.households.models import Household
from app.points.models import Period

OPEN, UPHELD, DISMISSED = "open", "upheld", "dismissed"
AWARD_TITLES = ("季度道德之星", "季度道德冠军", "年度最美家庭", "模范家庭")


class Publication(db.Model):
    """One publication (公示) of a closed period's standings; re-publishing after an
    upheld objection adds a new version, so every step stays on record."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("period_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(300), default="")
    standings: Mapped[list] = mapped_column(JSON)

    period: Mapped[Period] = relationship()


class Objection(db.Model):
    """异议: against one entry, or against the published standings of a village."""

    __tablename__ = "objections"
    __table_args__ = (
        Index("ix_objections_village_status", "village_id", "status"),
        Index("ix_objections_scheme_status", "scheme_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))  # the scheme's
    period: Mapped[str] = mapped_column(String(7))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str] = mapped_column(String(1000), default="")
    reversal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))

    household: Mapped[Household | None] = relationship()
    filed_by: Mapped[User | None] = relationship(foreign_keys=[filed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Award(db.Model):
    __tablename__ = "awards"
    __table_args__ = (UniqueConstraint("scheme_id", "period", "title", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)  # the scheme's
    period: Mapped[str] = mapped_column(String(7))
    title: Mapped[str] = mapped_column(String(50))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    rank: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    bonus_points: Mapped[int] = mapped_column(Integer, default=0)
    bonus_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    # A fund (积分换项目) shared among the winners: the grant's fund and split, and this
    # winner's amount to the fen. None without a fund.
    fund_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    allocation: Mapped[str | None] = mapped_column(String(12))
    amount_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    household: Mapped[Household] = relationship()
