"""The machine, the table and the JSON of a run."""

import json
import os
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path


def machine(pg_version: str | None, pg_settings: dict | None) -> dict:
    mem_kib = 0
    cpu = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "postgresql_settings": pg_settings,
        "gunicorn": metadata.version("gunicorn"),
        "sqlalchemy": metadata.version("SQLAlchemy"),
        "psycopg": metadata.version("psycopg"),
    }


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def table(figures: list[dict], floors: dict) -> str:
    """A Markdown table of the figures, each beside its floor, goal and result."""
    lines = [
        "| figure | n | median | p95 | floor (median of the blocks beside it) | ratio | goal | result "
        "| ratio to the run's end blocks | server CPU / request | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    for f in figures:
        floor = f"{_ms(f['floor_median_ms'])} (n={f['floor_n']})" if "floor_median_ms" in f else "—"
        ratio = f"{f['ratio']:.2f}×" if "ratio" in f else "—"
        result = ("PASS" if f["pass"] else "**FAIL**") if "pass" in f else (f.get("note") or "")
        ends = f"{f['ratio_ends']:.2f}× (of {_ms(f['ends_floor_median_ms'])})" if "ratio_ends" in f else "—"
        cpu = _ms(f["cpu_ms"]) if f.get("cpu_ms") is not None else "—"
        if f.get("db_cpu_ms"):
            cpu += f" (db {_ms(f['db_cpu_ms'])})"
        cpu_ratio = f"{f['cpu_ratio']:.1f}×" if f.get("cpu_ratio") else "—"
        lines.append(
            f"| {f['name']} | {f['n']} | {_ms(f['median_ms'])} | {_ms(f['p95_ms'])} | {floor} | {ratio} | "
            f"{f.get('goal') or ''} | {result} | {ends} | {cpu} | {cpu_ratio} |"
        )
    notes = [
        f"The run's end blocks of `{k}` together: median {_ms(v['median_ms'])}, p95 {_ms(v['p95_ms'])}, n={v['n']}"
        + (f", server CPU {_ms(v['cpu_ms'])}/request" if v.get("cpu_ms") is not None else "")
        + (f" (db {_ms(v['db_cpu_ms'])})" if v.get("db_cpu_ms") else "")
        for k, v in floors.items()
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
