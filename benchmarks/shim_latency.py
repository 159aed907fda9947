"""Benchmark: end-to-end latency of one simulated command (`ip link show` run by a script
under `ctrnet sim exec`: process start, shim, server round trip, output) and the wall time
of the guide's whole command sequence. Target: <= 40 ms median per command, the guide well
under a second. Run: python benchmarks/shim_latency.py [--n 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUIDE = HERE.parent / "conformance" / "cmdline" / "data" / "guide.sh"
#: Commands timed one by one inside the run (the world is set up so each one succeeds).
COMMANDS: list[list[str]] = [
    ["ip", "link", "show"],
    ["ip", "-j", "addr", "show"],
    ["ip", "netns", "exec", "ctr", "ip", "route", "show"],
    ["bridge", "fdb", "show"],
    ["sysctl", "-n", "net.ipv4.ip_forward"],
    ["ping", "-c", "1", "10.99.0.2"],
    ["sleep", "1"],
    ["iptables", "-S"],
]
SETUP = [
    ["ip", "netns", "add", "ctr"],
    ["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", "ctr"],
    ["ip", "addr", "add", "10.99.0.1/24", "dev", "v0"],
    ["ip", "link", "set", "v0", "up"],
    ["ip", "-n", "ctr", "addr", "add", "10.99.0.2/24", "dev", "v1"],
    ["ip", "-n", "ctr", "link", "set", "v1", "up"],
]


def ctrnet() -> list[str]:
    return [sys.executable, "-m", "ctrnet.cli"]


def inner(n: int) -> None:
    """Runs inside `ctrnet sim exec`: time each command n times, print JSON."""
    for argv in SETUP:
        subprocess.run(argv, check=True)
    result: dict[str, float] = {}
    for argv in COMMANDS:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            times.append(time.perf_counter() - start)
            if proc.returncode not in (0, 2):  # 2: iptables absent from this simulator build
                raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode()}")
        result[" ".join(argv)] = statistics.median(times) * 1000
    print(json.dumps(result))


def outer(n: int) -> int:
    out = subprocess.run([*ctrnet(), "sim", "exec", "--", sys.executable, __file__,
                          "--inner", "--n", str(n)], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return 1
    medians: dict[str, float] = json.loads(out.stdout)
    for command, ms in medians.items():
        print(f"  {command:48} {ms:6.1f} ms median")
    overall = statistics.median(medians.values())
    print(f"shim command, median of medians: {overall:.1f} ms (target <= 40 ms)")
    start = time.perf_counter()
    timed = ('start=$(date +%s%N); sh "$0" > /dev/null 2>&1; status=$?; '
             'echo $(( ($(date +%s%N) - start) / 1000000 )) $status')
    run = subprocess.run([*ctrnet(), "sim", "exec", "--", "sh", "-c", timed, str(GUIDE)],
                         capture_output=True, text=True, cwd=GUIDE.parent)
    elapsed = time.perf_counter() - start
    inside, status = run.stdout.split()
    commands = sum(1 for line in GUIDE.read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith("#"))
    print(f"guide sequence ({commands} commands): {inside} ms inside the run (exit {status}); "
          f"whole `ctrnet sim exec` including its start-up: {elapsed * 1000:.0f} ms")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.n)
        return 0
    os.environ.pop("CTRNET_SIM_SOCKET", None)
    return outer(args.n)


if __name__ == "__main__":
    sys.exit(main())
