from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.clock import utcnow
from app.extensions import db
from app.households.models import Household
from app.schemes.models import STANDARD_CATEGORIES, Scheme

# The standard eight: a scheme's categories unless it names its own (``Scheme.categories``).
CATEGORIES = STANDARD_CATEGORIES
CAP_PERIODS = ("day", "week", "month", "quarter", "year")

KIND_OPENING, KIND_RULE, KIND_REVERSAL = "opening", "rule", "reversal"
KINDS = (KIND_OPENING, KIND_RULE, KIND_REVERSAL, "redemption", "refund", "award", "expiry")
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class Rule(db.Model):
    """A line of a scheme's rule sheet. ``village_id`` is the scheme's village (None for
    a region's scheme)."""

    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("scheme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(Integer)
    cap_period: Mapped[str | None] = mapped_column(String(10))
    cap_count: Mapped[int | None] = mapped_column(Integer)
    veto: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    scheme: Mapped[Scheme] = relationship()


class Entry(db.Model):
    """One line of a household's passbook. Never updated except for the single
    pending → approved/rejected decision; never deleted.

    ``hash`` covers the immutable content and the previous entry's hash (a chain per
    household); ``decision_hash`` seals the status, approver and decision time.
    """

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("household_id", "seq"),
        Index("ix_entries_cap", "household_id", "rule_id", "occurred_on"),
        Index("ix_entries_village_status", "village_id", "status", "created_at"),
        Index("ix_entries_scheme_status", "scheme_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    # The village whose officials handle the entry: its scheme's village (None for a
    # region's scheme). Not the village a village account stands for.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id"))
    title: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[int] = mapped_column(Integer)
    ranked: Mapped[bool] = mapped_column(Boolean, default=False)
    veto: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_on: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(500), default="")
    member_name: Mapped[str] = mapped_column(String(50), default="")
    evidence: Mapped[str | None] = mapped_column(String(64))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reject_reason: Mapped[str] = mapped_column(String(500), default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64))
    decision_hash: Mapped[str | None] = mapped_column(String(64))

    household: Mapped[Household] = relationship()
    rule: Mapped[Rule | None] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    reverses: Mapped["Entry | None"] = relationship(remote_side=[id], foreign_keys=[reverses_id])
    reversed_by: Mapped["Entry | None"] = relationship(
        foreign_keys=[reverses_id], viewonly=True, uselist=False, overlaps="reverses"
    )


class PeriodTotal(db.Model):
    """Ranking points and veto count of an account in a quarter (``2026Q3``), a year
    (``2026``) or, in a monthly scheme, a month (``2026-03``): a cache of approved ranked
    entries, kept in the entry's transaction."""

    __tablename__ = "period_totals"
    __table_args__ = (
        UniqueConstraint("household_id", "period"),
        Index("ix_period_totals_rank", "period", "points"),
        Index("ix_period_totals_village_rank", "village_id", "period", "points"),
        Index("ix_period_totals_scheme_rank", "scheme_id", "period", "points"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"))
    # Households only (the village and region household standings); None for the
    # accounts of person and village schemes, which rank by ``scheme_id``.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    period: Mapped[str] = mapped_column(String(7))
    points: Mapped[int] = mapped_column(Integer, default=0)
    veto_count: Mapped[int] = mapped_column(Integer, default=0)
    # Approved positive rule entries not reversed: "took part" in the period.
    positive_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Evidence(db.Model):
    """An uploaded photo; the file lives in ``instance/evidence/<id>``."""

    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    content_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Period(db.Model):
    """A scheme's quarter, month or year whose books are closed: published (``notice``)
    or ``final``. Entries dated inside a closed period are refused (``period_closed``);
    publication, objections and awards are the rankings package's business."""

    __tablename__ = "periods"
    __table_args__ = (UniqueConstraint("scheme_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    # The scheme's village (None for a region's scheme).
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10))
    closed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notice_ends_on: Mapped[date] = mapped_column(Date)
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime)
    finalized_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
