"""Paths, the ``flask`` command line and the statistics the report uses."""

import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def app_env(database_url: str, secret_key: str = "bench-not-secret") -> dict:
    """The environment of a production deployment: no development switches."""
    env = {k: v for k, v in os.environ.items() if k not in ("MORALBANK_DEV", "FLASK_DEBUG", "FLASK_APP")}
    env.update(DATABASE_URL=database_url, SECRET_KEY=secret_key, PYTHONDONTWRITEBYTECODE="1")
    return env


def flask(args: list[str], database_url: str, *, quiet: bool = False, check: bool = True):
    """Run ``flask --app wsgi ARGS`` against ``database_url``."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=app_env(database_url),
        check=check,
        capture_output=quiet,
        text=True,
    )


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
