"""Redemption throughput at the counter: ``python -m bench.redemption``.

A small database of its own per engine (one village, one shop, a clerk, ~2,000
households with plenty of points, a few items with large stock and one with exactly
500; beside them a ``person`` scheme of the village with as many person accounts and
a shop of its own, with its clerk and the same items), made with ``flask db upgrade``
and the app's own services. Served by gunicorn as
``bench/server.py`` deploys it, then, with N concurrent clients (threads, one
keep-alive connection each):

1. in ``ROUNDS`` rounds, the no-op floor (``GET /api/v1/ping``) and then ``POST
   /api/v1/redemptions`` for a random household, 1 unit of a random item, each with
   its own ``Idempotency-Key``, then the same for a random person account at the
   person scheme's shop (``account_id``): ``--ping-seconds`` and ``--seconds`` (or
   ``--max-requests``) in all for each, so that each rate is measured beside the
   others in the same seconds;
3. the oversell race: every client buys the stock-500 item until it is gone; exactly
   500 must be sold (201) and every other answer must be 409 ``out_of_stock``;
4. ``flask ledger verify`` on the database (exit code 0).

Writes ``bench/out/redemption-<engine>.json`` and prints a table.
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from . import pg, util
from .client import Client
from .server import Server, cpu_seconds

PASSWORD = "bench-redemption-pw"
CLERK = "bench_clerk"
PERSON_CLERK = "bench_person_clerk"  # the person scheme's shop
ADMIN = "bench_admin"
OVERSELL_STOCK = 500
ROUNDS = 4  # the no-op and the sales alternate this many times


def log(msg: str) -> None:
    print(msg, flush=True)


def seed(database_url: str, households: int) -> dict:
    """Schema by migration, then the data through the app's services in a child process
    (the app's configuration comes from the environment: one database per process)."""
    t0 = time.perf_counter()
    util.flask(["db", "upgrade"], database_url, quiet=True)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.redemption", "--seed-only", str(households)],
        cwd=util.ROOT,
        env=util.app_env(database_url),
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["seed_seconds"] = round(time.perf_counter() - t0, 1)
    return info


def _seed_here(households: int) -> dict:
    """Runs in the child: ``DATABASE_URL`` and ``SECRET_KEY`` are set, ``MORALBANK_DEV`` is not."""
    from app import create_app
    from app.accounts import services as accounts
    from app.auth import services as auth
    from app.clock import local_today, utcnow
    from app.extensions import db
    from app.points import services as points
    from app.redemption import shops as shop_services
    from app.schemes import services as schemes
    from app.scope import Actor
    from app.villages import services as villages

    app = create_app()
    with app.app_context():
        s = db.session
        admin = auth.create_user(s, None, {"username": ADMIN, "password": PASSWORD, "roles": ["admin"]})
        actor = Actor(admin, "127.0.0.1")
        village = villages.create_village(s, actor, {"name": "压测村", "code": "BENCHR", "township": "压测镇"})
        village.base_points = 100_000  # before enrolling: every household opens with it
        s.flush()
        now = utcnow()
        today = local_today(app.config.get("TIMEZONE", "Asia/Shanghai"))
        shop = shop_services.create_shop(s, actor, village.id, "压测超市")
        items = [
            shop_services.create_item(
                s, actor, shop.id, {"name": f"商品{i}", "price_points": 10 + 5 * i, "stock": 1_000_000}, now=now
            ).id
            for i in range(8)
        ]
        scarce = shop_services.create_item(
            s, actor, shop.id, {"name": "限量商品", "price_points": 20, "stock": OVERSELL_STOCK}, now=now
        ).id
        auth.create_user(
            s,
            None,
            {"username": CLERK, "password": PASSWORD, "roles": ["clerk"], "village_id": village.id, "shop_id": shop.id},
        )
        ids = []
        for n in range(1, households + 1):
            h = points.enroll_household(
                s, actor, village.id, {"number": f"R{n:05d}", "head_name": f"户主{n}"}, today=today, now=now
            )
            ids.append(h.id)
        # A person scheme of the same village (志愿者), its accounts and its own shop.
        person_scheme = schemes.create_scheme(
            s,
            actor,
            {
                "name": "压测志愿者积分",
                "village_id": village.id,
                "account_kind": "person",
                "cadence": "quarter",
                "base_points": 100_000,
                "redeem_floor": 100,
                "yuan_per_point": 1.0,
                "approval_required": False,
                "notice_days": 7,
                "annual_reset": False,
            },
            today=today,
            now=now,
        )
        person_shop = shop_services.create_shop(s, actor, village.id, "压测志愿者超市", scheme_id=person_scheme.id)
        person_items = [
            shop_services.create_item(
                s, actor, person_shop.id, {"name": f"商品{i}", "price_points": 10 + 5 * i, "stock": 1_000_000}, now=now
            ).id
            for i in range(8)
        ]
        auth.create_user(
            s,
            None,
            {
                "username": PERSON_CLERK,
                "password": PASSWORD,
                "roles": ["clerk"],
                "village_id": village.id,
                "shop_id": person_shop.id,
            },
        )
        persons = [
            accounts.create_account(
                s,
                actor,
                {"scheme_id": person_scheme.id, "number": f"P{n:05d}", "name": f"志愿者{n}", "village_id": village.id},
                today=today,
                now=now,
            ).id
            for n in range(1, households + 1)
        ]
        s.commit()
        return {
            "shop_id": shop.id,
            "items": items,
            "scarce_item": scarce,
            "households": ids,
            "person_shop_id": person_shop.id,
            "person_items": person_items,
            "persons": persons,
        }


def run_clients(port: int, bearer: str, clients: int, seconds: float, max_requests: int, make_request, stop_on=None):
    """``clients`` threads, each with its own connection, calling ``make_request(client)``
    until the time or the request budget is spent (or ``stop_on(response)`` says so for
    that thread). Returns (samples [(status, seconds, code)], wall seconds)."""
    samples = []
    lock = threading.Lock()
    budget = [max_requests]
    deadline = time.monotonic() + seconds
    start = threading.Barrier(clients + 1, timeout=30)
    errors = []

    def worker():
        client = Client(port)
        client.conn.timeout = 30
        client.headers["Authorization"] = bearer
        mine = []
        try:
            start.wait()
            while time.monotonic() < deadline:
                with lock:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                r = make_request(client)
                code = ""
                if r.status >= 400:
                    try:
                        code = r.json()["error"]["code"]
                    except (ValueError, KeyError, TypeError):
                        code = "?"
                mine.append((r.status, r.seconds, code))
                if stop_on is not None and stop_on(r.status, code):
                    break
        except Exception as exc:  # noqa: BLE001 (reported, counted as a failure)
            errors.append(repr(exc))
        finally:
            client.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 120)
    wall = time.perf_counter() - t0
    if errors:
        log(f"  client errors: {len(errors)} (first: {errors[0]})")
    return samples, wall, errors


