"""Realistic, valid benchmark data, written in bulk into a SQLite file.

The schema comes from ``flask db upgrade``; the rows are written with ``executemany``
but carry exactly what the application would have written: every entry is chained
with ``app.points.ledger.content_hash`` / ``decision_hash`` in per-household ``seq``
order, and the household caches (balance, entry_count, chain_hash) and the period
totals (quarter and year, points and veto_count) are accumulated the way
``LedgerWriter`` keeps them, so ``flask ledger verify`` passes on the result.

The ledger is simulated in time order: every event (an opening, a rule entry, a
reversal some days after an approval) is processed by its ``created_at``, so entry
ids grow with time as they do in production and a household's entries are scattered
through the table rather than stored side by side.
"""

import hashlib
import heapq
import inspect
import json
import random
import sqlite3
import time
from bisect import bisect
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from werkzeug.security import generate_password_hash

from app.auth import models as auth_models
from app.clock import local_today, quarter_of, utcnow
from app.demo import GIVEN as DEMO_GIVEN
from app.demo import SURNAMES
from app.points.ledger import LedgerWriter, content_hash, decision_hash
from app.points.models import CATEGORIES
from app.points.services import OPENING_TITLE
from app.points.standard_sheet import STANDARD_RULES

from . import dataset_county as county
from . import util

GENERATOR_VERSION = 6  # 4: regions and schemes; 5: accounts (entries and totals carry the scheme);
# 6: the county's monthly village scheme (bench/dataset_county.py)
PASSWORD = "bench-pass-2026"
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
BASE = datetime(2000, 1, 1)
BASE_ORD = BASE.toordinal()

# A village-specific rule without a cap (a collective event), used for the single and
# batch writes; villages add such rules to the standard sheet.
EVENT_RULE = {
    "code": "EVENT",
    "name": "参加村集体活动",
    "category": "遵守公德",
    "points": 5,
    "cap_period": None,
    "cap_count": None,
    "veto": False,
    "requires_evidence": False,
}
# How often each rule is recorded: mostly small positive points, ~4% deductions,
# under 0.1% veto entries (一票否决). Codes missing from the sheet are ignored.
WEIGHTS = {
    "VOL-LABOUR": 20,
    "WORK-SCHOOL": 16,
    "CLEAN-CAMPAIGN": 16,
    "PUB-PARTY": 12,
    "PUB-MEETING": 12,
    "VOL-ACTIVITY": 6,
    "VOL-PUBLIC": 5,
    "EVENT": 5,
    "NBR-HELP": 5,
    "FAM-ELDER": 4,
    "CLEAN-TREES": 4,
    "VOL-SERVICE": 3,
    "LAW-MEDIATE": 1,
    "NBR-LOST": 1,
    "CUS-WEDDING": 0.6,
    "CLEAN-COURTYARD": 0.6,
    "WORK-HONOUR-V": 0.5,
    "FAM-MODEL": 0.2,
    "PUB-BRAVE": 0.02,
    "WORK-HONOUR-N": 0.01,
    "CLEAN-YARD": 2,
    "LAW-FIGHT": 1,
    "PUB-DAMAGE": 0.5,
    "CLEAN-DUMP": 0.5,
    "CUS-RULES": 0.3,
    "LAW-GAMBLE": 0.05,
    "LAW-LAND": 0.02,
    "LAW-CULT": 0.005,
}
REVERSAL_RATE = 0.005  # of approved rule entries, corrected some days later
APPROVAL_VILLAGES = 0.2  # share of villages whose entries wait for a reviewer
REJECT_RATE = 0.04
MOVED_OUT_RATE = 0.01
LATE_ENROL_RATE = 0.15
HISTORY_DAYS = 730

