"""The figures of the issue, each timed N times after a warm-up beside the floor:
``GET /api/v1/ping``, an authenticated request that does nothing, through the same
server and the same kind of connection, measured in the same run."""

import uuid
from datetime import date, timedelta

from . import util
from .client import Client

PING = "/api/v1/ping"


class Run:
    """Timed samples of a figure, the floor requests alternated with them (if any), and
    the server's CPU seconds over the figure's own requests (gunicorn workers, plus the
    PostgreSQL backends)."""

    def __init__(self, samples, floors=None, cpu=None, cpu_db=None):
        self.samples = samples
        self.floors = floors or []  # the no-ops sent in blocks between the figure's blocks
        self.cpu = cpu  # app + database, seconds
        self.cpu_db = cpu_db  # the database's part


class Figures:
    """The figures of one run. ``finalize`` judges each against the floor requests sent
    in blocks alternating with its own (the same seconds of the machine), and also
    reports it against the run's end blocks: the floor measured at the start and at the
    end of the run, which shows how much the machine drifted in between."""

    FLOORS = {"ping": "ping_after", "ping_cookie": "ping_cookie_after"}

    def __init__(self, log=print):
        self.items: list[dict] = []
        self.runs: dict[str, Run] = {}
        self.floors: dict[str, dict] = {}
        self.log = log

    def add(self, key, name, run, *, floor=None, goal=None, limit=None, kind="ratio", note="", **extra) -> dict:
        """``run`` is a ``Run`` or a list of seconds. ``kind`` "ratio": the median at most
        ``limit`` × the floor's median; "seconds": the median under ``limit`` seconds."""
        run = run if isinstance(run, Run) else Run(run)
        samples = run.samples
        item = {
            "key": key,
            "name": name,
            "n": len(samples),
            "median_ms": util.median(samples) * 1000,
            "p95_ms": util.p95(samples) * 1000,
            "min_ms": min(samples) * 1000,
            "max_ms": max(samples) * 1000,
            "floor": floor,
            "goal": goal,
            "limit": limit,
            "kind": kind,
            "note": note,
            **extra,
        }
        self.items.append(item)
        self.runs[key] = run
        line = f"  {name}: median {item['median_ms']:.2f} ms, p95 {item['p95_ms']:.2f} ms (n={len(samples)})"
        if run.floors:
            line += f"; floor blocks beside it {util.median(run.floors) * 1000:.2f} ms"
        if run.cpu is not None:
            line += f", server CPU {run.cpu / len(samples) * 1000:.2f} ms per request"
            if run.cpu_db:
                line += f" (database {run.cpu_db / len(samples) * 1000:.2f} ms)"
        self.log(line)
        return item

    def get(self, key) -> dict | None:
        return next((i for i in self.items if i["key"] == key), None)

    def finalize(self) -> None:
        for key, after in self.FLOORS.items():
            runs = [self.runs[k] for k in (key, after) if k in self.runs]
            if not runs:
                continue
            samples = [x for r in runs for x in r.samples]
            cpu = [r.cpu for r in runs]
            cpu_db = [r.cpu_db for r in runs]
            self.floors[key] = {
                "median_ms": util.median(samples) * 1000,
                "p95_ms": util.p95(samples) * 1000,
                "n": len(samples),
                "cpu_ms": sum(cpu) / len(samples) * 1000 if None not in cpu else None,
                "db_cpu_ms": sum(cpu_db) / len(samples) * 1000 if None not in cpu_db else None,
            }
        for item in self.items:
            run = self.runs[item["key"]]
            if run.cpu is not None:
                item["cpu_ms"] = run.cpu / len(run.samples) * 1000
                item["db_cpu_ms"] = run.cpu_db / len(run.samples) * 1000
            ends = self.floors.get(item["floor"]) if item["floor"] else None
            if ends:
                item["ends_floor_median_ms"] = ends["median_ms"]
                item["ratio_ends"] = item["median_ms"] / ends["median_ms"]
                if ends["cpu_ms"]:
                    item["cpu_ratio"] = item["cpu_ms"] / ends["cpu_ms"]
            if run.floors:
                item["floor_median_ms"] = util.median(run.floors) * 1000
                item["floor_p95_ms"] = util.p95(run.floors) * 1000
                item["floor_n"] = len(run.floors)
                item["ratio"] = item["median_ms"] / item["floor_median_ms"]
                item["ratio_p95"] = item["p95_ms"] / item["floor_p95_ms"]
            if item["limit"] is not None:
                if item["kind"] == "ratio":
                    item["pass"] = item.get("ratio", float("inf")) <= item["limit"]
                else:
                    item["pass"] = item["median_ms"] / 1000 < item["limit"]


