"""Soak: a bounded load on 127.0.0.1 while the scheduler keeps refreshing the demo.

Starts `tidings demo` (SQLite, scheduler on, the demo publishers with their deliberate
faults) with polling squeezed to every 10-20 s so refreshes write all the time, then runs wrk
(pinned to one core, the server on the other) over the front page, articles, stories, a tag,
search, feeds and the API for `--seconds`, sampling the server's memory every second. It
fails (exit 1) on any non-2xx/3xx response, socket error, "database is locked" or traceback
in the server's log, or memory growth past `--max-growth-mb` after the warm-up.

    python bench/soak.py                 # 180 s
    python bench/soak.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PATHS = [
    "/",
    "/articles/1",
    "/articles/42",
    "/articles/120",
    "/stories/1",
    "/stories/5",
    "/search?q=panda+cub",
    "/search?q=%E5%85%A8%E7%B7%9A%E5%8A%A0%E5%83%B9",
    "/tags/Typhoon",
    "/sources/1",
    "/feeds/latest.rss",
    "/api/v1/articles?limit=20",
    "/api/v1/search?q=ferry",
    "/briefing",
]
WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


def wait_for(port: int, process: subprocess.Popen[bytes], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"tidings demo exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the site did not answer on port {port} within {limit_s:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--max-growth-mb", type=float, default=80.0)
    args = parser.parse_args()
    site, publishers = free_port(), free_port()
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "soak.db"
        env = os.environ | {
            "TIDINGS_DATABASE_URL": f"sqlite:///{database}",
            "TIDINGS_POLL_MIN_INTERVAL_S": "10",
            "TIDINGS_POLL_MAX_INTERVAL_S": "20",
            "TIDINGS_RETRY_BASE_S": "10",
            "TIDINGS_RETRY_MAX_S": "20",
        }
        log_path = Path(directory) / "server.log"
        with log_path.open("wb") as log:
            command = [sys.executable, "-m", "tidings", "demo", "--port", str(site)]
            server = subprocess.Popen(
                ["taskset", "-c", "0", *command, "--publisher-port", str(publishers)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_for(site, server, limit_s=600)
                figures = soak(args, site, server.pid, database)
            finally:
                server.terminate()
                server.wait(timeout=30)
        log_text = log_path.read_text(errors="replace")
    locked = log_text.count("database is locked")
    tracebacks = log_text.count("Traceback")
    growth = figures["rss_end_mb"] - figures["rss_warm_mb"]
    print("| figure | value |\n|---|---:|")
    for name, value in figures.items():
        print(
            f"| {name} | {value:,.1f} |" if isinstance(value, float) else f"| {name} | {value:,} |"
        )
    print(f"| database is locked (log) | {locked} |\n| tracebacks (log) | {tracebacks} |")
    print(f"| memory growth after warm-up (MB) | {growth:.1f} (bound {args.max_growth_mb:.0f}) |")
    failed = (
        figures["non_2xx_3xx"] or figures["socket_errors"] or locked or tracebacks
    ) or growth > args.max_growth_mb
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


def soak(args: argparse.Namespace, port: int, pid: int, database: Path) -> dict[str, float | int]:
    refreshes_before = _refreshes(database)
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append(rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(f'"{path}"' for path in PATHS))
    clock = time.monotonic()
    result = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{args.connections}",
            f"-d{args.seconds}s",
            "--latency",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - clock
    stop.set()
    sampler.join()
    os.unlink(script.name)
    output = result.stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    warm = samples[min(args.warmup, len(samples) - 1)] if samples else 0.0
    return {
        "seconds": round(elapsed, 1),
        "requests": requests,
        "requests/s": requests / elapsed,
        "p50 ms": _latency(output, "50%"),
        "p99 ms": _latency(output, "99%"),
        "non_2xx_3xx": int(non_ok.group(1)) if non_ok else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
        "refreshes during the soak": _refreshes(database) - refreshes_before,
        "rss_warm_mb": warm,
        "rss_peak_mb": max(samples, default=0.0),
        "rss_end_mb": samples[-1] if samples else 0.0,
    }


def _latency(output: str, percentile: str) -> float:
    found = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)\b", output)
    if not found:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _refreshes(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM fetch_log").fetchone()[0])


if __name__ == "__main__":
    sys.exit(main())
