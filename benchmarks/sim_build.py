"""Benchmark: build N containers on the simulator and report time per container and peak RSS.

Each container is what ctrnet builds for one: a namespace, a veth pair with one end in a
bridge of the host namespace, an address, a default route, links up. A Linux bridge takes at
most 1023 ports (BR_MAX_PORTS), so containers fill bridges of 1000 ports, one /16 each.
Run: python benchmarks/sim_build.py --n 10000
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time

from ctrnet.backend import HOST_NS
from ctrnet.backends.sim import SimBackend

PORTS_PER_BRIDGE = 1000


def build(n: int) -> list[float]:
    backend = SimBackend()
    host = HOST_NS
    per_container: list[float] = []
    clock = time.perf_counter
    bridge = gateway = ""
    for i in range(n):
        start = clock()
        group, slot = divmod(i, PORTS_PER_BRIDGE)
        if slot == 0:
            bridge, gateway = f"br{group}", f"10.{group}.0.1"
            backend.bridge_add(host, bridge)
            backend.addr_add(host, bridge, f"{gateway}/16")
            backend.link_set_up(host, bridge)
        ns = f"ctr{i}"
        host_end = f"veth{i}"
        backend.netns_add(ns)
        backend.veth_add(host, host_end, "eth0", ns)
        backend.link_set_master(host, host_end, bridge)
        backend.link_set_up(host, host_end)
        backend.addr_add(ns, "eth0", f"10.{group}.{2 + slot // 250}.{1 + slot % 250}/16")
        backend.link_set_up(ns, "lo")
        backend.link_set_up(ns, "eth0")
        backend.route_add(ns, "default", gateway=gateway)
        per_container.append(clock() - start)
    # Prove the result is a working network, not just records.
    last = n - 1
    assert backend.ping(f"ctr{last}", gateway).received == 1
    if n > 1 and (last // PORTS_PER_BRIDGE) == 0:
        assert backend.ping("ctr0", f"10.0.{2 + last // 250}.{1 + last % 250}").received == 1
    return per_container


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="containers to build")
    args = parser.parse_args(argv)
    gc.collect()
    times = build(args.n)
    ms = [t * 1000 for t in times]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"containers: {args.n}")
    print(f"median ms/container: {statistics.median(ms):.4f}")
    print(f"mean   ms/container: {statistics.fmean(ms):.4f}")
    print(f"max    ms/container: {max(ms):.4f}")
    print(f"total  s: {sum(times):.2f}")
    print(f"peak RSS MiB: {peak_kib / 1024:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
