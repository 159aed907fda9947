"""What the host's iptables rules do to a network's traffic, found by walking stand-in packets
through them with `ctrnet.netfilter.evaluate` (the walk the simulator itself makes): a
container's packet to the outside, the reply coming back, a frame between two containers of
one bridge, and whether a packet leaving for the outside is masqueraded. Nothing is sent:
198.51.100.1 (TEST-NET-2) only stands for "an address outside".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctrnet.errors import CtrnetError
from ctrnet.netfilter.evaluate import evaluate
from ctrnet.netfilter.match import Packet
from ctrnet.netfilter.model import AddrType, CtState, Masquerade, Snat, Verdict
from ctrnet.netfilter.render import rule_spec
from ctrnet.netfilter.ruleset import Ruleset

if TYPE_CHECKING:
    from ctrnet.troubleshoot.doctor import Doctor, Net

OUTSIDE = "198.51.100.1"
ICMP, ECHO_REQUEST, ECHO_REPLY = 1, 8, 0


@dataclass(frozen=True)
class Decided:
    """How FORWARD treated one stand-in packet: accepted or not, and by which rule
    (`rule` None: the policy of `chain`)."""

    accepted: bool
    chain: str
    rule: int | None
    text: str


@dataclass(frozen=True)
class Verdicts:
    """FORWARD's decisions for a network's flows (None: not judged, e.g. no uplink)."""

    policy: str
    outbound: Decided | None
    replies: Decided | None
    bridged: Decided | None


def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _unicast(_ip: int, _dev: str | None) -> AddrType:
    return AddrType.UNICAST


def host_rules(doc: Doctor, table: str) -> Ruleset | None:
    """The host's `table` as a Ruleset, or None when it cannot be read or parsed."""
    try:
        text = doc.backend.iptables_save(doc.host, table=table)
        rules = Ruleset()
        if text.strip():
            rules.restore(text, noflush=False)
        return rules
    except CtrnetError:
        return None


def _decide(rules: Ruleset, packet: Packet) -> Decided:
    outcome = evaluate(rules, "filter", "FORWARD", packet, count=False)
    accepted = outcome.verdict is Verdict.ACCEPT
    if outcome.rule is None:
        return Decided(accepted, outcome.policy_chain or "FORWARD", None, "")
    ref = outcome.rule
    return Decided(accepted, ref.chain, ref.num, rule_spec(ref.rule))


def _address(doc: Doctor, ns: str, ifname: str, recorded: str | None) -> str | None:
    if recorded:
        return recorded
    try:
        addrs = doc.backend.addr_list(ns, ifname)
    except CtrnetError:
        return None
    return addrs[0].ip if addrs else None


def forward_verdicts(doc: Doctor) -> list[tuple[Net, Verdicts]]:
    rules = host_rules(doc, "filter")
    if rules is None:
        return []
    policy = rules.chain("filter", "FORWARD").policy
    policy_name = policy.value if policy is not None else "ACCEPT"
    uplink = doc.uplink()
    bridged_on = doc.sysctl(doc.host, "net.bridge.bridge-nf-call-iptables", "") == "1"
    found = []
    for net in doc.nets:
        ends = [(c, ip) for c in net.containers
                if (ip := _address(doc, c.ns, c.ifname, c.ip)) is not None]
        if not ends:
            continue
        first, src = ends[0]
        outbound = replies = bridged = None
        if uplink is not None:
            outbound = _decide(rules, Packet(
                src=_ip(src), dst=_ip(OUTSIDE), proto=ICMP, icmp_type=ECHO_REQUEST,
                icmp_code=0, iif=net.bridge, oif=uplink, length=84, addr_type=_unicast))
            replies = _decide(rules, Packet(
                src=_ip(OUTSIDE), dst=_ip(src), proto=ICMP, icmp_type=ECHO_REPLY,
                icmp_code=0, iif=uplink, oif=net.bridge, ctstate=CtState.ESTABLISHED,
                length=84, addr_type=_unicast))
        if bridged_on and len(ends) >= 2 and net.icc is not False:
            other, dst = ends[1]
            bridged = _decide(rules, Packet(
                src=_ip(src), dst=_ip(dst), proto=ICMP, icmp_type=ECHO_REQUEST, icmp_code=0,
                iif=net.bridge, oif=net.bridge, length=84, bridged=True,
                physdev_in=first.host_ifname, physdev_out=other.host_ifname,
                addr_type=_unicast))
        found.append((net, Verdicts(policy_name, outbound, replies, bridged)))
    return found


def nat_applies(doc: Doctor, src: str, bridge: str, uplink: str | None) -> bool | None:
    """Whether a packet from `src` leaving by `uplink` (a stand-in name without one) is
    source-NATed in nat POSTROUTING; None when the rules cannot be read."""
    rules = host_rules(doc, "nat")
    if rules is None:
        return None
    outcome = evaluate(rules, "nat", "POSTROUTING", Packet(
        src=_ip(src), dst=_ip(OUTSIDE), proto=ICMP, icmp_type=ECHO_REQUEST, icmp_code=0,
        oif=uplink or "uplink-0", length=84, addr_type=_unicast), count=False)
    return isinstance(outcome.nat, Masquerade | Snat)
