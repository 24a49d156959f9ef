"""Where a request spends its time: ``python -m bench.profile FIGURE [--db URL]``.

Runs the app in this process against the benchmark database (by default the SQLite
working copy ``bench/out/bench-sqlite.db`` of the last run), sends the figure's
request through Flask's test client a few times under cProfile, and prints the SQL
statements of one request and the functions that took the time.

FIGURE is one of: ping, ping_cookie, entry, entry_nokey, entry_village_account, batch,
page, print, entries_api, lb_village, lb_township, lb_county, verify. Writes go to the working copy; re-run ``make bench``
(or copy the cached data set) to start from pristine data.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

from . import util

FIGURES = (
    "ping",
    "ping_cookie",
    "entry",
    "entry_nokey",
    "entry_village_account",
    "batch",
    "page",
    "print",
    "entries_api",
    "lb_village",
    "lb_township",
    "lb_county",
    "verify",
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("figure", choices=FIGURES)
    p.add_argument("--db", default=f"sqlite:///{util.OUT / 'bench-sqlite.db'}")
    p.add_argument("--meta", default=None, help="the data set's JSON (default: newest in bench/out/cache)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    p.add_argument("--plain", action="store_true", help="time the calls without cProfile")
    p.add_argument("--callees", metavar="PATTERN", help="also list what the functions matching PATTERN call")
    p.add_argument("--dump", metavar="FILE", help="write the raw cProfile statistics to FILE")
    args = p.parse_args(argv)

    os.environ["DATABASE_URL"] = args.db
    os.environ.setdefault("SECRET_KEY", "bench-profile")
    from sqlalchemy import event

    from app import create_app
    from app.clock import local_today
    from app.extensions import db

    meta_path = args.meta or max((util.OUT / "cache").glob("*.json"), key=lambda p: p.stat().st_mtime)
    meta = json.loads(Path(meta_path).read_text())
    app = create_app()
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0].upper()))

    if args.figure == "verify":
        from app.points.proof import verify

        with app.app_context():
            return _profile(lambda: verify(db.session), 1, args, statements)

    client = app.test_client()
    today = local_today(meta["timezone"])
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    heavy = meta["heavy_household_id"]
    targets = iter(meta["writable_household_ids"][::-1])
    r = client.post("/api/v1/auth/token", json={"username": meta["recorder"], "password": meta["password"]})
    bearer = {"Authorization": "Bearer " + r.get_json()["token"]}
    if args.figure == "entry_village_account":  # the county recorder, over its own token
        r = client.post("/api/v1/auth/token", json={"username": meta["county_recorder"], "password": meta["password"]})
        bearer = {"Authorization": "Bearer " + r.get_json()["token"]}
    accounts = iter(meta.get("village_account_ids", []) * 1000)
    if args.figure in ("ping_cookie", "page", "print"):
        login = client.get("/login").get_data(as_text=True)
        import re

        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
        form = {"username": meta["reviewer"], "password": meta["password"]}
        if token:
            form["csrf_token"] = token.group(1)
        client.post("/login", data=form)
    day = iter(range(400, 10_000))

    def call():
        f = args.figure
        if f == "ping":
            r = client.get("/api/v1/ping", headers=bearer)
        elif f == "ping_cookie":
            r = client.get("/api/v1/ping")
        elif f in ("entry", "entry_nokey"):
            body = {"household_id": next(targets), "rule_id": meta["event_rule_id"], "occurred_on": today.isoformat()}
            key = {"Idempotency-Key": uuid.uuid4().hex} if f == "entry" else {}
            r = client.post("/api/v1/entries", json=body, headers={**bearer, **key})
        elif f == "entry_village_account":
            body = {
                "account_id": next(accounts),
                "rule_id": meta["county_event_rule_id"],
                "occurred_on": today.isoformat(),
            }
            r = client.post("/api/v1/entries", json=body, headers={**bearer, "Idempotency-Key": uuid.uuid4().hex})
        elif f == "batch":
            hids = meta["writable_household_ids"][:1000]
            when = (today - timedelta(days=next(day) % 60)).isoformat()
            body = {"rule_id": meta["event_rule_id"], "household_ids": hids, "occurred_on": when}
            r = client.post("/api/v1/entries/batch", json=body, headers={**bearer, "Idempotency-Key": uuid.uuid4().hex})
        elif f == "page":
            r = client.get(f"/households/{heavy}")
        elif f == "print":
            r = client.get(f"/households/{heavy}?all=1")
        elif f == "entries_api":
            r = client.get(f"/api/v1/households/{heavy}/entries?per_page=500", headers=bearer)
        elif f == "lb_village":
            r = client.get(
                f"/api/v1/leaderboards?period={quarter}&village_id={meta['bench_village_id']}&limit=50", headers=bearer
            )
        elif f == "lb_county":
            r = client.get(
                f"/api/v1/leaderboards?period={quarter}&region_id={meta['county_region_id']}&limit=50", headers=bearer
            )
        else:
            r = client.get(
                f"/api/v1/leaderboards?period={quarter}&township={meta['bench_township']}&limit=50", headers=bearer
            )
        if r.status_code >= 400:
            raise RuntimeError(f"{args.figure}: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r

    call()  # warm
    return _profile(call, args.reps, args, statements)


def _profile(fn, reps: int, args, statements: list[str]) -> int:
    statements.clear()
    fn()
    per_request = Counter(statements)
    if args.plain:
        walls, cpus = [], []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        print(
            f"{args.figure}: median {util.median(walls) * 1000:.2f} ms wall, "
            f"{sum(cpus) / reps * 1000:.2f} ms CPU per call (in-process, no profiler, n={reps})"
        )
        print(f"SQL statements in one call: {sum(per_request.values())} {dict(per_request)}")
        return 0
    prof = cProfile.Profile()
    t0, c0 = time.perf_counter(), time.process_time()
    prof.enable()
    for _ in range(reps):
        fn()
    prof.disable()
    wall, cpu = (time.perf_counter() - t0) / reps, (time.process_time() - c0) / reps
    print(f"{args.figure}: {wall * 1000:.1f} ms wall, {cpu * 1000:.1f} ms CPU per call (under cProfile, n={reps})")
    print(f"SQL statements in one call: {sum(per_request.values())} {dict(per_request)}")
    out = io.StringIO()
    if args.dump:
        prof.dump_stats(args.dump)
    stats = pstats.Stats(prof, stream=out).sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.callees:
        stats.print_callees(args.callees)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
