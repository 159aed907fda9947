"""Packets per second of the simulator's real packet path through a 1,000-rule FORWARD chain.

Namespace `a` sends UDP datagrams to 10.9.0.5, which the host routes via namespace `b`: each
one crosses a's stack, a veth, the host's PREROUTING (conntrack), FORWARD (the chain under
test), POSTROUTING (NAT), neighbour output, another veth, and b's stack, which does not
forward and drops it (a sink that costs no second chain).
typical: a Docker-like chain (a RELATED,ESTABLISHED rule, then per-container rules pinning
destination, interface and port) and MASQUERADE on the way out; packets belong to 1,000 flows
and each matches one container rule. miss: the same chain, but no container rule
matches: each packet walks the whole chain (the candidate index skips what cannot match) to a
final catch-all ACCEPT. worst: 1,000 rules no index can skip (inverted source, multiport,
conntrack), so every packet is tested against every rule, up to the catch-all.
Run: python benchmarks/sim_nat.py [--rules N] [--packets N] [--case typical|miss|worst|all]
"""

from __future__ import annotations

import argparse
import sys
import time

from ctrnet.backends.sim import SimBackend
from ctrnet.backends.sim.ipv4 import ip_local_out
from ctrnet.backends.sim.packet import IPPROTO_UDP, IPv4, Udp, parse_ip

#: Packets sent before the world is run (a burst, as a NIC's NAPI poll would hand them up).
BATCH = 100


def _world(rules_text: str) -> SimBackend:
    backend = SimBackend()
    host = backend.host_ns
    for name, net in (("a", "10.1.0"), ("b", "10.2.0")):
        backend.netns_add(name)
        backend.veth_add(host, f"to-{name}", "eth0", name)
        backend.addr_add(host, f"to-{name}", f"{net}.1/24")
        backend.addr_add(name, "eth0", f"{net}.2/24")
        for ns, dev in ((host, f"to-{name}"), (name, "eth0"), (name, "lo")):
            backend.link_set_up(ns, dev)
        backend.route_add(name, "default", gateway=f"{net}.1")
    backend.sysctl_set(host, "net.ipv4.ip_forward", "1")
    backend.route_add(host, "10.9.0.0/24", gateway="10.2.0.2")
    backend.iptables_restore(host, rules_text)
    assert backend.ping("a", "10.2.0.2").received == 1  # neighbours resolved, path works
    backend.iptables_zero(host)
    return backend


def typical(rules: int) -> tuple[str, list[int]]:
    lines = ["*filter", ":FORWARD DROP [0:0]",
             "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
             "-A FORWARD -p icmp -j ACCEPT"]
    ports = []
    for n in range(rules - 2):
        port = 10000 + n
        ports.append(port)
        lines.append(f"-A FORWARD -d 10.9.0.5/32 ! -i to-b -o to-b -p udp -m udp --dport {port}"
                     f" -m comment --comment \"container {n}\" -j ACCEPT")
    lines += ["COMMIT", "*nat", "-A POSTROUTING -s 10.1.0.0/24 -o to-b -j MASQUERADE", "COMMIT"]
    return "\n".join(lines) + "\n", ports


def miss(rules: int) -> tuple[str, list[int]]:
    text, ports = typical(rules - 1)
    text = text.replace("COMMIT\n*nat", "-A FORWARD -j ACCEPT\nCOMMIT\n*nat", 1)
    return text, [port + 30000 for port in ports]


def worst(rules: int) -> tuple[str, list[int]]:
    lines = ["*filter"]
    for n in range(rules - 1):
        lines.append(f"-A FORWARD ! -s 10.1.0.0/24 -p udp -m multiport --dports "
                     f"{n + 5000}:{n + 5001},{n + 7000} -m conntrack ! --ctstate INVALID "
                     "-j DROP")
    lines += ["-A FORWARD -j ACCEPT", "COMMIT"]
    return "\n".join(lines) + "\n", [40000 + n for n in range(rules)]


def run(case: str, rules: int, packets: int) -> tuple[float, float]:
    """Packets per second of wall time and of CPU time (the latter unaffected by a busy
    machine)."""
    text, ports = {"typical": typical, "miss": miss, "worst": worst}[case](rules)
    backend = _world(text)
    world = backend.world
    a = world.ns("a")
    src, dst = parse_ip("10.1.0.2"), parse_ip("10.9.0.5")
    flows = len(ports)
    cpu = time.process_time()
    start = time.perf_counter()
    for n in range(packets):
        port = ports[n % flows]
        packet = IPv4(src, dst, IPPROTO_UDP, Udp(20000 + n % flows, port, b"x" * 32),
                      ident=world.next_ip_id())
        ip_local_out(world, a, packet)
        if n % BATCH == BATCH - 1:
            world.run()
    world.run()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    accepted = _accepted(backend)
    assert accepted == packets, f"{accepted} of {packets} packets accepted in FORWARD"
    return packets / elapsed, packets / cpu


def _accepted(backend: SimBackend) -> int:
    """Packets the FORWARD chain's ACCEPT rules let through."""
    total = 0
    for line in backend.iptables_save(backend.host_ns, table="filter",
                                      counters=True).splitlines():
        if line.startswith("[") and line.endswith("-j ACCEPT") and "-A FORWARD" in line:
            total += int(line[1:line.index(":")])
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--case", choices=("typical", "miss", "worst", "all"), default="all")
    args = parser.parse_args(argv)
    cases = ("typical", "miss", "worst") if args.case == "all" else (args.case,)
    for case in cases:
        wall, cpu = run(case, args.rules, args.packets)
        print(f"{case:8} {args.rules} rules, {args.packets} packets: {wall:,.0f} packets/s "
              f"({cpu:,.0f} per CPU second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
