from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db
from app.schemes.models import Scheme
from app.villages.models import Village


class Household(db.Model):
    """A household account. ``balance`` and the chain head are caches of the ledger,
    updated in the same transaction as each entry (see ``app.points.services``)."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("village_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    # The village's household scheme: every household is an account of it.
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    head_name: Mapped[str] = mapped_column(String(50), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    moved_out_on: Mapped[date | None] = mapped_column(Date)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    qr_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    village: Mapped[Village] = relationship(lazy="joined", innerjoin=True)
    # Joined too: recording an entry reads the scheme's settings in the statement that
    # locks the household.
    scheme: Mapped[Scheme] = relationship(lazy="joined", innerjoin=True)
    members: Mapped[list["Member"]] = relationship(
        back_populates="household", order_by="Member.position", cascade="all, delete-orphan"
    )

    @property
    def redeemable(self) -> int:
        return max(0, self.balance - self.scheme.redeem_floor)

    @property
    def active(self) -> bool:
        return self.moved_out_on is None

    def __repr__(self) -> str:
        return f"<Household {self.village_id}/{self.number}>"


class Member(db.Model):
    __tablename__ = "household_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    household: Mapped[Household] = relationship(back_populates="members")
