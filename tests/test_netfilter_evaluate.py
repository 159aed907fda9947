"""A packet's walk through the chains: ipt_do_table's traversal semantics and every match."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ctrnet.errors import InvalidConfig
from ctrnet.netfilter import Ruleset
from ctrnet.netfilter.evaluate import Outcome, Packet, evaluate
from ctrnet.netfilter.match import rule_pred
from ctrnet.netfilter.model import (
    AddrType,
    CtState,
    Dnat,
    Jump,
    Log,
    MarkTarget,
    NatRange,
    Reject,
    Standard,
    Trace,
    Verdict,
)
from ctrnet.netfilter.parse import parse_rule
from ctrnet.netfilter.values import parse_ip

A = parse_ip


def pkt(src: str = "10.0.0.1", dst: str = "10.0.0.2", **kw: Any) -> Packet:
    kw.setdefault("length", 100)
    return Packet(A(src), A(dst), **kw)


def tcp(dport: int = 80, sport: int = 40000, **kw: Any) -> Packet:
    return pkt(proto=6, sport=sport, dport=dport, **kw)


def ruleset(*commands: str, counts_policy: bool = False) -> Ruleset:
    rs = Ruleset(counts_policy=counts_policy)
    for c in commands:
        rs.run(c)
    return rs


def where(outcome: Outcome) -> tuple[str, int] | str:
    if outcome.rule is None:
        return f"policy {outcome.policy_chain} {outcome.verdict.value}"
    return (outcome.rule.chain, outcome.rule.num)


# -- traversal ---------------------------------------------------------------------------------


def test_return_goes_back_to_the_rule_after_the_jump() -> None:
    rs = ruleset("-N U", "-A INPUT -j U", "-A INPUT -j DROP", "-A U -j RETURN", "-A U -j ACCEPT")
    out = evaluate(rs, "filter", "INPUT", pkt())
    assert out.verdict is Verdict.DROP and where(out) == ("INPUT", 2)


def test_falling_off_a_user_chain_returns_like_return() -> None:
    rs = ruleset("-N U", "-A INPUT -j U", "-A INPUT -j DROP", "-A U -s 9.9.9.9 -j ACCEPT")
    assert where(evaluate(rs, "filter", "INPUT", pkt())) == ("INPUT", 2)


def test_return_from_a_gotoed_chain_returns_to_the_caller_of_the_goto_chain() -> None:
    rs = ruleset("-N A", "-N B", "-A INPUT -j A", "-A INPUT -j DROP",
                 "-A A -g B", "-A A -j ACCEPT",  # never reached: B returns past A
                 "-A B -j RETURN")
    assert where(evaluate(rs, "filter", "INPUT", pkt())) == ("INPUT", 2)


def test_goto_from_a_builtin_chain_then_return_applies_the_policy() -> None:
    rs = ruleset("-N B", "-P FORWARD DROP", "-A FORWARD -g B", "-A FORWARD -j ACCEPT",
                 "-A B -j RETURN")
    out = evaluate(rs, "filter", "FORWARD", pkt())
    assert where(out) == "policy FORWARD DROP"


def test_return_in_a_builtin_chain_applies_its_policy() -> None:
    rs = ruleset("-P INPUT DROP", "-A INPUT -j RETURN", "-A INPUT -j ACCEPT")
    assert where(evaluate(rs, "filter", "INPUT", pkt())) == "policy INPUT DROP"


def test_policy_decides_when_nothing_matches() -> None:
    rs = ruleset("-P FORWARD DROP", "-A FORWARD -s 1.1.1.1 -j ACCEPT")
    out = evaluate(rs, "filter", "FORWARD", pkt())
    assert out.verdict is Verdict.DROP and out.rule is None and out.policy_chain == "FORWARD"


def test_log_is_not_terminal_and_writes_a_kernel_style_line() -> None:
    rs = ruleset("-A INPUT -j LOG --log-prefix \"IN: \" --log-level 6", "-A INPUT -j DROP")
    out = evaluate(rs, "filter", "INPUT", tcp(22, 5555, iif="eth0"))
    assert where(out) == ("INPUT", 2)
    assert [(e.level, e.text) for e in out.logs] == [
        (6, "IN: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=100 PROTO=TCP SPT=5555 DPT=22")]


def test_mark_is_not_terminal_and_later_rules_see_the_new_mark() -> None:
    rs = ruleset("-A FORWARD -j MARK --set-mark 0x5", "-A FORWARD -m mark --mark 0x4 -j DROP",
                 "-A FORWARD -m mark --mark 0x5 -j ACCEPT")
    out = evaluate(rs, "filter", "FORWARD", pkt(mark=0x4))
    assert where(out) == ("FORWARD", 3) and out.mark == 0x5


def test_mark_set_in_a_user_chain_is_seen_after_returning() -> None:
    rs = ruleset("-N M", "-A FORWARD -j M", "-A FORWARD -m mark --mark 0x0 -j DROP",
                 "-A FORWARD -m mark --mark 0x7 -j ACCEPT", "-A M -j MARK --set-xmark 0x7")
    assert where(evaluate(rs, "filter", "FORWARD", pkt())) == ("FORWARD", 3)


def test_rule_without_target_only_counts() -> None:
    rs = ruleset("-A INPUT -s 10.0.0.1", "-A INPUT -j DROP")
    out = evaluate(rs, "filter", "INPUT", pkt())
    assert where(out) == ("INPUT", 2)
    assert "[1:100] -A INPUT -s 10.0.0.1/32" in rs.save(counters=True)


def test_counters_grow_per_matching_rule_with_packet_bytes() -> None:
    rs = ruleset("-N U", "-A INPUT -j U", "-A INPUT -p tcp -j ACCEPT", "-A U -j RETURN")
    for length in (60, 1500):
        evaluate(rs, "filter", "INPUT", tcp(length=length))
    evaluate(rs, "filter", "INPUT", pkt(proto=17, sport=1, dport=2, length=40))
    saved = rs.save(counters=True)
    assert "[3:1600] -A INPUT -j U" in saved
    assert "[2:1560] -A INPUT -p tcp -j ACCEPT" in saved
    assert "[3:1600] -A U -j RETURN" in saved
    assert ":INPUT ACCEPT [0:0]" in saved  # iptables-nft does not count base chain policies


def test_policy_counters_grow_when_the_ruleset_counts_them() -> None:
    rs = ruleset("-P INPUT DROP", "-A INPUT -s 1.1.1.1 -j ACCEPT", counts_policy=True)
    evaluate(rs, "filter", "INPUT", pkt(length=84))
    evaluate(rs, "filter", "INPUT", pkt(length=84))
    assert ":INPUT DROP [2:168]" in rs.save()
    assert "Chain INPUT (policy DROP 2 packets, 168 bytes)" in rs.run("-L INPUT -v -n")


def test_count_false_leaves_counters_alone() -> None:
    rs = ruleset("-A INPUT -j ACCEPT")
    evaluate(rs, "filter", "INPUT", pkt(), count=False)
    assert "[0:0] -A INPUT -j ACCEPT" in rs.save(counters=True)


def test_nat_target_accepts_and_carries_its_parameters() -> None:
    rs = ruleset("-t nat -A PREROUTING -d 203.0.113.5 -p tcp --dport 8080 "
                 "-j DNAT --to-destination 10.0.0.2:80")
    out = evaluate(rs, "nat", "PREROUTING", tcp(8080, dst="203.0.113.5"))
    assert out.verdict is Verdict.ACCEPT
    assert out.nat == Dnat(NatRange(A("10.0.0.2"), A("10.0.0.2"), 80, 80))


def test_reject_drops_and_says_what_to_send_back() -> None:
    rs = ruleset("-A INPUT -p tcp -j REJECT --reject-with tcp-reset")
    out = evaluate(rs, "filter", "INPUT", tcp())
    assert out.verdict is Verdict.DROP and out.reject == Reject("tcp-reset")


def test_trace_marks_the_packet_and_later_rules_log_trace_lines() -> None:
    rs = ruleset("-t raw -A PREROUTING -j TRACE")
    assert evaluate(rs, "raw", "PREROUTING", pkt()).traced
    rs.run("-A INPUT -s 10.0.0.1 -j ACCEPT")
    out = evaluate(rs, "filter", "INPUT", pkt(traced=True))
    assert out.logs[0].text.startswith("TRACE: filter:INPUT:rule:1 ")


def test_ruleset_changes_are_seen_by_the_next_evaluation() -> None:
    rs = ruleset("-A INPUT -j ACCEPT")
    assert evaluate(rs, "filter", "INPUT", pkt()).verdict is Verdict.ACCEPT
    rs.run("-I INPUT -j DROP")
    assert evaluate(rs, "filter", "INPUT", pkt()).verdict is Verdict.DROP


# -- matches -----------------------------------------------------------------------------------


def matches(spec: str, packet: Packet, chain: str = "FORWARD") -> bool:
    pred = rule_pred(parse_rule(spec, chain))
    return True if pred is None else pred(packet, packet.mark)


@pytest.mark.parametrize("spec,packet,expected", [
    ("-s 10.0.0.0/24", pkt("10.0.0.77"), True),
    ("-s 10.0.0.0/24", pkt("10.0.1.77"), False),
    ("! -s 10.0.0.0/24", pkt("10.0.1.77"), True),
    ("-d 10.0.0.2", pkt(dst="10.0.0.2"), True),
    ("-d 10.0.0.2", pkt(dst="10.0.0.20"), False),
    ("-s 10.1.2.3/255.0.255.0", pkt("10.9.2.200"), True),
    ("-s 10.1.2.3/255.0.255.0", pkt("11.9.2.200"), False),
    ("-i eth0", pkt(iif="eth0"), True),
    ("-i eth0", pkt(iif="eth00"), False),
    ("-i eth+", pkt(iif="eth00"), True),
    ("! -i veth+", pkt(iif="veth3"), False),
    ("! -i veth+", pkt(iif="br0"), True),
    ("-o br0", pkt(), False),  # no output device at all (an INPUT packet)
    ("! -o br0", pkt(), True),
    ("-p tcp", tcp(), True),
    ("-p udp", tcp(), False),
    ("! -p tcp", tcp(), False),
    ("-p tcp --dport 80", tcp(80), True),
    ("-p tcp --dport 1000:2000", tcp(1500), True),
    ("-p tcp ! --dport 1000:2000", tcp(1500), False),
    ("-p tcp --sport 1024:", tcp(sport=1023), False),
    ("-p tcp --dport 80", pkt(proto=6), False),  # no transport header
    ("-p icmp --icmp-type echo-request", pkt(proto=1, icmp_type=8, icmp_code=0), True),
    ("-p icmp --icmp-type echo-request", pkt(proto=1, icmp_type=0, icmp_code=0), False),
    ("-p icmp --icmp-type 3/3", pkt(proto=1, icmp_type=3, icmp_code=1), False),
    ("-p icmp --icmp-type any", pkt(proto=1, icmp_type=13, icmp_code=0), True),
    ("-p icmp ! --icmp-type 8", pkt(proto=1, icmp_type=0, icmp_code=0), True),
    ("-p tcp -m multiport --dports 80,443,8000:8080", tcp(8042), True),
    ("-p tcp -m multiport --dports 80,443,8000:8080", tcp(8081), False),
    ("-p tcp -m multiport ! --dports 80,443", tcp(22), True),
    ("-p tcp -m multiport --sports 53", tcp(sport=53), True),
    ("-p tcp -m multiport --ports 53", tcp(53, sport=4000), True),
    ("-p tcp -m multiport --ports 53", tcp(54, sport=4000), False),
    ("-m conntrack --ctstate RELATED,ESTABLISHED", pkt(ctstate=CtState.ESTABLISHED), True),
    ("-m conntrack --ctstate RELATED,ESTABLISHED", pkt(ctstate=CtState.NEW), False),
    ("-m conntrack ! --ctstate INVALID", pkt(ctstate=CtState.NEW), True),
    ("-m conntrack --ctstate DNAT", pkt(ctstate=CtState.NEW | CtState.DNAT), True),
    ("-m state --state NEW", pkt(ctstate=CtState.NEW), True),
    ("-m mark --mark 0x1", pkt(mark=1), True),
    ("-m mark --mark 0x1/0xf", pkt(mark=0x31), True),
    ("-m mark --mark 0x1/0xf", pkt(mark=0x32), False),
    ("-m mark ! --mark 0x1", pkt(mark=2), True),
    ("-m comment --comment x", pkt(), True),
])
def test_match_semantics(spec: str, packet: Packet, expected: bool) -> None:
    assert matches(spec, packet) is expected


def local_only(ip: int, dev: str | None) -> AddrType:
    if ip == A("10.0.0.2") and dev in (None, "eth0"):
        return AddrType.LOCAL
    return AddrType.UNICAST


@pytest.mark.parametrize("spec,packet,expected", [
    ("-m addrtype --dst-type LOCAL", pkt(addr_type=local_only), True),
    ("-m addrtype ! --dst-type LOCAL", pkt(addr_type=local_only), False),
    ("-m addrtype --src-type LOCAL", pkt(addr_type=local_only), False),
    ("-m addrtype --dst-type LOCAL,UNICAST --src-type UNICAST", pkt(addr_type=local_only), True),
    ("-m addrtype --dst-type LOCAL --limit-iface-in", pkt(iif="eth1", addr_type=local_only),
     False),
    ("-m addrtype --dst-type LOCAL --limit-iface-in", pkt(iif="eth0", addr_type=local_only),
     True),
])
def test_addrtype_asks_the_packets_route_lookup(spec: str, packet: Packet,
                                                 expected: bool) -> None:
    assert matches(spec, packet) is expected


def test_addrtype_without_a_lookup_is_an_error_not_a_silent_mismatch() -> None:
    with pytest.raises(InvalidConfig, match="addr_type"):
        matches("-m addrtype --dst-type LOCAL", pkt())


BRIDGED: dict[str, Any] = {"bridged": True, "physdev_in": "veth0", "physdev_out": "veth1"}
TO_HOST: dict[str, Any] = {"bridged": True, "physdev_in": "veth0", "physdev_out": None}


@pytest.mark.parametrize("spec,fields,expected", [
    ("-m physdev --physdev-is-bridged", BRIDGED, True),
    ("-m physdev --physdev-is-bridged", TO_HOST, False),
    ("-m physdev ! --physdev-is-bridged", TO_HOST, True),
    ("-m physdev --physdev-is-bridged", {}, False),
    ("-m physdev ! --physdev-is-bridged", {}, True),  # not bridged: inverted tests pass
    ("-m physdev --physdev-in veth0", BRIDGED, True),
    ("-m physdev --physdev-in veth+", BRIDGED, True),
    ("-m physdev --physdev-in veth9", BRIDGED, False),
    ("-m physdev ! --physdev-in veth9", BRIDGED, True),
    ("-m physdev --physdev-out veth1", BRIDGED, True),
    ("-m physdev --physdev-out veth9", TO_HOST, True),  # no out port: physdev_mt says match
    ("-m physdev --physdev-in veth0", {}, False),
    ("-m physdev --physdev-is-in ! --physdev-is-out", TO_HOST, True),
    ("-m physdev --physdev-is-out", TO_HOST, False),
])
def test_physdev_follows_physdev_mt(spec: str, fields: dict[str, Any],
                                    expected: bool) -> None:
    assert matches(spec, pkt(**fields)) is expected


# -- the index never changes a verdict ----------------------------------------------------------


def naive(rs: Ruleset, table: str, chain: str, p: Packet) -> tuple[str, str, int]:
    """A linear ipt_do_table without the candidate index, for cross-checking."""
    tables = rs.table(table)
    stack: list[tuple[str, int]] = []
    mark, name, i = p.mark, chain, 0
    while True:
        rules = tables.chains[name].rules
        if i >= len(rules):
            if stack:
                name, i = stack.pop()
                continue
            return ("policy", chain, 0)  # the hook's underflow, even after a goto
        rule = rules[i]
        pred = rule_pred(rule)
        i += 1
        if pred is not None and not pred(p, mark):
            continue
        t = rule.target
        if t is None or isinstance(t, (Log, Trace)):
            continue
        if isinstance(t, MarkTarget):
            mark = t.apply(mark)
        elif isinstance(t, Jump):
            if not t.goto:
                stack.append((name, i))
            name, i = t.chain, 0
        elif isinstance(t, Standard) and t.verdict is Verdict.RETURN:
            if not stack:
                return ("policy", chain, 0)
            name, i = stack.pop()
        else:
            return ("rule", name, i)


def random_rule(rng: random.Random, chains: list[str]) -> str:
    parts = []
    if rng.random() < 0.4:
        parts.append(f"{rng.choice(['', '! '])}-s 10.0.{rng.randrange(4)}.0/{rng.choice([24, 32])}")
    if rng.random() < 0.4:
        parts.append(f"-d 10.1.0.{rng.randrange(4)}")
    if rng.random() < 0.3:
        parts.append(f"{rng.choice(['', '! '])}-i {rng.choice(['eth0', 'eth+', 'br0'])}")
    if rng.random() < 0.5:
        parts.append("-p tcp")
        if rng.random() < 0.6:
            parts.append(f"{rng.choice(['', '! '])}--dport {rng.choice(['80', '22', '1:100'])}")
        elif rng.random() < 0.5:
            ports = rng.choice(["80,443", "22", "1:100,22", "50,80"])
            parts.append(f"-m multiport {rng.choice(['', '! '])}--{rng.choice(['d', 's', ''])}"
                         f"ports {ports}")
    if rng.random() < 0.3:
        parts.append(f"-m mark {rng.choice(['', '! '])}--mark {rng.randrange(3)}/0x3")
    targets = ["ACCEPT", "DROP", "RETURN", "MARK --set-mark 1", "MARK --set-mark 2",
               "LOG"] + chains
    target = rng.choice(targets)
    verb = "-g" if target in chains and rng.random() < 0.3 else "-j"
    return " ".join(parts + [verb, target])


def test_indexed_walk_agrees_with_a_linear_walk_on_random_rulesets() -> None:
    rng = random.Random(7)
    for _ in range(40):
        rs = Ruleset()
        rs.run("-N C2")
        rs.run("-N C1")
        for chain, callees in (("C2", []), ("C1", ["C2"]), ("FORWARD", ["C1", "C2"])):
            for _ in range(rng.randrange(1, 25)):
                rs.run(f"-A {chain} " + random_rule(rng, callees))
        for _ in range(60):
            p = Packet(A(f"10.0.{rng.randrange(4)}.{rng.choice([0, 5])}"),
                       A(f"10.1.0.{rng.randrange(4)}"), rng.choice([6, 17]),
                       rng.choice([1, 80]), rng.choice([22, 80, 50, 443]),
                       iif=rng.choice(["eth0", "eth1", "br0"]), mark=rng.randrange(4))
            out = evaluate(rs, "filter", "FORWARD", p, count=False)
            expected = naive(rs, "filter", "FORWARD", p)
            got = ("policy", out.policy_chain, 0) if out.rule is None else (
                "rule", out.rule.chain, out.rule.num)
            assert got == expected


def test_indexed_walk_agrees_with_a_linear_walk_on_chains_of_many_words() -> None:
    # Chains longer than one word of the candidate bitset (30 rules): the walk skips empty
    # words and tests dense words with one block function; neither may change a verdict.
    rng = random.Random(11)
    for _ in range(12):
        rs = Ruleset()
        rs.run("-N C1")
        for chain, callees in (("C1", []), ("FORWARD", ["C1"])):
            for _ in range(rng.randrange(30, 140)):
                rs.run(f"-A {chain} " + random_rule(rng, callees))
        for _ in range(60):
            p = Packet(A(f"10.0.{rng.randrange(4)}.{rng.choice([0, 5])}"),
                       A(f"10.1.0.{rng.randrange(4)}"), rng.choice([6, 17]),
                       rng.choice([1, 80]), rng.choice([22, 80, 50, 443]),
                       iif=rng.choice(["eth0", "eth1", "br0"]), mark=rng.randrange(4))
            out = evaluate(rs, "filter", "FORWARD", p, count=False)
            got = ("policy", out.policy_chain, 0) if out.rule is None else (
                "rule", out.rule.chain, out.rule.num)
            assert got == naive(rs, "filter", "FORWARD", p)