ROUNDS = 10  # blocks of the figure, each after a block of floor requests
FLOOR_BLOCK = 20  # floor requests in each of those blocks


def _timed(fn, n: int, warmup: int, floor=None, probe=None) -> Run:
    """``n`` timed calls after ``warmup`` untimed ones. With ``floor``, the calls go in
    up to ``ROUNDS`` blocks, each right after a block of ``FLOOR_BLOCK`` floor requests:
    the floor is measured in the same seconds as the figure, so the machine's drift
    (its speed changes within minutes) falls on both alike, and both are sent in runs
    of like requests, so neither has warmer caches than the other. ``probe()`` reads the
    server's CPU seconds; only the figure's own blocks are counted."""
    for i in range(warmup):
        fn(i, True)
    rounds = max(1, min(ROUNDS, n)) if floor is not None else 1
    samples: list[float] = []
    floors: list[float] = []
    cpu = cpu_db = 0.0
    for r in range(rounds):
        if floor is not None:
            floors += [floor(i, False) for i in range(FLOOR_BLOCK)]
        app0, db0 = probe() if probe else (0.0, 0.0)
        samples += [fn(i, False) for i in range(len(samples), n * (r + 1) // rounds)]
        app1, db1 = probe() if probe else (0.0, 0.0)
        cpu, cpu_db = cpu + (app1 - app0) + (db1 - db0), cpu_db + (db1 - db0)
    if probe is None:
        return Run(samples, floors)
    return Run(samples, floors, cpu, cpu_db)


def _expect(r, status: int, what: str):
    if r.status != status:
        raise RuntimeError(f"{what}: HTTP {r.status} (expected {status}): {r.body[:400]!r}")
    return r


def _adaptive(n: int, warm_seconds: list[float], budget: float = 60.0, least: int = 20) -> int:
    """Fewer repetitions for a slow request, so one figure cannot take minutes."""
    per = max(util.median(warm_seconds), 1e-4)
    return max(least, min(n, int(budget / per)))


def run(port: int, meta: dict, today: date, raw, args, probe=None, log=print, memory=None) -> tuple[Figures, dict]:
    """All HTTP figures and the raw-SQL floors; ``raw`` runs SQL on the same database."""
    figs = Figures(log)
    info: dict = {}
    reps = args.reps
    password = meta["password"]
    api = Client(port)
    api.token_login(meta["recorder"], password)
    page = Client(port)
    page.form_login(meta["reviewer"], password)
    village, township = meta["bench_village_id"], meta["bench_township"]
    heavy = meta["heavy_household_id"]
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    targets = list(meta["writable_household_ids"])

    def ping(_i, _warm):
        return _expect(api.get(PING), 200, "ping").seconds

    def ping_cookie(_i, _warm):
        return _expect(page.get(PING), 200, "ping (cookie)").seconds

    # Warm every path once (imports, templates, connection pools in each worker).
    _timed(ping, 0, 50)
    _timed(ping_cookie, 0, 20)

    log("floor")
    figs.add("ping", "floor: GET /api/v1/ping (bearer), at the start of the run", _timed(ping, reps, 20, probe=probe))
    figs.add(
        "ping_cookie",
        "floor: GET /api/v1/ping (session cookie), at the start of the run",
        _timed(ping_cookie, reps, 10, probe=probe),
    )

    log("writes")
    cursor = iter(range(len(targets)))

    def one_entry(with_key: bool):
        def go(_i, _warm):
            hid = targets[next(cursor) % len(targets)]
            body = {
                "household_id": hid,
                "rule_id": meta["event_rule_id"],
                "quantity": 1,
                "occurred_on": today.isoformat(),
            }
            headers = {"Idempotency-Key": uuid.uuid4().hex} if with_key else None
            return _expect(api.post("/api/v1/entries", body, headers=headers), 201, "POST /entries").seconds

        return go

    figs.add(
        "entry",
        "record one entry: POST /api/v1/entries (Idempotency-Key)",
        _timed(one_entry(True), reps, 20, ping, probe),
        floor="ping",
        goal="≤ 3× floor",
        limit=3,
    )
    figs.add(
        "entry_nokey",
        "record one entry, no Idempotency-Key",
        _timed(one_entry(False), reps, 10, ping, probe),
        floor="ping",
        note="for comparison",
    )

    # A monthly scheme's entry: the county recorder (a region official) scores a village
    # account of the county's scheme, each sample another village, beside the county
    # recorder's own pings (the same identity, so the same authentication).
    county = Client(port)
    county.token_login(meta["county_recorder"], password)
    accounts = list(meta["village_account_ids"])
    account_cursor = iter(range(10**9))

    def county_ping(_i, _warm):
        return _expect(county.get(PING), 200, "ping (county recorder)").seconds

    def village_account_entry(_i, _warm):
        body = {
            "account_id": accounts[next(account_cursor) % len(accounts)],
            "rule_id": meta["county_event_rule_id"],
            "quantity": 1,
            "occurred_on": today.isoformat(),
        }
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        return _expect(county.post("/api/v1/entries", body, headers=headers), 201, "POST /entries (account)").seconds

    _timed(county_ping, 0, 20)
    figs.add(
        "entry_village_account",
        "a monthly scheme's entry: POST /api/v1/entries, a village account (county recorder, Idempotency-Key)",
        _timed(village_account_entry, reps, 20, county_ping, probe),
        floor="ping",
        goal="≤ 3× floor",
        limit=3,
    )

    size = args.batch_size
    if len(targets) < size:
        raise RuntimeError(f"the benchmarked village has {len(targets)} writable households; a batch needs {size}")
    step = max(1, (len(targets) - size) // max(1, args.batch_reps))
    created_counts: list[int] = []

    def batch(rule_id: int, first_day_back: int, capped: bool):
        def go(i, warm):
            start = (i * step + (0 if warm else step // 2)) % len(targets)
            hids = (targets[start:] + targets[:start])[:size]
            day = today - timedelta(days=first_day_back + i + (0 if warm else 7))
            body = {"rule_id": rule_id, "household_ids": hids, "occurred_on": day.isoformat()}
            r = _expect(
                api.post("/api/v1/entries/batch", body, headers={"Idempotency-Key": uuid.uuid4().hex}),
                201,
                "POST /entries/batch",
            )
            if not warm:
                created = len(r.json()["created"])
                created_counts.append(created)
                if not capped and created != size:
                    raise RuntimeError(f"a batch without a cap created {created} of {size} entries")
            return r.seconds

        return go

    figs.add(
        "batch",
        f"a batch of {size:,}: POST /api/v1/entries/batch (no cap)",
        _timed(batch(meta["event_rule_id"], 0, False), args.batch_reps, 1, ping, probe),
        goal="< 1 s",
        limit=1.0,
        kind="seconds",
        floor="ping",
    )
    created_counts.clear()
    figs.add(
        "batch_capped",
        f"a batch of {size:,}, capped rule (1 a day)",
        _timed(batch(meta["capped_rule_id"], 20, True), max(1, args.batch_reps - 2), 0, ping, probe),
        floor="ping",
        note="for comparison",
        created=list(created_counts),
    )

    log("reads")

    def household_page(_i, _warm):
        r = _expect(page.get(f"/households/{heavy}"), 200, "GET /households/<id>")
        info["page_bytes"] = len(r.body)
        info["page_rows"] = r.body.count(b"<tr")
        return r.seconds

    warm = _timed(household_page, 5, 0).samples
    n = _adaptive(reps, warm)
    figs.add(
        "household_page",
        f"household page (HTML), {meta['heavy_household_entries']:,} entries: GET /households/<id>",
        _timed(household_page, n, 0, ping_cookie, probe),
        floor="ping_cookie",
        goal="≤ 5× floor",
        limit=5,
    )

    def household_print(_i, _warm):
        r = _expect(page.get(f"/households/{heavy}", {"all": "1"}), 200, "GET /households/<id>?all=1")
        info["print_bytes"] = len(r.body)
        info["print_rows"] = r.body.count(b"<tr")
        return r.seconds

    warm = _timed(household_print, 3, 0).samples
    figs.add(
        "household_print",
        "household passbook, every entry (?all=1)",
        _timed(household_print, _adaptive(reps, warm, budget=40), 0, ping_cookie, probe),
        floor="ping_cookie",
        note="for comparison",
    )

    def api_get(path, params=None, what=""):
        def go(_i, _warm):
            return _expect(api.get(path, params), 200, what or path).seconds

        return go

    figs.add(
        "household_api",
        "household account (JSON): GET /api/v1/households/<id>",
        _timed(api_get(f"/api/v1/households/{heavy}"), reps, 10, ping, probe),
        floor="ping",
        note="for comparison",
    )
    warm = _timed(api_get(f"/api/v1/households/{heavy}/entries", {"per_page": 500}), 3, 0).samples
    figs.add(
        "household_entries_api",
        "500 newest entries (JSON): GET /api/v1/households/<id>/entries",
        _timed(
            api_get(f"/api/v1/households/{heavy}/entries", {"per_page": 500}), _adaptive(reps, warm), 0, ping, probe
        ),
        floor="ping",
        note="for comparison",
    )

    lb_village = {"period": quarter, "village_id": village, "limit": 50}
    lb_township = {"period": quarter, "township": township, "limit": 50}
    r = _expect(api.get("/api/v1/leaderboards", lb_township), 200, "leaderboards")
    info["township_rows"] = len(r.json()["items"])
    figs.add(
        "lb_village",
        "village standings, top 50: GET /api/v1/leaderboards?village_id=",
        _timed(api_get("/api/v1/leaderboards", lb_village), reps, 20, ping, probe),
        floor="ping",
        goal="≤ 3× floor",
        limit=3,
    )
    figs.add(
        "lb_township",
        "township standings, top 50: GET /api/v1/leaderboards?township=",
        _timed(api_get("/api/v1/leaderboards", lb_township), reps, 20, ping, probe),
        floor="ping",
        goal="≤ 3× floor",
        limit=3,
    )

    # The county's standings: the households of every village below it (all of them).
    lb_county = {"period": quarter, "region_id": meta["county_region_id"], "limit": 50}
    _expect(api.get("/api/v1/leaderboards", lb_county), 200, "leaderboards (county)")
    figs.add(
        "lb_county",
        "county standings, top 50: GET /api/v1/leaderboards?region_id=",
        _timed(api_get("/api/v1/leaderboards", lb_county), reps, 20, ping, probe),
        floor="ping",
        goal="≤ 3× floor",
        limit=3,
    )

    # Issue 4: the full township list, the village standings and a 100,000-row export.
    full_township = {"period": quarter, "township": township}
    warm = _timed(api_get("/api/v1/leaderboards", full_township), 2, 0).samples
    info["township_full_rows"] = len(_expect(api.get("/api/v1/leaderboards", full_township), 200, "lb").json()["items"])
    figs.add(
        "lb_township_full",
        f"township standings, full list ({info['township_full_rows']:,} rows)",
        _timed(api_get("/api/v1/leaderboards", full_township), _adaptive(reps, warm, budget=30), 0, ping, probe),
        floor="ping",
        note="for comparison",
    )
    for key, params, what in (
        ("lb_villages_township", {"period": quarter, "township": township}, "village standings of a township"),
        ("lb_villages_all", {"period": quarter}, "village standings, all 200 villages (100,000 households)"),
    ):
        warm = _timed(api_get("/api/v1/leaderboards/villages", params), 2, 0).samples
        figs.add(
            key,
            f"{what}: GET /api/v1/leaderboards/villages",
            _timed(api_get("/api/v1/leaderboards/villages", params), _adaptive(reps, warm, budget=30), 0, ping, probe),
            floor="ping",
            note="for comparison",
        )
    for key, path in (("export_csv", "/standings/export.csv"), ("export_xlsx", "/standings/export.xlsx")):
        before = memory() if memory else None
        r = _expect(page.get(path, {"period": quarter, "scope": "all"}), 200, path)
        after = memory() if memory else None
        info[f"{key}_bytes"] = len(r.body)
        figs.add(
            key,
            f"standings export, every household ({path}): {len(r.body) / 1e6:.1f} MB",
            Run([r.seconds]),
            note=(f"worker peak RSS {before / 1024:.0f} → {after / 1024:.0f} MiB" if memory else "for comparison"),
        )

    log("raw SQL on the same database")
    figs.add(
        "sql_village",
        "raw SQL: village top 50 on period_totals",
        raw.time(raw.village_sql, (village, quarter), reps),
        note="floor for the village standings",
    )
    figs.add(
        "sql_township",
        "raw SQL: township top 50 on period_totals ⋈ villages",
        raw.time(raw.township_sql, (township, quarter), reps),
        note="floor for the township standings",
    )
    figs.add(
        "sql_county",
        "raw SQL: county top 50 on period_totals ⋈ villages ⋈ regions",
        raw.time(raw.county_sql, (meta["county_region_id"], quarter), reps),
        note="floor for the county standings",
    )
    figs.add(
        "sql_commit",
        "raw SQL: INSERT one row + COMMIT (a durable commit alone)",
        raw.time_commit(reps),
        note="floor for every write",
    )
    figs.add(
        "sql_entry",
        "raw SQL: the statements of one entry, in one transaction (rolled back)",
        raw.time_entry(targets[-1], meta["event_rule_id"], quarter, reps),
        note="with the commit above: the database's share of recording an entry",
    )

    log("floor again")
    figs.add(
        "ping_after",
        "floor: GET /api/v1/ping (bearer), at the end of the run",
        _timed(ping, reps, 5, probe=probe),
        note="the run's end block",
    )
    figs.add(
        "ping_cookie_after",
        "floor: GET /api/v1/ping (session cookie), at the end of the run",
        _timed(ping_cookie, reps, 5, probe=probe),
        note="the run's end block",
    )
    info["reconnects"] = api.reconnects + page.reconnects + county.reconnects
    info["quarter"] = quarter
    api.close()
    page.close()
    county.close()
    return figs, info
