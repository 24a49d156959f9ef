from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db
from app.schemes.models import Scheme
from app.villages.models import Village


class Household(db.Model):
    """An account of a scheme (积分账户): a household of its village's household scheme,
    a person of a person scheme, or a village of a region's village scheme. One table and
    one ledger for every kind. ``balance`` and the chain head are caches of the ledger,
    updated in the same transaction as each entry (see ``app.points.ledger``)."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("scheme_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A household's village; None for the other kinds, so that every query of "the
    # households of a village" (lists, standings, the counter) stays one of households.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    # The village an account belongs to, whatever its kind: a household's, a person's (if
    # given), the village a village account stands for.
    home_village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="household", server_default="household")
    # A person's household (a resident of that household sees the person's account).
    linked_household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    linked_household: Mapped["Household | None"] = relationship(remote_side=[id], foreign_keys=[linked_household_id])
    number: Mapped[str] = mapped_column(String(20))
    # The head of a household, a person's name, a village's name.
    head_name: Mapped[str] = mapped_column(String(50), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    moved_out_on: Mapped[date | None] = mapped_column(Date)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    qr_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    village: Mapped[Village | None] = relationship(lazy="joined", foreign_keys=[village_id])
    home_village: Mapped[Village | None] = relationship(foreign_keys=[home_village_id])
    # Joined too: recording an entry reads the scheme's settings in the statement that
    # locks the household.
    scheme: Mapped[Scheme] = relationship(lazy="joined", innerjoin=True)
    members: Mapped[list["Member"]] = relationship(
        back_populates="household", order_by="Member.position", cascade="all, delete-orphan"
    )

    def __init__(self, **values):
        super().__init__(**values)
        if self.home_village_id is None:  # a household's own village
            self.home_village_id = self.village_id if self.village_id is not None else getattr(self.village, "id", None)

    @property
    def name(self) -> str:
        return self.head_name

    @property
    def is_household(self) -> bool:
        return self.kind == "household"

    @property
    def redeemable(self) -> int:
        return max(0, self.balance - self.scheme.redeem_floor)

    @property
    def active(self) -> bool:
        return self.moved_out_on is None

    def __repr__(self) -> str:
        return f"<Household {self.kind} {self.scheme_id}/{self.number}>"


class Member(db.Model):
    __tablename__ = "household_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    household: Mapped[Household] = relationship(back_populates="members")
