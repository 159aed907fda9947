"""Wall time of the backend-conformance suite on the simulator and on the kernel, in one run.

    sudo python benchmarks/suite_ratio.py            # target: sim >= 20x faster than kernel

Each suite runs in a fresh pytest subprocess (so neither warms the other's imports); the
figure is the wall time of the whole pytest process, collection included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def run_suite(backend: str, extra: list[str]) -> tuple[float, int]:
    argv = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--pyargs", "ctrnet.conformance.backend", "--backend", backend, *extra,
    ]
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    print(f"  {backend:6} {elapsed:8.2f} s   {summary}")
    return elapsed, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k bridge)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("suite_ratio needs root for the kernel run", file=sys.stderr)
        return 2
    print("backend-conformance suite wall time")
    sim, sim_rc = run_suite("sim", args.pytest_args)
    kernel, kernel_rc = run_suite("kernel", args.pytest_args)
    print(f"  ratio  kernel/sim = {kernel / sim:.1f}x (target >= 20x)")
    return 0 if sim_rc == kernel_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