TOWNSHIPS = "上木拉 君坝 濯桑 禾尼 章纳 甲洼 高城 觉吾 拉波 奔戈 村戈 格木 麦洼 德巫 热柯".split()  # noqa: SIM905
VILLAGE_NAMES = [
    "团结",
    "幸福",
    "和平",
    "光明",
    "红星",
    "新华",
    "东风",
    "胜利",
    "前进",
    "永安",
    "长青",
    "富民",
    "兴隆",
    "太平",
    "金山",
    "石桥",
    "柳树",
    "杨家",
    "李家",
    "王家",
    "河坝",
    "高桥",
    "双河",
    "白马",
    "青山",
    "龙泉",
    "凤凰",
    "桃园",
    "梨园",
    "茶园",
    "红旗",
    "民主",
    "新民",
    "联合",
    "建设",
    "向阳",
]  # noqa: SIM905
# The demo's names, plus names common on the Tibetan plateau (理塘, FIELD-NOTES).
GIVEN = [*DEMO_GIVEN, "扎西", "卓玛", "次仁", "拉姆", "多吉", "央金", "尼玛", "达瓦"]
RELATIONS = ("配偶", "长子", "长女", "次子", "次女", "母亲", "父亲", "孙子", "孙女", "儿媳")
GROUPS = ("东组", "西组", "南组", "北组", "河坝组", "新村组", "一组", "二组", "三组")
NOTES = ("春季植树", "村道清扫", "夜校第三课", "协助邻居秋收", "党日活动", "村民大会", "防汛值守", "垃圾分类宣传")
REJECT_REASONS = ("证据不足", "重复记录", "不属于本规则")
REVERSE_REASONS = ("记录有误，冲正", "重复录入", "异议成立")


@dataclass(frozen=True)
class Params:
    households: int
    entries: int
    villages: int
    townships: int
    bench_village_size: int
    heavy: int
    seed: int = 2026

    def key(self, extra: str) -> str:
        text = json.dumps(asdict(self), sort_keys=True) + f"|v{GENERATOR_VERSION}|{extra}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class _Household:
    """The household columns ``LedgerWriter`` keeps."""

    __slots__ = ("id", "scheme_id", "village_id", "balance", "entry_count", "chain_hash")
    scheme = SimpleNamespace(cadence="quarter")  # a household's scheme (village accounts: dataset_county)

    def __init__(self, hid: int, village_id: int):
        self.id, self.village_id = hid, village_id
        self.scheme_id = village_id  # scheme v is village v's household scheme
        self.balance, self.entry_count, self.chain_hash = 0, 0, None


class _Total:
    """A period-total row: every counter the writer touches starts at 0."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return 0


class _CacheWriter(LedgerWriter):
    """The application's ``decide``/``_apply`` (decision hash, balance, period totals)
    with the period totals kept in a dict instead of queued for the database."""

    def __init__(self):
        self.session = None
        self.now = None
        self.totals: dict[tuple[int, str], _Total] = {}

    def _add_to_total(self, household, period, points, vetoes, positives):
        row = self.totals.setdefault((household.id, period), _Total())
        row.points += points
        row.veto_count += vetoes
        row.positive_count += positives

    def _set(self, obj, **values):  # plain objects: no session to queue the rows for
        for key, value in values.items():
            setattr(obj, key, value)


class _Row:
    """What ``content_hash`` and ``decision_hash`` read, without an ORM object."""

    __slots__ = (
        "decision_hash",
        "household_id",
        "seq",
        "kind",
        "rule_id",
        "title",
        "category",
        "quantity",
        "points",
        "ranked",
        "veto",
        "occurred_on",
        "period",
        "note",
        "member_name",
        "evidence",
        "recorded_by_id",
        "reverses_id",
        "created_at",
        "prev_hash",
        "hash",
        "status",
        "approved_by_id",
        "decided_at",
        "reject_reason",
    )


ENTRY_COLUMNS = (
    "id",
    "household_id",
    "scheme_id",  # scheme v is village v's household scheme
    "village_id",
    "seq",
    "kind",
    "rule_id",
    "title",
    "category",
    "quantity",
    "points",
    "ranked",
    "veto",
    "occurred_on",
    "period",
    "status",
    "note",
    "member_name",
    "evidence",
    "recorded_by_id",
    "approved_by_id",
    "decided_at",
    "reject_reason",
    "reverses_id",
    "created_at",
    "prev_hash",
    "hash",
    "decision_hash",
)


def _dt(us: int) -> datetime:
    return BASE + timedelta(microseconds=us)


def _sql_dt(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format (microseconds always present)."""
    text = value.isoformat(" ")
    return text if value.microsecond else text + ".000000"