def summarize(samples, wall: float, errors) -> dict:
    lat = [s[1] for s in samples] or [0.0]
    statuses = Counter(str(s[0]) for s in samples)
    codes = Counter(s[2] for s in samples if s[2])
    return {
        "requests": len(samples),
        "seconds": round(wall, 2),
        "per_second": round(len(samples) / wall, 1) if wall else 0,
        "median_ms": round(util.median(lat) * 1000, 1),
        "p95_ms": round(util.p95(lat) * 1000, 1),
        "statuses": dict(sorted(statuses.items())),
        "error_codes": dict(sorted(codes.items())),
        "client_errors": len(errors),
    }


def bench_engine(engine: str, args) -> dict:
    out = util.OUT
    out.mkdir(parents=True, exist_ok=True)
    pgdb = None
    if engine == "sqlite":
        path = out / "redemption-sqlite.db"
        for suffix in ("", "-wal", "-shm"):
            p = path.with_name(path.name + suffix)
            if p.exists():
                p.unlink()
        url = f"sqlite:///{path}"
        version = __import__("sqlite3").sqlite_version
    else:
        version = pg.reachable()
        if version is None:
            raise RuntimeError(f"PostgreSQL is not reachable at {pg.SERVER}")
        pgdb = pg.Database()
        pgdb.name = f"moralbank_redemption_{os.getpid()}"
        pgdb.url = f"{pg.SERVER}/{pgdb.name}"
        pgdb.create()
        url = pgdb.url
    server = Server(url, out / f"gunicorn-redemption-{engine}.log")
    result = {"engine": engine, "engine_version": version}
    try:
        log(f"[{engine}] seeding {args.households:,} households ...")
        data = seed(url, args.households)
        log(f"  seeded in {data['seed_seconds']}s")
        server.start()
        login = Client(server.port)
        login.token_login(CLERK, PASSWORD)
        bearer = login.headers["Authorization"]
        login.close()
        login = Client(server.port)
        login.token_login(PERSON_CLERK, PASSWORD)
        person_bearer = login.headers["Authorization"]
        login.close()

        shop_id, items, hh = data["shop_id"], data["items"], data["households"]
        rng = random.Random(1)
        rng_lock = threading.Lock()

        def redeem(client, item=None):
            with rng_lock:
                household = rng.choice(hh)
                chosen = item or rng.choice(items)
            body = {"shop_id": shop_id, "household_id": household, "lines": [{"item_id": chosen, "quantity": 1}]}
            return client.post("/api/v1/redemptions", body, headers={"Idempotency-Key": uuid.uuid4().hex})

        def redeem_person(client):
            """The same sale for a person account, at its scheme's shop."""
            with rng_lock:
                account = rng.choice(data["persons"])
                chosen = rng.choice(data["person_items"])
            body = {
                "shop_id": data["person_shop_id"],
                "account_id": account,
                "lines": [{"item_id": chosen, "quantity": 1}],
            }
            return client.post("/api/v1/redemptions", body, headers={"Idempotency-Key": uuid.uuid4().hex})

        # The no-op floor and the sales alternate in rounds, so that each rate is read
        # beside the other in the same seconds: the machine's speed drifts within minutes.
        log(
            f"[{engine}] {ROUNDS} rounds of {args.clients} clients: the no-op GET /api/v1/ping for "
            f"{args.ping_seconds / ROUNDS:g}s, then redemptions for {args.seconds / ROUNDS:g}s, "
            f"then a person account's for {args.seconds / ROUNDS:g}s"
        )
        workers = server.worker_pids()
        pings, sales, person_sales, rounds = ([], 0.0, []), ([], 0.0, []), ([], 0.0, []), []
        cpu = person_cpu = 0.0
        for _ in range(ROUNDS):
            p_samples, p_wall, p_errors = run_clients(
                server.port,
                bearer,
                args.clients,
                args.ping_seconds / ROUNDS,
                max(1, args.max_requests // ROUNDS),
                lambda c: c.get("/api/v1/ping"),
            )
            cpu0 = cpu_seconds(workers)
            s_samples, s_wall, s_errors = run_clients(
                server.port, bearer, args.clients, args.seconds / ROUNDS, max(1, args.max_requests // ROUNDS), redeem
            )
            cpu1 = cpu_seconds(workers)
            cpu += cpu1 - cpu0
            a_samples, a_wall, a_errors = run_clients(
                server.port,
                person_bearer,
                args.clients,
                args.seconds / ROUNDS,
                max(1, args.max_requests // ROUNDS),
                redeem_person,
            )
            person_cpu += cpu_seconds(workers) - cpu1
            pings = (pings[0] + p_samples, pings[1] + p_wall, pings[2] + p_errors)
            sales = (sales[0] + s_samples, sales[1] + s_wall, sales[2] + s_errors)
            person_sales = (person_sales[0] + a_samples, person_sales[1] + a_wall, person_sales[2] + a_errors)
            rounds.append(
                {
                    "ping_per_second": round(len(p_samples) / p_wall, 1),
                    "redemptions_per_second": round(len(s_samples) / s_wall, 1),
                    "person_redemptions_per_second": round(len(a_samples) / a_wall, 1),
                }
            )
            log(
                f"  no-op {rounds[-1]['ping_per_second']}/s, then redemptions {rounds[-1]['redemptions_per_second']}/s, "
                f"a person account's {rounds[-1]['person_redemptions_per_second']}/s"
            )
        ping = summarize(*pings)
        redemptions = summarize(*sales)
        redemptions["server_cpu_seconds"] = round(cpu, 1)
        redemptions["rounds"] = rounds
        person = summarize(*person_sales)
        person["server_cpu_seconds"] = round(person_cpu, 1)
        log(f"  no-op in all: {ping['per_second']}/s p95 {ping['p95_ms']} ms {ping['statuses']}")
        log(
            f"  redemptions in all: {redemptions['per_second']}/s median {redemptions['median_ms']} ms "
            f"p95 {redemptions['p95_ms']} ms {redemptions['statuses']} {redemptions['error_codes']}"
        )
        log(
            f"  a person account's redemptions in all: {person['per_second']}/s median {person['median_ms']} ms "
            f"p95 {person['p95_ms']} ms {person['statuses']} {person['error_codes']}"
        )

        log(f"[{engine}] oversell race: {args.clients} clients for the stock-{OVERSELL_STOCK} item")
        scarce = data["scarce_item"]
        samples, wall, errors = run_clients(
            server.port,
            bearer,
            args.clients,
            60,
            OVERSELL_STOCK * 4 + args.clients,
            lambda c: redeem(c, scarce),
            stop_on=lambda status, code: code == "out_of_stock",
        )
        race = summarize(samples, wall, errors)
        sold = sum(1 for s in samples if s[0] == 201)
        refused = sum(1 for s in samples if s[0] == 409 and s[2] == "out_of_stock")
        other = len(samples) - sold - refused
        check = Client(server.port)
        check.headers["Authorization"] = bearer
        r = check.get("/api/v1/items", {"shop_id": shop_id, "per_page": 500})
        check.close()
        stock_left = next((i.get("stock") for i in r.json().get("items", []) if i.get("id") == scarce), None)
        race.update(
            sold=sold,
            out_of_stock=refused,
            other=other,
            stock_left=stock_left,
            ok=sold == OVERSELL_STOCK and other == 0 and stock_left == 0 and not errors,
        )
        log(
            f"  sold {sold}, 409 out_of_stock {refused}, other {other}, stock left {stock_left}: "
            f"{'OK' if race['ok'] else 'FAILED'}"
        )
    finally:
        server.stop()
    verify = util.flask(["ledger", "verify"], url, quiet=True, check=False)
    result.update(
        clients=args.clients,
        households=args.households,
        seed_seconds=data["seed_seconds"],
        ping=ping,
        redemptions=redemptions,
        person_redemptions=person,
        oversell=race,
        ledger_verify={"exit_code": verify.returncode, "output": (verify.stdout + verify.stderr).strip()[-500:]},
        gunicorn=" ".join(server.command[1:]).replace(f"127.0.0.1:{server.port}", "127.0.0.1:PORT")
        if server.port
        else "",
    )
    log(f"[{engine}] flask ledger verify: exit {verify.returncode}")
    return result


def bench_engine_dropping(engine: str, args) -> dict:
    """``bench_engine``, dropping the throwaway PostgreSQL database whatever happens."""
    if engine != "postgres":
        return bench_engine(engine, args)
    name = f"moralbank_redemption_{os.getpid()}"
    try:
        return bench_engine(engine, args)
    finally:
        db = pg.Database()
        db.name, db.url = name, f"{pg.SERVER}/{name}"
        db.drop()


def table(results: list[dict]) -> str:
    rows = [
        "| engine | ping/s | ping p95 ms | redemptions/s | median ms | p95 ms | a person account's redemptions/s "
        "| median ms | p95 ms | each round: ping/s → redemptions/s → a person's | statuses (household; person) "
        "| oversell | ledger verify |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in results:
        p, d, a, o = r["ping"], r["redemptions"], r["person_redemptions"], r["oversell"]
        st = "; ".join(", ".join(f"{k}: {v}" for k, v in x["statuses"].items()) for x in (d, a))
        per_round = "; ".join(
            f"{x['ping_per_second']:.0f} → {x['redemptions_per_second']:.0f} → {x['person_redemptions_per_second']:.0f}"
            for x in d.get("rounds", [])
        )
        rows.append(
            f"| {r['engine']} {r['engine_version']} | {p['per_second']} | {p['p95_ms']} | {d['per_second']} | "
            f"{d['median_ms']} | {d['p95_ms']} | {a['per_second']} | {a['median_ms']} | {a['p95_ms']} | "
            f"{per_round} | {st} | {o['sold']} sold / {o['out_of_stock']} × 409 "
            f"({'OK' if o['ok'] else 'FAIL'}) | exit {r['ledger_verify']['exit_code']} |"
        )
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.redemption", description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--ping-seconds", type=float, default=10)
    ap.add_argument("--max-requests", type=int, default=50_000)
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--seed-only", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.seed_only:
        print(json.dumps(_seed_here(args.seed_only)))
        return 0
    results, failed = [], False
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if engine not in ("sqlite", "postgres"):
            ap.error(f"unknown engine {engine}")
        if engine == "postgres" and pg.reachable() is None:
            log(f"PostgreSQL is not reachable at {pg.SERVER}: skipping it")
            continue
        r = bench_engine_dropping(engine, args)
        r.update(
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            machine={"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            command="python -m bench.redemption " + " ".join(sys.argv[1:] if argv is None else argv),
        )
        (util.OUT / f"redemption-{engine}.json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
        results.append(r)
        failed |= not r["oversell"]["ok"] or r["ledger_verify"]["exit_code"] != 0
    if results:
        print()
        print(table(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
