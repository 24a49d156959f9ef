"""The county's monthly village scheme of the benchmark data set (积分换项目).

The county (region 1, above every township) runs a ``village``-kind scheme of cadence
``month``: one account per village below it, made as ``app.points.village_accounts``
makes them (``kind`` "village", ``village_id`` NULL, ``home_village_id`` the village,
number and name the village's code and name; base points 0, so no opening entry). Its
sheet is the demo's 六零 targets (+10 each, once a month), a deduction and an uncapped
county event (+5), the rule the "record one entry" figure of a village account uses.

``events`` plans the scheme's entries in the same tuples as the households' rule
entries, so that the generator simulates them in the same time order, through the
same hashing and cache code; a village account's ``_apply`` adds month totals too.
"""

import random
from datetime import date, timedelta
from types import SimpleNamespace

from app.clock import month_of

SCHEME_NAME = "积分换项目"
CATEGORIES = ["六零目标", "扣分项", "县级活动"]
SIX_ZEROS = ("零事故", "零非访", "零发案", "零违建", "零污染", "零疫情")
RULES = [
    *(
        {"code": f"LL-{i:02d}", "name": name, "category": "六零目标", "points": 10, "cap": "month"}
        for i, name in enumerate(SIX_ZEROS, start=1)
    ),
    {"code": "KF-01", "name": "发生重大问题", "category": "扣分项", "points": -20, "cap": None},
    {"code": "XJ-01", "name": "参加县级示范活动", "category": "县级活动", "points": 5, "cap": None},
]
EVENT_CODE = "XJ-01"
MONTHS = 6  # full months of scores before the current one
TAP_RATE = 0.85  # a 六零 target met in a month
DEDUCTION_RATE = 0.15  # a village with a deduction in a month
EVENTS_PER_MONTH = 2.0  # county events a village account takes part in, on average
RECORDER = "county_recorder"


class VillageAccount:
    """The account columns ``LedgerWriter`` keeps, for a village's account: no village
    of its own (``village_id`` NULL) and a monthly scheme."""

    __slots__ = ("id", "scheme_id", "village_id", "home_village_id", "balance", "entry_count", "chain_hash")
    scheme = SimpleNamespace(cadence="month")

    def __init__(self, account_id: int, scheme_id: int, home_village_id: int):
        self.id, self.scheme_id, self.village_id, self.home_village_id = account_id, scheme_id, None, home_village_id
        self.balance, self.entry_count, self.chain_hash = 0, 0, None


def first_month(today: date) -> date:
    """The first day of the first scored month (``MONTHS`` before this one)."""
    y, m = today.year, today.month - MONTHS
    while m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def scheme_row(scheme_id: int, created_at: str, categories_json: str) -> tuple:
    """A row of ``schemes`` in the generator's column order, with ``region_id`` 1 last."""
    return (scheme_id, f"县{SCHEME_NAME}", None, "village", "month", categories_json, 0, 0, 1.0, False, 7, True,
            created_at, 1)  # fmt: skip


def rule_rows(scheme_id: int, first_id: int, created_at: str) -> list[tuple]:
    """The scheme's rules in the generator's ``rules`` column order."""
    return [
        (
            first_id + k,
            None,
            scheme_id,
            r["code"],
            r["name"],
            r["category"],
            r["points"],
            r["cap"],
            1 if r["cap"] else None,
            False,
            False,
            True,
            created_at,
        )  # fmt: skip
        for k, r in enumerate(RULES)
    ]


def events(rng: random.Random, accounts: list[int], rule_offset: int, today: date, now_us: int, local_us) -> list:
    """The scheme's entries as (created_us, account, rule index + ``rule_offset``, 1,
    day ordinal, 0): a past month's 六零 taps are dated the month's last day and made
    in the first days of the next (as ``county.tap`` dates them); this month's are
    dated the day they are made. Deductions and county events fall on any day."""
    planned = []
    month = first_month(today)
    today_ord = today.toordinal()
    while month <= today:
        nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        last_ord = min(nxt.toordinal() - 1, today_ord)
        current = month_of(today) == month_of(month)
        for account in accounts:
            for k, r in enumerate(RULES):
                if r["cap"] == "month":
                    if rng.random() >= TAP_RATE:
                        continue
                    if current:
                        day_ord = rng.randint(month.toordinal(), today_ord)
                        made_ord = day_ord
                    else:
                        day_ord = last_ord
                        made_ord = min(last_ord + rng.randint(1, 5), today_ord)
                    planned.append((made_ord, 9.0, 17.0, account, k, day_ord))
                    continue
                times = 1 if (r["points"] < 0 and rng.random() < DEDUCTION_RATE) else 0
                if r["points"] > 0:
                    times = rng.randint(0, int(2 * EVENTS_PER_MONTH))
                for _ in range(times):
                    day_ord = rng.randint(month.toordinal(), last_ord)
                    made_ord = min(day_ord + rng.randint(0, 2), today_ord)
                    planned.append((made_ord, 8.0, 20.0, account, k, day_ord))
        month = nxt
    out = []
    for made_ord, early, late, account, k, day_ord in planned:
        created = local_us(made_ord, rng.uniform(early, late))
        if created >= now_us:  # today, later than now: earlier today
            created = max(local_us(made_ord, 0.0), now_us - rng.randint(60, 3600) * 1_000_000) | 1
        if created < now_us:
            out.append((created, account, rule_offset + k, 1, day_ord, 0))
    return out


def note_of(rule_index: int, day: date) -> str:
    """The note ``county.tap`` writes on a 六零 tap; none on the others."""
    return f"{month_of(day)} 月度考评" if RULES[rule_index]["cap"] == "month" else ""
