"""The application under gunicorn on 127.0.0.1, as it is deployed.

Workers: the machine has 2 cores, the app is CPU-bound Python (every request parses,
renders and hashes under the GIL) and the database runs locally, so one worker
process per core (``-w 2``). ``gthread`` with 2 threads because gunicorn's ``sync``
worker closes every connection after one response: threads give HTTP keep-alive,
which is how a phone or a reverse proxy talks to the app, and let a worker overlap a
request that waits on a database lock. (2×cores+1 sync workers would only add
processes fighting for the same two cores the client and PostgreSQL also use.)
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import util

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """User + system CPU time of processes (0 for one that has gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def peak_rss_kb(pids) -> int:
    """The largest high-water resident set (VmHWM) among ``pids``, in kB."""
    peak = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database_url: str, log_path: Path, *, workers: int = 2, threads: int = 2):
        self.database_url = database_url
        self.log_path = log_path
        self.workers = workers
        self.threads = threads
        self.port = None
        self.proc = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "60",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ]

    def start(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        env = util.app_env(self.database_url, secret_key=os.urandom(24).hex())
        self.log = open(self.log_path, "w")  # noqa: SIM115 (kept open while the server runs)
        self.proc = subprocess.Popen(self.command, cwd=util.ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/ping")
                status = conn.getresponse().status
                conn.close()
                if status == 401:  # the app answers: not logged in
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's child processes."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                pids.append(int(entry))
        return pids

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its own workers
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.proc = None
