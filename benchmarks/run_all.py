"""Run every benchmark of ctrnet in turn and print their figures (record them in
docs/benchmarks.md with the date and machine). Kernel benchmarks are skipped without root.

    python benchmarks/run_all.py            # or: tox -e bench
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (script, arguments, needs root)
BENCHMARKS: list[tuple[str, list[str], bool]] = [
    ("sim_build.py", ["--n", "10000"], False),
    ("sim_nat.py", [], False),
    ("netfilter_eval.py", [], False),
    ("netfilter_eval.py", ["--unindexable"], False),
    ("ipam_alloc.py", [], False),
    ("shim_latency.py", [], False),
    ("cli_startup.py", [], False),
    ("kernel_build.py", ["--n", "100"], True),
    ("dnat_install.py", ["--n", "1000"], True),
    ("connect_latency.py", ["--n", "100"], True),
    ("suite_ratio.py", [], True),
    ("sandbox_overhead.py", [], False),
    ("grade_class.py", ["--n", "30", "--backend", "sim"], False),
]


def main() -> int:
    failed = 0
    for script, args, needs_root in BENCHMARKS:
        path = HERE / script
        print(f"== {script} {' '.join(args)}", flush=True)
        if not path.exists():
            print("   (not present)")
            continue
        if needs_root and os.geteuid() != 0:
            print("   skipped: needs root")
            continue
        failed |= subprocess.run([sys.executable, str(path), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
