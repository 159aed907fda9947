"""A class of N submissions graded with `ctrnet grade --class`: wall time, time per
submission, and the peak memory of the whole run (the grader and every process under it,
sampled every 0.2 s).

The class is made from the shell example: the correct plugin and its mutants (one deliberate
mistake each, tests/data/mutants/mutants.json), in turn, each a standalone script as a
learner would hand it in.

    python benchmarks/grade_class.py --n 30 --backend sim [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "examples" / "cni-shell" / "bridge-sh"
MUTANTS = PROJECT / "tests" / "data" / "mutants" / "mutants.json"


def make_class(root: Path, n: int) -> None:
    source = EXAMPLE.read_text()
    variants = [source]
    for mutant in json.loads(MUTANTS.read_text())["mutants"]:
        text = source
        for old, new in mutant["edits"]:
            text = text.replace(old, new, 1)
        variants.append(text)
    for k in range(n):
        plugin = root / f"student{k + 1:02d}"
        plugin.write_text(variants[k % len(variants)])
        plugin.chmod(0o755)


def _tree_rss(top: int) -> int:
    """Resident memory (bytes) of `top` and every process below it."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [top]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--backend", default="sim")
    parser.add_argument("--jobs", type=int)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctrnet-bench-class-") as tmp:
        root = Path(tmp)
        (root / "class").mkdir()
        make_class(root / "class", args.n)
        argv = [sys.executable, "-c", "import sys; from ctrnet.cli import main; "
                "sys.exit(main(sys.argv[1:]))", "grade", "--class", str(root / "class"),
                "--output-dir", str(root / "out"), "--backend", args.backend, "--lang", "en"]
        if args.jobs:
            argv += ["--jobs", str(args.jobs)]
        start = time.monotonic()
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, err = proc.communicate()
        stop.set()
        sampler.join()
        wall = time.monotonic() - start
        summary = (root / "out" / "summary.csv").read_text().splitlines()
        print(err.strip().splitlines()[-1] if err.strip() else "(no output)")
        print(f"submissions: {args.n}  backend: {args.backend}  jobs: "
              f"{args.jobs or os.cpu_count()}  cores: {os.cpu_count()}")
        print(f"wall time: {wall:.1f} s  ({wall / args.n:.1f} s per submission)")
        print(f"peak memory (all processes of the run): {peak / 2**20:.0f} MiB")
        print(f"summary rows: {len(summary) - 1}  exit status: {proc.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
