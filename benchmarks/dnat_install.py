"""Install N DNAT port mappings in a sandbox namespace: one iptables-restore vs N iptables runs.

    sudo python benchmarks/dnat_install.py --n 1000   # targets: restore <= 1 s, >= 20x faster

The backend's `iptables_restore` applies all N rules as one nf_tables transaction (one process);
the baseline runs one `iptables -t nat -A PREROUTING …` per mapping in the namespace, as a
script publishing ports one by one does. Both must leave the same nat table. Each run gets a
fresh world; everything is removed afterwards, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from ctrnet.backends.kernel.backend import KernelBackend

PUBLIC_IP = "198.51.100.1"
FIRST_PORT = 10000


def mapping(i: int) -> list[str]:
    """The i-th mapping as iptables argv (without the command)."""
    backend_ip = f"172.20.{i // 250}.{i % 250 + 2}"
    return ["PREROUTING", "-d", f"{PUBLIC_IP}/32", "-p", "tcp", "-m", "tcp", "--dport",
            str(FIRST_PORT + i), "-j", "DNAT", "--to-destination", f"{backend_ip}:80"]


def install_with_restore(n: int) -> tuple[float, str]:
    text = "*nat\n" + "".join("-A " + " ".join(mapping(i)) + "\n" for i in range(n)) + "COMMIT\n"
    with KernelBackend() as world:
        start = time.perf_counter()
        world.iptables_restore(world.host_ns, text)
        elapsed = time.perf_counter() - start
        return elapsed, world.iptables_save(world.host_ns, table="nat")


def install_one_by_one(n: int, runner: list[str]) -> tuple[float, str]:
    with KernelBackend() as world:
        enter = [part.replace("{ns}", world.real_netns(world.host_ns)) for part in runner]
        start = time.perf_counter()
        for i in range(n):
            subprocess.run([*enter, "iptables", "-w", "-t", "nat", "-A", *mapping(i)],
                           check=True)
        elapsed = time.perf_counter() - start
        return elapsed, world.iptables_save(world.host_ns, table="nat")


RUNNERS = {
    "ip-netns-exec": ["ip", "netns", "exec", "{ns}"],
    "nsenter": ["nsenter", "--net=/run/netns/{ns}", "--"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="port mappings (default 1000)")
    parser.add_argument("--baseline", choices=sorted(RUNNERS), default="ip-netns-exec",
                        help="how each baseline iptables enters the namespace")
    args = parser.parse_args()
    restore_s, restored = install_with_restore(args.n)
    single_s, singles = install_one_by_one(args.n, RUNNERS[args.baseline])
    if restored != singles or restored.count("-j DNAT") != args.n:
        print("the two ways left different nat tables", file=sys.stderr)
        return 1
    ratio = single_s / restore_s
    print(f"{args.n} DNAT mappings, one iptables-restore:      {restore_s * 1000:8.1f} ms")
    print(f"{args.n} DNAT mappings, {args.n} iptables ({args.baseline}): "
          f"{single_s * 1000:8.1f} ms")
    print(f"ratio: {ratio:.1f}x (targets: restore <= 1000 ms, ratio >= 20x)")
    return 0 if restore_s <= 1.0 and ratio >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
