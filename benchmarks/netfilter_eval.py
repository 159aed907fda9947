"""Packets per second of the netfilter evaluator: a 1,000-rule chain, 100,000 evaluations.

The chain is what a busy container host has: per-container ACCEPT rules on destination /32
and port, per-subnet rules, interface rules, conntrack and comment matches, a few LOG/MARK
rules that do not end the walk and a jump into a user chain; packets are drawn so that most of
them traverse the whole chain and end on its policy (the worst case for a linear walk).
Run: python benchmarks/netfilter_eval.py [--rules N] [--packets N] [--unindexable]
"""

from __future__ import annotations

import argparse
import random
import time

from ctrnet.netfilter import Ruleset
from ctrnet.netfilter.evaluate import Packet, evaluate
from ctrnet.netfilter.model import CtState


def build_unindexable(rules: int) -> Ruleset:
    """Worst case for the candidate index: no rule pins an indexed field, so every packet's
    walk tests every rule's closure (inverted addresses, multiport, conntrack)."""
    text = ["*filter"]
    for n in range(rules):
        text.append(f"-A FORWARD ! -s 172.16.{n & 255}.0/24 -p tcp -m multiport --dports "
                    f"{n + 5000}:{n + 5001},{n + 7000} -m conntrack ! --ctstate INVALID -j ACCEPT")
    text.append("COMMIT")
    rs = Ruleset()
    rs.restore("\n".join(text) + "\n")
    return rs


def build(rules: int, rng: random.Random) -> Ruleset:
    rs = Ruleset()
    rs.run("-N CONTAINERS")
    rs.run("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    rs.run("-A FORWARD -j CONTAINERS")
    text = ["*filter"]
    for n in range(rules - 2):
        kind = n % 10
        host = f"10.{(n >> 8) & 255}.{n & 255}.2"
        if kind < 5:
            text.append(f"-A CONTAINERS -d {host}/32 ! -i br0 -o br0 -p tcp -m tcp "
                        f"--dport {1000 + n} -m comment --comment \"c{n}\" -j ACCEPT")
        elif kind == 5:
            text.append(f"-A CONTAINERS -s 172.{16 + n % 16}.{n & 255}.0/24 -p udp -m multiport "
                        f"--dports 53,{2000 + n} -j ACCEPT")
        elif kind == 6:
            text.append(f"-A CONTAINERS -i veth{n} -j LOG --log-prefix \"v{n} \"")
        elif kind == 7:
            text.append(f"-A CONTAINERS -m mark --mark 0x{n:x}/0xffff -j DROP")
        elif kind == 8:
            text.append(f"-A CONTAINERS -d {host}/32 -p tcp -m tcp --dport 22 -j MARK "
                        f"--set-mark 0x{n:x}")
        else:
            text.append(f"-A CONTAINERS -s 192.168.{n & 255}.0/24 -o eth{n % 4} -j RETURN")
    text.append("COMMIT")
    rs.restore("\n".join(text) + "\n")
    return rs


def packets(count: int, rng: random.Random) -> list[Packet]:
    out = []
    for _ in range(count):
        proto = rng.choice((6, 6, 17, 1))
        out.append(Packet(
            src=rng.getrandbits(32), dst=(10 << 24) | rng.getrandbits(16) << 8 | 2,
            proto=proto,
            sport=rng.randrange(1024, 65536) if proto != 1 else None,
            dport=rng.randrange(1, 4000) if proto != 1 else None,
            icmp_type=8 if proto == 1 else None, icmp_code=0 if proto == 1 else None,
            iif=rng.choice(("eth0", "br0", "veth7")), oif=rng.choice(("br0", "eth1")),
            ctstate=rng.choice((CtState.NEW, CtState.NEW, CtState.NEW, CtState.ESTABLISHED)),
            mark=rng.getrandbits(8), length=rng.randrange(60, 1500)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--unindexable", action="store_true",
                        help="rules the candidate index cannot narrow (linear walk)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rs = build_unindexable(args.rules) if args.unindexable else build(args.rules, rng)
    chain_rules = sum(len(c.rules) for c in rs.table("filter").chains.values())
    pkts = packets(args.packets, rng)
    evaluate(rs, "filter", "FORWARD", pkts[0], count=False)  # compile outside the timing
    verdicts: dict[str, int] = {}
    start = time.perf_counter()
    for p in pkts:
        outcome = evaluate(rs, "filter", "FORWARD", p)
        key = outcome.verdict.value if outcome.rule else f"policy {outcome.verdict.value}"
        verdicts[key] = verdicts.get(key, 0) + 1
    elapsed = time.perf_counter() - start
    print(f"rules: {chain_rules}  packets: {len(pkts)}  verdicts: {verdicts}")
    print(f"{len(pkts) / elapsed:,.0f} packets/s ({elapsed:.2f} s)")


if __name__ == "__main__":
    main()