def _insert(conn: sqlite3.Connection, table: str, columns, rows) -> None:
    cols = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _cap_key(day: date, cap_period: str | None):
    if cap_period is None:
        return None
    if cap_period == "day":
        return day.toordinal()
    if cap_period == "week":
        return day.toordinal() - day.weekday()
    if cap_period == "month":
        return day.year * 12 + day.month
    if cap_period == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    return day.year


def generate(params: Params, db_path: Path, timezone: str, log=print) -> dict:
    """Fill the (freshly migrated) SQLite file at ``db_path``; return the run's metadata."""
    t0 = time.perf_counter()
    rng = random.Random(params.seed)
    now = utcnow()
    now_us = int((now - BASE).total_seconds() * 1_000_000)
    today = local_today(timezone, now)
    offset_us = int(ZoneInfo(timezone).utcoffset(now).total_seconds() * 1_000_000)
    start = today - timedelta(days=HISTORY_DAYS)
    start_ord, today_ord = start.toordinal(), today.toordinal()

    def local_us(day_ord: int, hour: float) -> int:
        """A local wall-clock time on ``day_ord`` as naive-UTC microseconds (odd, so
        the stored text always carries microseconds)."""
        return ((day_ord - BASE_ORD) * DAY_US + int(hour * HOUR_US) - offset_us) | 1

    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    # Secondary indexes are dropped for the load and rebuilt from their own SQL after
    # (sorting once beats two million random inserts); UNIQUE constraints stay, so they
    # still check the rows as they arrive.
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('entries', 'period_totals', 'household_members', 'households')"
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute("BEGIN")

    townships = [
        (TOWNSHIPS[i] if i < len(TOWNSHIPS) else f"第{i + 1}") + ("镇" if i % 4 == 1 else "乡")
        for i in range(params.townships)
    ]
    rules_template = [dict(r) for r in STANDARD_RULES] + [EVENT_RULE]
    n_rules = len(rules_template)
    rule_weights = [WEIGHTS.get(r["code"], 0) for r in rules_template]
    rule_cum = list(accumulate(rule_weights))
    rule_total = rule_cum[-1]
    created0 = _sql_dt(_dt(local_us(start_ord - 7, 9.0)))
    village_rows, scheme_rows, rule_rows, user_rows = [], [], [], []
    # One county over the townships (region 1), township t as region t + 2.
    region_rows = [(1, "县", "BENCH-COUNTY", "county", None, created0)] + [
        (t + 2, name, f"T{t + 1:03d}", "township", 1, created0) for t, name in enumerate(townships)
    ]
    categories = json.dumps(list(CATEGORIES), ensure_ascii=False)
    approval = [False] * (params.villages + 1)
    village_code = [""] * (params.villages + 1)
    for v in range(1, params.villages + 1):
        t = 0 if v == 1 else (v - 1) % params.townships
        township = townships[t]
        name = VILLAGE_NAMES[(v - 1) % len(VILLAGE_NAMES)] + "村"
        approval[v] = v != 1 and rng.random() < APPROVAL_VILLAGES
        village_code[v] = f"V{v:04d}"
        village_rows.append((v, name, village_code[v], township, t + 2, created0))
        # Scheme v: village v's household scheme.
        scheme_rows.append(
            (
                v,
                f"{name}积分方案",
                v,
                "household",
                "quarter",
                categories,
                100,
                100,
                1.0,
                approval[v],
                7,
                False,
                created0,
                None,
            )
        )
        for j, r in enumerate(rules_template):
            rule_rows.append(
                (
                    (v - 1) * n_rules + j + 1,
                    v,
                    v,
                    r["code"],
                    r["name"],
                    r["category"],
                    r["points"],
                    r["cap_period"],
                    r["cap_count"],
                    r["veto"],
                    r["requires_evidence"],
                    True,
                    created0,
                )
            )
    # Scheme V + 1: the county's monthly village scheme, its rules after the villages'.
    county_scheme = params.villages + 1
    county_first_rule = params.villages * n_rules + 1
    county_created = _sql_dt(_dt(local_us(county.first_month(today).toordinal() - 3, 10.0)))
    scheme_rows.append(county.scheme_row(county_scheme, county_created, json.dumps(county.CATEGORIES)))
    rule_rows += county.rule_rows(county_scheme, county_first_rule, county_created)
    password_hash = generate_password_hash(PASSWORD, method=auth_models.PASSWORD_METHOD)
    user_rows.append((1, "admin", password_hash, "县级管理员", "admin", None, True, 1, created0, None))
    for v in range(1, params.villages + 1):
        code = village_code[v].lower()
        user_rows.append(
            (2 * v, f"{code}_recorder", password_hash, f"{code} 网格员", "recorder", v, True, 1, created0, None)
        )
        user_rows.append(
            (2 * v + 1, f"{code}_reviewer", password_hash, f"{code} 评议员", "reviewer", v, True, 1, created0, None)
        )
    # The county's recorder: a region official (users.region_id), scoring the village accounts.
    county_recorder = 2 * params.villages + 2
    user_rows.append(
        (county_recorder, county.RECORDER, password_hash, "县考评员", "recorder", None, True, 1, county_created, 1)
    )
    _insert(conn, "regions", ("id", "name", "code", "level", "parent_id", "created_at"), region_rows)
    _insert(conn, "villages", ("id", "name", "code", "township", "region_id", "created_at"), village_rows)
    _insert(
        conn,
        "schemes",
        (
            "id",
            "name",
            "village_id",
            "account_kind",
            "cadence",
            "categories",
            "base_points",
            "redeem_floor",
            "yuan_per_point",
            "approval_required",
            "notice_days",
            "annual_reset",
            "created_at",
            "region_id",
        ),
        scheme_rows,
    )
    _insert(
        conn,
        "rules",
        (
            "id",
            "village_id",
            "scheme_id",
            "code",
            "name",
            "category",
            "points",
            "cap_period",
            "cap_count",
            "veto",
            "requires_evidence",
            "active",
            "created_at",
        ),
        rule_rows,
    )
    _insert(
        conn,
        "users",
        (
            "id",
            "username",
            "password_hash",
            "display_name",
            "roles",
            "village_id",
            "active",
            "token_version",
            "created_at",
            "region_id",
        ),
        user_rows,
    )

    H = params.households
    sizes = [0, params.bench_village_size]
    rest = H - params.bench_village_size
    weights = [rng.uniform(0.4, 1.6) for _ in range(params.villages - 1)]
    wsum = sum(weights)
    for w in weights:
        sizes.append(int(rest * w / wsum))
    sizes[2] += H - sum(sizes)
    village_of = [0] * (H + 1)
    enrol_ord = [0] * (H + 1)
    enrol_us = [0] * (H + 1)
    moved_out = [None] * (H + 1)
    member_names: list[tuple] = [()] * (H + 1)
    household_meta = [None] * (H + 1)
    member_rows = []
    hid = 0
    for v in range(1, params.villages + 1):
        for i in range(1, sizes[v] + 1):
            hid += 1
            village_of[hid] = v
            if hid == 1 or rng.random() >= LATE_ENROL_RATE:
                d = start_ord
            else:
                d = rng.randint(start_ord + 1, today_ord - 7)
            enrol_ord[hid] = d
            enrol_us[hid] = local_us(d, rng.uniform(8.5, 17.5))
            if v != 1 and rng.random() < MOVED_OUT_RATE:
                moved_out[hid] = rng.randint(min(d + 30, today_ord - 1), today_ord - 1)
            head = rng.choice(SURNAMES) + rng.choice(GIVEN)
            names = []
            for pos, rel in enumerate(rng.sample(RELATIONS, rng.randint(1, 5))):
                surname = head[0] if rel not in ("配偶", "母亲", "儿媳") else rng.choice(SURNAMES)
                names.append(surname + rng.choice(GIVEN))
                member_rows.append((len(member_rows) + 1, hid, names[-1], rel, pos))
            member_names[hid] = tuple(names)
            household_meta[hid] = (
                f"{village_code[v]}-{i:04d}",
                head,
                f"{rng.choice(GROUPS)}{rng.randint(1, 80)}号",
                f"1{rng.choice('35789')}{rng.randint(0, 999_999_999):09d}",
            )
    _insert(conn, "household_members", ("id", "household_id", "name", "relation", "position"), member_rows)
    del member_rows
    log(f"  villages, users, {H:,} households: {time.perf_counter() - t0:.1f}s")

    caps = [(r["cap_period"], r["cap_count"]) for r in rules_template]
    # Entries: openings + rule entries + reversals (~REVERSAL_RATE of rule entries).
    heavy_hid = 1
    others_rule = max(0, round((params.entries - H - (params.heavy - 1)) / (1 + REVERSAL_RATE * 0.9)))
    activity = [0.0] * (H + 1)
    for h in range(2, H + 1):
        last = moved_out[h] or today_ord
        activity[h] = rng.gammavariate(2.0, 1.0) * max(0, last - enrol_ord[h]) / HISTORY_DAYS
    act_sum = sum(activity)
    events: list[tuple] = []
    append = events.append
    n_rev_planned = 0

    def draw(h: int, used: dict, last_ord: int):
        for _ in range(8):
            day_ord = rng.randint(enrol_ord[h], last_ord)
            j = bisect(rule_cum, rng.random() * rule_total)
            qty = rng.randint(1, 4) if rules_template[j]["code"] == "VOL-SERVICE" else 1
            cap_period, cap_count = caps[j]
            if cap_period is not None:
                k = (j, _cap_key(date.fromordinal(day_ord), cap_period))
                if used.get(k, 0) + qty > cap_count:
                    continue
                used[k] = used.get(k, 0) + qty
            r = rng.random()
            delay = 0 if r < 0.6 else (1 if r < 0.9 else rng.randint(2, 6))
            created = local_us(min(day_ord + delay, today_ord), rng.uniform(8.0, 20.0))
            if created >= now_us:
                created = max(local_us(day_ord, 0.0), now_us - rng.randint(60, 3600) * 1_000_000) | 1
            # Nothing is recorded before the household's account was opened.
            created = max(created, enrol_us[h] + rng.randint(60, 3600) * 1_000_000 | 1)
            if created >= now_us:
                return None
            return created, day_ord, j, qty
        return None

    for h in range(1, H + 1):
        append((enrol_us[h], h, -1, 0, enrol_ord[h], 0))
        last_ord = (moved_out[h] - 1) if moved_out[h] else today_ord
        if last_ord < enrol_ord[h]:
            continue
        used: dict = {}
        if h == heavy_hid:
            target, made = params.heavy - 1, 0
            for _ in range(target * 20):
                if made >= target:
                    break
                got = draw(h, used, last_ord)
                if got is None:
                    continue
                created, day_ord, j, qty = got
                rev = 0
                if made + 2 <= target and rng.random() < REVERSAL_RATE * 2:
                    rev = rng.randint(HOUR_US, 20 * DAY_US)
                    if created + rev >= now_us:
                        rev = 0
                append((created, h, j, qty, day_ord, rev))
                made += 2 if rev else 1
            continue
        expected = others_rule * activity[h] / act_sum if act_sum else 0
        n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(n):
            got = draw(h, used, last_ord)
            if got is None:
                continue
            created, day_ord, j, qty = got
            rev = rng.randint(HOUR_US, 20 * DAY_US) if rng.random() < REVERSAL_RATE else 0
            n_rev_planned += 1 if rev else 0
            append((created, h, j, qty, day_ord, rev))
    # The county's village accounts (H + 1 … H + V, village v's is H + v) and their scores.
    village_accounts = list(range(H + 1, H + params.villages + 1))
    events += county.events(rng, village_accounts, n_rules, today, now_us, local_us)
    events.sort()
    log(f"  planned {len(events):,} events: {time.perf_counter() - t0:.1f}s")

    homes = [None] + [_Household(h, village_of[h]) for h in range(1, H + 1)]
    homes += [county.VillageAccount(H + v, county_scheme, v) for v in range(1, params.villages + 1)]
    writer = _CacheWriter()
    day_cache: dict[int, tuple[date, str, str]] = {}
    evidence_rows = []
    reversals: list[tuple] = []  # heap of (created_us, tiebreak, household, original entry)
    e = _Row()
    batch: list[tuple] = []
    next_id = 1
    counts = {"opening": 0, "rule": 0, "reversal": 0, "pending": 0, "rejected": 0, "veto": 0, "deduction": 0}
    counts["county"] = 0  # the village accounts' entries (not in "rule")

    def day_info(day_ord: int):
        info = day_cache.get(day_ord)
        if info is None:
            d = date.fromordinal(day_ord)
            info = day_cache[day_ord] = (d, d.isoformat(), quarter_of(d))
        return info

    def emit(
        h,
        kind,
        rule_j,
        qty,
        pts,
        veto,
        day_ord,
        status,
        who,
        times,
        note="",
        member="",
        evidence=None,
        reject_reason="",
        reverses_id=None,
    ):
        """``LedgerWriter.append`` for plain rows: same hashes, same cache updates.
        ``who`` is (recorded_by, approved_by), ``times`` (created_us, decided_us)."""
        nonlocal next_id
        recorded_by, approved_by = who
        created_us, decided_us = times
        if rule_j is None:
            title, category, rule_id = OPENING_TITLE, None, None
        elif rule_j >= n_rules:  # the county scheme's
            r = county.RULES[rule_j - n_rules]
            title, category, rule_id = r["name"], r["category"], county_first_rule + rule_j - n_rules
        else:
            r = rules_template[rule_j]  # household h's village's (scheme v = village v)
            title, category, rule_id = r["name"], r["category"], (homes[h].scheme_id - 1) * n_rules + rule_j + 1
        d, d_text, quarter = day_info(day_ord)
        household = homes[h]
        created = _dt(created_us)
        s = household.entry_count + 1
        e.household_id = h
        e.seq = s
        e.kind = kind
        e.rule_id = rule_id
        e.title, e.category = title, category
        e.quantity = qty
        e.points = pts
        e.ranked = kind != "opening"
        e.veto = veto
        e.occurred_on = d
        e.period = quarter
        e.note = note
        e.member_name = member
        e.evidence = evidence
        e.recorded_by_id = recorded_by
        e.reverses_id = reverses_id
        e.created_at = created
        e.prev_hash = household.chain_hash or ""
        e.hash = content_hash(e)
        household.entry_count = s
        household.chain_hash = e.hash
        if status == "pending":
            e.status, e.approved_by_id, e.decided_at, e.reject_reason, e.decision_hash = "pending", None, None, "", None
        else:
            writer.now = _dt(decided_us)
            writer.decide(household, e, status, approved_by, reject_reason)
        entry_id = next_id
        next_id += 1
        batch.append(
            (
                entry_id,
                h,
                household.scheme_id,
                household.village_id,  # the scheme's village: NULL for the county's
                s,
                kind,
                e.rule_id,
                title,
                category,
                qty,
                pts,
                e.ranked,
                veto,
                d_text,
                quarter,
                e.status,
                note,
                member,
                evidence,
                recorded_by,
                e.approved_by_id,
                _sql_dt(e.decided_at) if e.decided_at is not None else None,
                e.reject_reason,
                reverses_id,
                _sql_dt(created),
                e.prev_hash,
                e.hash,
                e.decision_hash,
            )
        )
        if len(batch) >= 50_000:
            _insert(conn, "entries", ENTRY_COLUMNS, batch)
            batch.clear()
        return entry_id

    tiebreak = 0
    ev_iter = iter(events)
    pending_event = next(ev_iter, None)
    while pending_event is not None or reversals:
        if reversals and (pending_event is None or reversals[0][0] < pending_event[0]):
            created_us, _, h, orig = heapq.heappop(reversals)
            orig_id, rule_j, qty, pts, veto, day_ord = orig
            reviewer = 2 * village_of[h] + 1
            emit(
                h,
                "reversal",
                rule_j,
                qty,
                -pts,
                veto,
                day_ord,
                "approved",
                (reviewer, reviewer),
                (created_us, created_us),
                note=rng.choice(REVERSE_REASONS),
                reverses_id=orig_id,
            )
            counts["reversal"] += 1
            continue
        created_us, h, rule_j, qty, day_ord, rev = pending_event
        pending_event = next(ev_iter, None)
        if h > H:  # a village account of the county's scheme: approved as recorded
            pts = county.RULES[rule_j - n_rules]["points"]
            note = county.note_of(rule_j - n_rules, day_info(day_ord)[0])
            who, times = (county_recorder, None), (created_us, created_us)
            emit(h, "rule", rule_j, qty, pts, False, day_ord, "approved", who, times, note=note)
            counts["county"] += 1
            continue
        v = village_of[h]
        if rule_j < 0:
            emit(h, "opening", None, 1, 100, False, day_ord, "approved", (1, 1), (created_us, created_us))
            counts["opening"] += 1
            continue
        r = rules_template[rule_j]
        recorder, reviewer = 2 * v, 2 * v + 1
        if not approval[v]:
            status, approved_by, decided_us = "approved", None, created_us
        else:
            decided_us = (created_us + rng.randint(HOUR_US // 2, 4 * DAY_US)) | 1
            if decided_us >= now_us or (now_us - created_us < 14 * DAY_US and rng.random() < 0.6):
                status, approved_by, decided_us = "pending", None, None
            elif rng.random() < REJECT_RATE:
                status, approved_by = "rejected", reviewer
            else:
                status, approved_by = "approved", reviewer
        evidence = None
        if r["requires_evidence"]:
            evidence = f"{rng.getrandbits(128):032x}"
            ev_created = _sql_dt(_dt(created_us - rng.randint(60, 1800) * 1_000_000))
            evidence_rows.append((evidence, v, recorder, "image/jpeg", rng.randint(300_000, 3_000_000), ev_created))
        note = rng.choice(NOTES) if rng.random() < 0.1 else ""
        member = rng.choice(member_names[h]) if rng.random() < 0.2 and member_names[h] else ""
        pts = r["points"] * qty
        reject_reason = rng.choice(REJECT_REASONS) if status == "rejected" else ""
        entry_id = emit(
            h,
            "rule",
            rule_j,
            qty,
            pts,
            r["veto"],
            day_ord,
            status,
            (recorder, approved_by),
            (created_us, decided_us),
            note=note,
            member=member,
            evidence=evidence,
            reject_reason=reject_reason,
        )
        counts["rule"] += 1
        if status != "approved":
            counts[status] += 1
        counts["veto"] += r["veto"]
        counts["deduction"] += pts < 0
        if rev and status == "approved" and decided_us + rev < now_us:
            tiebreak += 1
            heapq.heappush(
                reversals, ((decided_us + rev) | 1, tiebreak, h, (entry_id, rule_j, qty, pts, r["veto"], day_ord))
            )
    if batch:
        _insert(conn, "entries", ENTRY_COLUMNS, batch)
        batch.clear()
    del events
    log(f"  {next_id - 1:,} entries chained and written: {time.perf_counter() - t0:.1f}s")

    household_rows = []
    for h in range(1, H + 1):
        number, head, address, phone = household_meta[h]
        mo = date.fromordinal(moved_out[h]).isoformat() if moved_out[h] else None
        home = homes[h]
        household_rows.append(
            (
                h,
                village_of[h],
                village_of[h],  # home village: its own
                village_of[h],  # its village's household scheme
                number,
                head,
                address,
                phone,
                mo,
                home.balance,
                home.entry_count,
                home.chain_hash,
                1,
                _sql_dt(_dt(enrol_us[h])),
                "household",
            )
        )
    for h in village_accounts:  # as village_accounts._open makes them: the village's code and name
        home, v = homes[h], homes[h].home_village_id
        number, name = village_rows[v - 1][2], village_rows[v - 1][1]
        household_rows.append(
            (
                h,
                None,
                v,
                county_scheme,
                number,
                name,
                None,
                None,
                None,
                home.balance,
                home.entry_count,
                home.chain_hash,
                1,
                county_created,
                "village",
            )  # fmt: skip
        )
    _insert(
        conn,
        "households",
        (
            "id",
            "village_id",
            "home_village_id",
            "scheme_id",
            "number",
            "head_name",
            "address",
            "phone",
            "moved_out_on",
            "balance",
            "entry_count",
            "chain_hash",
            "qr_version",
            "created_at",
            "kind",
        ),
        household_rows,
    )
    # Every counter column of the table, as the writer accumulated it (0 if untouched).
    keys = ("id", "household_id", "scheme_id", "village_id", "period")
    counters = [c for c in _columns(conn, "period_totals") if c not in keys]
    _insert(
        conn,
        "period_totals",
        keys + tuple(counters),
        [
            (i, h, homes[h].scheme_id, homes[h].village_id, p, *(getattr(acc, c) for c in counters))
            for i, ((h, p), acc) in enumerate(sorted(writer.totals.items()), start=1)
        ],
    )
    _insert(
        conn, "evidence", ("id", "village_id", "uploaded_by_id", "content_type", "size", "created_at"), evidence_rows
    )
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    log(
        f"  households, {len(writer.totals):,} period totals, {len(evidence_rows):,} evidence rows, indexes: "
        f"{time.perf_counter() - t0:.1f}s"
    )

    if conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() != schema:
        raise RuntimeError("the schema after loading differs from the one flask db upgrade created")
    bad = conn.execute("PRAGMA foreign_key_check").fetchall()
    if bad:
        raise RuntimeError(f"generated rows break foreign keys, e.g. {bad[:5]}")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    log(f"  foreign keys checked: {time.perf_counter() - t0:.1f}s")

    bench_village = 1
    writable = [h for h in range(2, sizes[1] + 1) if moved_out[h] is None]
    meta = {
        "params": asdict(params),
        "generated_at": now.isoformat(),
        "today": today.isoformat(),
        "timezone": timezone,
        "counts": {
            "villages": params.villages,
            "townships": params.townships,
            "households": H,
            "entries": next_id - 1,
            "period_totals": len(writer.totals),
            "evidence": len(evidence_rows),
            "users": len(user_rows),
            "village_accounts": len(village_accounts),
            **counts,
        },
        "bench_village_id": bench_village,
        "county_region_id": 1,
        "county_scheme_id": county_scheme,
        "county_recorder": county.RECORDER,
        "village_account_ids": village_accounts,
        "county_event_rule_id": county_first_rule + [r["code"] for r in county.RULES].index(county.EVENT_CODE),
        "bench_village_households": sizes[1],
        "bench_township": village_rows[0][3],
        "heavy_household_id": heavy_hid,
        "heavy_household_entries": homes[heavy_hid].entry_count,
        "writable_household_ids": writable,
        "event_rule_id": (bench_village - 1) * n_rules + [r["code"] for r in rules_template].index("EVENT") + 1,
        "capped_rule_id": (bench_village - 1) * n_rules + [r["code"] for r in rules_template].index("VOL-LABOUR") + 1,
        "password": PASSWORD,
        "recorder": f"{village_code[bench_village].lower()}_recorder",
        "reviewer": f"{village_code[bench_village].lower()}_reviewer",
        "admin": "admin",
        "generation_seconds": round(time.perf_counter() - t0, 1),
    }
    return meta


def cached_dataset(params: Params, out: Path, timezone: str, *, use_cache: bool, log=print) -> tuple[Path, dict]:
    """The pristine SQLite file for ``params`` (generated unless cached) and its metadata.

    The cache key covers the parameters, this generator, the migrations, the ledger's
    hashing and the rule sheet, and the current quarter (the data ends today)."""
    today = local_today(timezone)
    sources = [
        *sorted((util.ROOT / "migrations" / "versions").glob("*.py")),
        util.ROOT / "app" / "points" / "standard_sheet.py",
    ]
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + path.read_bytes())
    # What the generator writes through; the rest of ledger.py (verify) may change freely.
    for obj in (content_hash, decision_hash, LedgerWriter):
        digest.update(inspect.getsource(obj).encode())
    key = params.key(f"{digest.hexdigest()}|{quarter_of(today)}|{timezone}")
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"data-h{params.households}-e{params.entries}"
    db_path, meta_path = cache / f"{stem}-{key}.sqlite3", cache / f"{stem}-{key}.json"
    if use_cache and db_path.exists() and meta_path.exists():
        log(f"dataset: cached {db_path.relative_to(util.ROOT)}")
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return db_path, meta
    for old in cache.glob(f"{stem}-*"):
        old.unlink()
    log(
        f"dataset: generating {params.households:,} households / ~{params.entries:,} entries into "
        f"{db_path.relative_to(util.ROOT)}"
    )
    tmp = db_path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    util.flask(["db", "upgrade"], f"sqlite:///{tmp}", quiet=True)
    log(f"  flask db upgrade: {time.perf_counter() - t0:.1f}s")
    meta = generate(params, tmp, timezone, log=log)
    tmp.rename(db_path)
    meta_path.write_text(json.dumps(meta))
    meta["cached"] = False
    return db_path, meta
