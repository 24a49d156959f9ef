from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.clock import utcnow
from app.extensions import db
from app.households.models import Household
from app.points.models import Entry
from app.schemes.models import Scheme
from app.villages.models import Village

COMPLETED, CANCELLED = "completed", "cancelled"
# Why a shelf count changed: every change is a movement, like points on the ledger.
RECEIPT, SALE, RETURN, ADJUSTMENT, LOSS = "receipt", "redemption", "cancellation", "adjustment", "loss"
MOVEMENT_REASONS = (RECEIPT, SALE, RETURN, ADJUSTMENT, LOSS)


class Shop(db.Model):
    """A redemption point (积分超市, 爱心超市); a village may run several. It takes the
    cards of one scheme's accounts, valued at that scheme's ``yuan_per_point``."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    village: Mapped[Village] = relationship(lazy="joined")
    scheme: Mapped[Scheme] = relationship(lazy="joined")


class Item(db.Model):
    """Goods on a shop's shelf. ``stock`` is a cache of the item's stock movements,
    changed only by a conditional UPDATE in the movement's transaction."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20), default="件")
    price_points: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    low_stock: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    photo: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    shop: Mapped[Shop] = relationship()


class StockMovement(db.Model):
    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_item", "item_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    note: Mapped[str] = mapped_column(String(300), default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    item: Mapped[Item] = relationship()
    by: Mapped[User | None] = relationship()
    redemption: Mapped["Redemption | None"] = relationship()


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_shop_created", "shop_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    total_points: Mapped[int] = mapped_column(Integer)
    yuan_value: Mapped[float] = mapped_column(Numeric(12, 2, asdecimal=False))
    balance_after: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=COMPLETED)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"))
    refund_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The local (deployment time zone) date of the sale: receipts and monthly reports.
    business_day: Mapped[date] = mapped_column(Date)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")

    shop: Mapped[Shop] = relationship()
    household: Mapped[Household] = relationship()
    entry: Mapped[Entry] = relationship(foreign_keys=[entry_id])
    clerk: Mapped[User | None] = relationship(foreign_keys=[clerk_id])
    lines: Mapped[list["RedemptionLine"]] = relationship(
        back_populates="redemption", order_by="RedemptionLine.id", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        """The receipt number printed for the resident."""
        return f"R{self.business_day:%Y%m%d}-{self.id:06d}"


class RedemptionLine(db.Model):
    __tablename__ = "redemption_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemptions.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    price_points: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)

    redemption: Mapped[Redemption] = relationship(back_populates="lines")
