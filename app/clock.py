"""Time helpers: the ledger stores naive UTC; periods follow the deployment's zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_pinned_day: date | None = None


def pin_day(day: date | None) -> None:
    """Hold the working day (``local_today`` without ``now``) at ``day``; None lets it go.

    The test suite pins it when it starts: its expectations are computed once, and a run
    that crosses local midnight would otherwise see the app move on to the next day."""
    global _pinned_day
    _pinned_day = day


def local_today(tz_name: str, now: datetime | None = None) -> date:
    """The calendar day in ``tz_name`` at ``now`` (by default: the working day, now)."""
    if now is None and _pinned_day is not None:
        return _pinned_day
    now = now or utcnow()
    return now.replace(tzinfo=UTC).astimezone(ZoneInfo(tz_name)).date()


def to_local_iso(value: datetime | None, tz_name: str) -> str | None:
    """Naive UTC from the database → ISO 8601 with the zone's offset."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(tz_name)).isoformat(timespec="seconds")


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def year_of(day: date) -> str:
    return str(day.year)


def month_of(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def periods_of(day: date, cadence: str = "quarter") -> tuple[str, ...]:
    """The periods a day counts in: its quarter and year, and its month in a monthly scheme."""
    if cadence == "month":
        return quarter_of(day), year_of(day), month_of(day)
    return quarter_of(day), year_of(day)


def parse_period(text: str) -> tuple[date, date]:
    """``2026Q3``, ``2026`` or the month ``2026-03`` → (first day, last day). Raises ValueError."""
    text = (text or "").strip().upper()
    if len(text) == 7 and text[:4].isdigit() and text[4] == "-" and text[5:].isdigit() and 1 <= int(text[5:]) <= 12:
        year, month = int(text[:4]), int(text[5:])
        start = date(year, month, 1)
        end = (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)) - timedelta(days=1)
    elif len(text) == 4 and text.isdigit():
        year = int(text)
        start, end = date(year, 1, 1), date(year, 12, 31)
    elif len(text) == 6 and text[:4].isdigit() and text[4] == "Q" and text[5] in "1234":
        year, q = int(text[:4]), int(text[5])
        start = date(year, 3 * q - 2, 1)
        end = (date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)) - timedelta(days=1)
    else:
        raise ValueError(f"not a period: {text!r}")
    if not 2000 <= start.year <= 2100:
        raise ValueError(f"period out of range: {text!r}")
    return start, end


def normalize_period(text: str) -> str:
    parse_period(text)
    return text.strip().upper()


def cap_window(day: date, cap_period: str) -> tuple[date, date]:
    """The calendar window (inclusive) of ``cap_period`` that contains ``day``."""
    if cap_period == "day":
        return day, day
    if cap_period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if cap_period == "month":
        return parse_period(month_of(day))
    if cap_period == "quarter":
        return parse_period(quarter_of(day))
    if cap_period == "year":
        return parse_period(year_of(day))
    raise ValueError(cap_period)
