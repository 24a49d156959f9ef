"""``python -m bench``: generate (or reuse) the data set, then for each engine serve
the app with gunicorn, measure every figure beside the no-op floor, time
``flask ledger verify``, and write ``bench/out/results-<engine>.json``."""

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

from . import dataset, pg, rawsql, report, scenarios, util
from .server import Server, cpu_seconds, peak_rss_kb

FULL = {"households": 100_000, "entries": 2_000_000, "villages": 200, "townships": 10, "bench_village_size": 3000}
QUICK = {"households": 6_000, "entries": 120_000, "villages": 20, "townships": 3, "bench_village_size": 1500}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--engines",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres (skipped when no server answers)",
    )
    p.add_argument("--quick", action="store_true", help="a small data set and fewer repetitions")
    for name in FULL:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    p.add_argument("--heavy", type=int, default=2000, help="entries of the busiest household")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--reps", type=int, default=None, help="repetitions of a cheap request (default 200, quick 50)")
    p.add_argument("--batch-reps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-cache", action="store_true", help="regenerate the data set even if cached")
    p.add_argument("--keep-postgres", action="store_true", help="do not drop the PostgreSQL database")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for name, default in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.reps is None:
        args.reps = 50 if args.quick else 200
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(args.engines) - {"sqlite", "postgres"}
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return args


