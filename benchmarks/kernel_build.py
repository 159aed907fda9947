"""Build N containers on the real kernel, with the kernel backend and with `ip` commands.

    sudo python benchmarks/kernel_build.py --n 100     # targets: <= 7 ms/container, >= 2x ip

A container is a namespace, a veth pair into one bridge of the sandbox host, an address, a
default route via the bridge, links up. The baseline does the same with one `ip` process per
step (what a learner's script does). Prints the median ms per container of each and the ratio.
Everything is removed afterwards, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from ctrnet.backends.kernel.backend import KernelBackend

BRIDGE_CIDR = "10.88.0.1/16"
GATEWAY = "10.88.0.1"


def container_cidr(i: int) -> str:
    return f"10.88.{(i + 2) // 250}.{(i + 2) % 250 + 2}/16"


def build_with_backend(n: int) -> list[float]:
    times = []
    with KernelBackend() as world:
        host = world.host_ns
        world.bridge_add(host, "br0")
        world.addr_add(host, "br0", BRIDGE_CIDR)
        world.link_set_up(host, "br0")
        for i in range(n):
            start = time.perf_counter()
            ns = f"c{i}"
            world.netns_add(ns)
            world.veth_add(host, f"veth{i}", "eth0", peer_ns=ns)
            world.link_set_master(host, f"veth{i}", "br0")
            world.link_set_up(host, f"veth{i}")
            world.link_set_up(ns, "eth0")
            world.addr_add(ns, "eth0", container_cidr(i))
            world.route_add(ns, "default", gateway=GATEWAY)
            times.append(time.perf_counter() - start)
        assert world.ping(f"c{n - 1}", GATEWAY, count=1).received == 1, "benchmark build broken"
    return times


def build_with_ip(n: int) -> list[float]:
    prefix = f"ctrnet-ipbench-{os.getpid()}-"
    made: list[str] = []

    def ip(*argv: str) -> None:
        subprocess.run(["ip", *argv], check=True)

    host = prefix + "host"
    try:
        ip("netns", "add", host)
        made.append(host)
        ip("-n", host, "link", "add", "br0", "type", "bridge")
        ip("-n", host, "addr", "add", BRIDGE_CIDR, "dev", "br0")
        ip("-n", host, "link", "set", "br0", "up")
        times = []
        for i in range(n):
            start = time.perf_counter()
            ns = f"{prefix}c{i}"
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", host, "link", "add", f"veth{i}", "type", "veth", "peer", "name", "eth0",
               "netns", ns)
            ip("-n", host, "link", "set", f"veth{i}", "master", "br0")
            ip("-n", host, "link", "set", f"veth{i}", "up")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "addr", "add", container_cidr(i), "dev", "eth0")
            ip("-n", ns, "route", "add", "default", "via", GATEWAY)
            times.append(time.perf_counter() - start)
        return times
    finally:
        for ns in reversed(made):
            subprocess.run(["ip", "netns", "delete", ns], check=False)


def median_ms(run: Callable[[int], list[float]], n: int) -> float:
    return statistics.median(run(n)) * 1000


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="containers per build")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("kernel_build needs root", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # unwind (and clean up) like Ctrl-C
    backend_ms = median_ms(build_with_backend, args.n)
    ip_ms = median_ms(build_with_ip, args.n)
    ratio = ip_ms / backend_ms
    print(f"kernel build of {args.n} containers, median per container:")
    print(f"  kernel backend {backend_ms:7.2f} ms   (target <= 7 ms)")
    print(f"  ip commands    {ip_ms:7.2f} ms")
    print(f"  ratio          {ratio:7.1f}x   (target >= 2x)")
    return 0 if backend_ms <= 7.0 and ratio >= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
