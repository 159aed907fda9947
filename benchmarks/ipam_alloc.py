"""IPAM allocation speed: a whole /16 in memory and on disk, loading a big FileStore, and the
cost of one allocation with 60,000 addresses in use against 1,000 (it must not grow), and
the allocator's memory with 1,000 addresses in use in a /22, a /16 and a /8 (it must not grow
with the subnet).

    python benchmarks/ipam_alloc.py                 # targets: memory /16 <= 1 s,
    python benchmarks/ipam_alloc.py --durable-full  #   FileStore /16 <= 10 s, ratio <= 2

The FileStore runs in a temporary directory (on this machine's /tmp unless TMPDIR says
otherwise). Its /16 target is measured with fsync off; fsync on is measured on a sample and
extrapolated, unless --durable-full runs it whole.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ctrnet.errors import PoolExhausted
from ctrnet.ipam import Allocator, PoolConfig
from ctrnet.ipam_store import FileStore, MemoryStore, Store

CONFIG = PoolConfig.create("bench", "10.16.0.0/16")
StoreFactory = Callable[[], Store]


@contextmanager
def scratch_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="ctrnet-ipam-bench-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def fill(pool: Allocator, limit: int | None = None) -> tuple[int, float]:
    """Allocate until the pool is exhausted (or `limit` addresses); (count, seconds)."""
    count = 0
    start = time.perf_counter()
    try:
        while limit is None or count < limit:
            pool.allocate(f"b{count}")
            count += 1
    except PoolExhausted:
        pass
    return count, time.perf_counter() - start


def whole_slash_16(label: str, factory: StoreFactory, target: float | None) -> bool:
    pool = Allocator(CONFIG, factory())
    count, seconds = fill(pool)
    distinct = len(pool.allocations())
    pool.store.close()
    line = (
        f"  {label:32} {count} addresses in {seconds:6.2f} s ({seconds / count * 1e6:5.1f} µs each)"
    )
    if target is not None:
        line += f"  target <= {target:g} s: {verdict(seconds <= target)}"
    print(line)
    return count == distinct == CONFIG.size


def sampled_durable(root: str, sample: int) -> None:
    pool = Allocator(CONFIG, FileStore(root, "durable", fsync=True))
    count, seconds = fill(pool, sample)
    pool.store.close()
    each = seconds / count
    print(
        f"  {'FileStore, fsync on (sample)':32} {count} addresses in {seconds:6.2f} s"
        f" ({each * 1e6:5.1f} µs each) -> /16 ~ {each * CONFIG.size:.0f} s"
    )


def load_time(root: str, in_use: int) -> None:
    """Time for a fresh FileStore (a new process) to read `in_use` reservations."""
    pool = Allocator(CONFIG, FileStore(root, "load", fsync=False))
    fill(pool, in_use)
    pool.store.close()
    start = time.perf_counter()
    fresh = Allocator(CONFIG, FileStore(root, "load", fsync=False))
    held = fresh.in_use  # the first call loads the directory and builds the free map
    seconds = time.perf_counter() - start
    fresh.store.close()
    print(f"  {'FileStore load':32} {held} reservations in {seconds:6.3f} s")


def per_allocation(
    factory: StoreFactory, in_use: int, rng: random.Random, *, views: int = 1
) -> float:
    """Median µs per allocation with `in_use` addresses held, scattered at random (the free
    addresses are holes all over the range, not one block after the cursor). With views=2,
    two stores of one directory take turns, as two processes would: each call first catches
    up with the other's change."""
    pools = [Allocator(CONFIG, factory()) for _ in range(views)]
    fill(pools[0])
    owners = [f"b{i}" for i in range(CONFIG.size)]
    for owner in rng.sample(owners, CONFIG.size - in_use):
        pools[0].release(owner)
    batches = []
    for batch in range(5):
        start = time.perf_counter()
        for i in range(200):
            pools[i % views].allocate(f"n{batch}-{i}")
        batches.append((time.perf_counter() - start) / 200 * 1e6)
    for pool in pools:
        pool.store.close()
    return statistics.median(batches)


def ratio(
    label: str,
    make_factory: Callable[[str], StoreFactory],
    rng: random.Random,
    *,
    views: int = 1,
) -> None:
    figures = []
    for in_use in (1_000, 60_000):
        with scratch_dir() as root:
            figures.append(per_allocation(make_factory(root), in_use, rng, views=views))
    few, many = figures
    print(
        f"  {label:32} {few:5.1f} µs at 1,000 in use, {many:5.1f} µs at 60,000:"
        f" ratio {many / few:.2f} (target <= 2: {verdict(many / few <= 2)})"
    )


def memory_by_subnet(in_use: int = 1_000) -> bool:
    """Peak memory (tracemalloc) of an allocator and its MemoryStore holding `in_use`
    addresses, for subnets from /24 up to /8: it must follow the addresses, not the subnet."""
    figures = {}
    for subnet in ("10.0.0.0/22", "10.0.0.0/16", "10.0.0.0/8"):
        tracemalloc.start()
        pool = Allocator(PoolConfig.create("mem", subnet), MemoryStore())
        fill(pool, in_use)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures[subnet] = peak
        print(f"  {subnet:32} {in_use} in use: peak {peak / 1024:8.1f} KiB")
    ratio = figures["10.0.0.0/8"] / figures["10.0.0.0/22"]
    print(f"  /8 vs /22 with the same addresses in use: ratio {ratio:.2f}"
          f" (target <= 1.5: {verdict(ratio <= 1.5)})")
    return ratio <= 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durable-sample", type=int, default=3000, metavar="N")
    parser.add_argument("--durable-full", action="store_true", help="fsync-on FileStore, whole /16")
    args = parser.parse_args()
    rng = random.Random(16)
    ok = True

    print(f"whole /16 ({CONFIG}: {CONFIG.size} allocatable)")
    ok &= whole_slash_16("MemoryStore", MemoryStore, 1.0)
    with scratch_dir() as root:
        ok &= whole_slash_16("FileStore, fsync off", lambda: FileStore(root, "a", fsync=False), 10)
    with scratch_dir() as root:
        if args.durable_full:
            ok &= whole_slash_16("FileStore, fsync on", lambda: FileStore(root, "b"), None)
        else:
            sampled_durable(root, args.durable_sample)
    with scratch_dir() as root:
        load_time(root, 60_000)

    print("memory: 1,000 addresses in use, by subnet size")
    ok &= memory_by_subnet()
    print("one allocation, random holes, median of 5 batches of 200")
    ratio("MemoryStore", lambda root: MemoryStore, rng)
    ratio("FileStore, fsync off", lambda root: lambda: FileStore(root, "r", fsync=False), rng)
    ratio(
        "FileStore, 2 views taking turns",
        lambda root: lambda: FileStore(root, "r", fsync=False),
        rng,
        views=2,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
