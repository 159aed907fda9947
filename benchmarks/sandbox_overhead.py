"""What the plugin sandbox costs per call: /bin/true run N times through
`ctrnet.grade.sandbox.Sandbox` contained (user, pid, mount and network namespaces, the
unprivileged id, the init, counting leftovers) and not contained (the init and limits only).

    python benchmarks/sandbox_overhead.py [--n 50]      # as root for the full containment
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ctrnet.grade.sandbox import Sandbox


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for contain in (False, True):
            sandbox = Sandbox(Path(tmp), contain=contain)
            times = []
            for _ in range(args.n):
                start = time.monotonic()
                done = sandbox.run("/bin/true", stdin="", env={"PATH": "/usr/bin:/bin"},
                                   timeout=10)
                times.append(time.monotonic() - start)
                assert done.returncode == 0, done
            sandbox.close()
            median = statistics.median(times) * 1e3
            p90 = sorted(times)[int(0.9 * len(times))] * 1e3
            print(f"contained={sandbox.contained!s:5}  median {median:.1f} ms  p90 {p90:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