def log(msg: str) -> None:
    print(msg, flush=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_verify(url: str) -> tuple[float, float, int, str]:
    """Wall-clock and CPU seconds of ``flask ledger verify``, its exit code and last lines."""
    t0, c0 = time.perf_counter(), _children_cpu()
    r = util.flask(["ledger", "verify"], url, quiet=True, check=False)
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - c0
    text = (r.stdout + r.stderr).strip().splitlines()
    return seconds, cpu, r.returncode, "\n".join(text[-5:])


def run_engine(
    engine: str, url: str, raw: rawsql.RawSQL, meta: dict, args, machine: dict, load_s: float, backend_pids=None
) -> dict:
    from app.clock import local_today

    server = Server(url, util.OUT / f"gunicorn-{engine}.log", workers=args.workers, threads=args.threads)
    load_before = os.getloadavg()
    cpu_before = _children_cpu()
    t0 = time.perf_counter()
    server.start()
    log(f"[{engine}] gunicorn {' '.join(server.command[3:])}: ready in {time.perf_counter() - t0:.1f}s")
    try:

        def probe() -> tuple[float, float]:
            """CPU seconds so far of (the gunicorn workers, the PostgreSQL backends)."""
            return cpu_seconds(server.worker_pids()), cpu_seconds(backend_pids()) if backend_pids else 0.0

        figs, info = scenarios.run(
            server.port,
            meta,
            local_today(meta["timezone"]),
            raw,
            args,
            probe=probe,
            log=log,
            memory=lambda: peak_rss_kb(server.worker_pids()),
        )
    finally:
        server.stop()
    info["loadavg_before"] = [round(x, 2) for x in load_before]
    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    info["server_cpu_seconds"] = round(_children_cpu() - cpu_before, 1)
    if load_before[0] > 1.5 or info["loadavg_after"][0] > 2.5:
        log(
            f"[{engine}] NOTE: the machine was busy (load average {load_before[0]:.1f} before, "
            f"{info['loadavg_after'][0]:.1f} after on {os.cpu_count()} cores): figures are noisy"
        )
    log(f"[{engine}] flask ledger verify")
    seconds, cpu, rc, tail = time_verify(url)
    item = figs.add(
        "verify",
        "flask ledger verify, whole data set",
        [seconds],
        goal="< 60 s, exit 0",
        limit=60,
        kind="seconds",
        exit_code=rc,
        output=tail,
        cpu_seconds=round(cpu, 1),
    )
    log(f"  exit {rc}, {cpu:.1f} s CPU (the flask process; the database server's time is not included)")
    figs.finalize()
    item["pass"] = item["pass"] and rc == 0
    if rc != 0:
        log(f"[{engine}] ledger verify FAILED (exit {rc}):\n{tail}")
    plans = {
        "village": raw.explain(raw.village_sql, (meta["bench_village_id"], info["quarter"]), raw.explain_prefix),
        "township": raw.explain(raw.township_sql, (meta["bench_township"], info["quarter"]), raw.explain_prefix),
        "county": raw.explain(raw.county_sql, (meta["county_region_id"], info["quarter"]), raw.explain_prefix),
    }
    dataset_info = {k: v for k, v in meta.items() if k not in ("writable_household_ids", "password")}
    result = {
        "engine": engine,
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "machine": machine,
        "server": {"command": " ".join(server.command[3:]), "workers": args.workers, "threads": args.threads},
        "dataset": dataset_info,
        "load_seconds": round(load_s, 1),
        "info": info,
        "raw_sql_plans": plans,
        "floors": figs.floors,
        "figures": figs.items,
    }
    # A quick run does not overwrite the full-size results.
    report.write_json(util.OUT / f"results-{engine}{'-quick' if args.quick else ''}.json", result)
    return result


def main(argv=None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    util.OUT.mkdir(parents=True, exist_ok=True)
    if (util.ROOT / "instance" / "config.py").exists():
        log("WARNING: instance/config.py exists and overrides DATABASE_URL for the served app")
    pg_version = pg.reachable() if "postgres" in args.engines else None
    if "postgres" in args.engines and pg_version is None:
        log(f"PostgreSQL is not reachable at {pg.SERVER}: skipping it")
        args.engines.remove("postgres")
    machine = report.machine(pg_version, pg.settings() if pg_version else None)
    from app.config import Config

    params = dataset.Params(
        households=args.households,
        entries=args.entries,
        villages=args.villages,
        townships=args.townships,
        bench_village_size=args.bench_village_size,
        heavy=args.heavy,
        seed=args.seed,
    )
    t0 = time.perf_counter()
    pristine, meta = dataset.cached_dataset(params, util.OUT, Config.TIMEZONE, use_cache=not args.no_cache, log=log)
    log(f"dataset ready in {time.perf_counter() - t0:.1f}s: {meta['counts']}")

    results = []
    for engine in args.engines:
        t0 = time.perf_counter()
        if engine == "sqlite":
            work = util.OUT / "bench-sqlite.db"
            for suffix in ("", "-wal", "-shm", "-journal"):
                work.with_name(work.name + suffix).unlink(missing_ok=True)
            shutil.copyfile(pristine, work)
            url = f"sqlite:///{work}"
            raw = rawsql.RawSQL(lambda work=work: sqlite3.connect(work), "qmark", "EXPLAIN QUERY PLAN")
            log(f"[sqlite] working copy {work.relative_to(util.ROOT)} ({work.stat().st_size / 2**20:,.0f} MiB)")
            results.append(run_engine(engine, url, raw, meta, args, machine, time.perf_counter() - t0))
        else:
            db = pg.Database()
            log(f"[postgres] loading into database {db.name}")
            db.create()
            try:
                db.load(pristine, log=log)
                raw = rawsql.RawSQL(db.connect, "format", "EXPLAIN ANALYZE")
                with db.connect() as monitor:
                    monitor.autocommit = True

                    def backend_pids(monitor=monitor, name=db.name):
                        sql = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
                        return [r[0] for r in monitor.execute(sql, (name,))]

                    results.append(
                        run_engine(engine, db.url, raw, meta, args, machine, time.perf_counter() - t0, backend_pids)
                    )
            finally:
                if args.keep_postgres:
                    log(f"[postgres] kept {db.url}")
                else:
                    db.drop()

    lines = [f"Total time: {(time.perf_counter() - started) / 60:.1f} min"]
    for res in results:
        lines += ["", f"## {res['engine']}", "", report.table(res["figures"], res["floors"])]
    summary = "\n".join(lines)
    (util.OUT / f"results{'-quick' if args.quick else ''}.md").write_text(summary.lstrip() + "\n")
    log(summary)
    failed = [f"{r['engine']}: {f['name']}" for r in results for f in r["figures"] if f.get("pass") is False]
    if failed:
        log("\nmissed goals:\n  " + "\n  ".join(failed))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(exc.stdout or "", exc.stderr or "", file=sys.stderr)
        raise
