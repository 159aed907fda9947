"""Benchmark: start-up of the `ctrnet` command line. Wall time of whole commands in a fresh
process each (`ctrnet --help`, `ctrnet --version`, `ctrnet network ls` on an empty
simulator state directory), beside a bare interpreter's start (`python -c pass`), median of
N runs; and what `import ctrnet.cli` costs by itself (`python -X importtime`: the cumulative
microseconds of `ctrnet.cli`, median of N), how many modules it loads, and whether pytest is
among them (it must not be: only grading and the suite use pytest).

    python benchmarks/cli_startup.py [--n 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CTRNET = [sys.executable, "-m", "ctrnet.cli"]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_")}
    env["LC_ALL"] = "C"
    return env


def wall_ms(argv: list[str], n: int, env: dict[str, str]) -> float:
    """Median wall time of `argv` run n times, in milliseconds (one warm-up run first)."""
    times = []
    for attempt in range(n + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
        if attempt:  # the first run fills the page cache and writes .pyc files
            times.append(elapsed)
    return statistics.median(times) * 1000


def import_ms(module: str, n: int, env: dict[str, str]) -> float:
    """Median of `python -X importtime -c 'import MODULE'`'s cumulative time for MODULE."""
    times = []
    for _ in range(n):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                              env=env, capture_output=True, text=True, check=True)
        for line in done.stderr.splitlines():
            fields = line.removeprefix("import time:").split("|")
            if len(fields) == 3 and fields[2].strip() == module:
                times.append(int(fields[1]) / 1000)
                break
        else:
            raise SystemExit(f"no import time reported for {module}")
    return statistics.median(times)


def loaded(module: str, env: dict[str, str]) -> tuple[int, bool]:
    """How many modules `import MODULE` leaves in sys.modules, and whether pytest is one."""
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; "
         "print(len(sys.modules), any(m == 'pytest' or m.startswith(('pytest.', '_pytest'))"
         " for m in sys.modules))"],
        env=env, capture_output=True, text=True, check=True)
    count, pytest = done.stdout.split()
    return int(count), pytest == "True"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="runs per measure (default 20)")
    args = parser.parse_args()
    env = _environment()
    with tempfile.TemporaryDirectory(prefix="ctrnet-bench-") as state:
        commands = {
            "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
            "ctrnet --version": [*CTRNET, "--version"],
            "ctrnet --help": [*CTRNET, "--help"],
            "ctrnet network ls (sim)": [*CTRNET, "network", "ls", "--backend", "sim",
                                        "--state-dir", state],
        }
        for name, argv in commands.items():
            print(f"{name:40} {wall_ms(argv, args.n, env):7.1f} ms median of {args.n}")
    print(f"{'import ctrnet.cli (-X importtime)':40} "
          f"{import_ms('ctrnet.cli', args.n, env):7.1f} ms median of {args.n}")
    count, pytest = loaded("ctrnet.cli", env)
    print(f"{'modules loaded by import ctrnet.cli':40} {count:5d}   pytest among them: "
          f"{'yes' if pytest else 'no'}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if pytest else 0


if __name__ == "__main__":
    sys.exit(main())
