"""What a packet trace reports: the hops of one packet and of its reply, each in a namespace
(device in or out, routing decision, neighbour lookup, bridge decision, a netfilter chain's
verdict with the rule that decided, conntrack state, NAT rewrite, delivery or drop), and a
rendering for people. Both backends fill these types; `chains()` is what they must agree on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ctrnet.errors import InvalidConfig, Unreachable

if TYPE_CHECKING:
    from ctrnet.backend import Backend


class Direction(StrEnum):
    REQUEST = "request"
    REPLY = "reply"


class Step(StrEnum):
    SEND = "send"  # a program in the namespace sends the packet
    RECEIVE = "receive"  # a device hands it in
    TRANSMIT = "transmit"  # a device sends it out
    ROUTE = "route"  # the routing decision
    NEIGH = "neigh"  # next-hop MAC lookup (ARP)
    BRIDGE = "bridge"  # FDB hit, flood, hairpin, port state
    NETFILTER = "netfilter"  # one chain's verdict
    CONNTRACK = "conntrack"  # the connection state the packet got
    NAT = "nat"  # an address/port rewrite
    DELIVER = "deliver"  # handed to the local protocol/socket
    DROP = "drop"  # the end, with the reason


@dataclass(frozen=True)
class Hop:
    """One thing that happened to the packet. For NETFILTER, `table`/`chain` say where,
    `rule` the 1-based number of the rule that decided (None: the chain's policy), and
    `verdict` what it decided (ACCEPT, DROP, REJECT, DNAT, …)."""

    direction: Direction
    ns: str
    step: Step
    detail: str
    dev: str | None = None
    table: str | None = None
    chain: str | None = None
    rule: int | None = None
    verdict: str | None = None

    def text(self) -> str:
        where = f"{self.ns}" + (f" {self.dev}" if self.dev else "")
        return f"[{where}] {self.step.value:9} {self.detail}"


@dataclass(frozen=True)
class ChainVerdict:
    """A netfilter chain a packet went through and what it decided there."""

    direction: Direction
    ns: str
    table: str
    chain: str
    rule: int | None
    verdict: str

    def __str__(self) -> str:
        by = f"rule {self.rule}" if self.rule is not None else "policy"
        return (f"{self.direction.value} {self.ns} {self.table}:{self.chain} {by} "
                f"{self.verdict}")


@dataclass(frozen=True)
class PacketTrace:
    """A traced exchange: from namespace `src_ns` to `dst` (`port` for TCP/UDP).

    `outcome` is how the exchange ended for the sender ("answered", "refused",
    "unreachable", "timeout"), `hops` what happened on the way, in order.
    """

    src_ns: str
    dst: str
    proto: str
    port: int | None
    outcome: str
    hops: tuple[Hop, ...]

    def chains(self, direction: Direction | None = None) -> list[ChainVerdict]:
        """The netfilter chains each packet went through, with their verdicts, in order."""
        return [ChainVerdict(h.direction, h.ns, h.table or "", h.chain or "", h.rule,
                             h.verdict or "")
                for h in self.hops if h.step is Step.NETFILTER
                and (direction is None or h.direction is direction)]

    def decisive(self, direction: Direction | None = None) -> list[ChainVerdict]:
        """The chains that decided something: a rule matched, or a policy other than
        ACCEPT applied (an empty chain that accepts changes nothing, and the kernel may or
        may not run it)."""
        return [c for c in self.chains(direction) if c.rule is not None or c.verdict != "ACCEPT"]

    def dropped(self) -> Hop | None:
        """The hop where a packet ended up dropped, if one did."""
        return next((h for h in self.hops if h.step is Step.DROP), None)

    def render(self) -> str:
        target = self.dst + (f":{self.port}" if self.port is not None else "")
        lines = [f"trace {self.proto} from {self.src_ns} to {target}: {self.outcome}"]
        current: Direction | None = None
        for hop in self.hops:
            if hop.direction is not current:
                current = hop.direction
                lines.append(f"-- {current.value}")
            lines.append("  " + hop.text())
        return "\n".join(lines)


PROTOS = ("icmp", "tcp", "udp")


def run_probe(backend: Backend, ns: str, dst: str, proto: str, port: int | None,
              timeout: float) -> str:
    """Send the traced probe: one ICMP echo, or a TCP/UDP connect to `port`; how it ended
    for the sender ("answered", "refused", "unreachable", "timeout")."""
    from ctrnet.types import ConnectOutcome, Proto

    try:
        if proto == "icmp":
            return "answered" if backend.ping(ns, dst, count=1, timeout=timeout).ok \
                else "timeout"
        if port is None:
            raise InvalidConfig(f"a {proto} trace needs a port (--to ADDR:PORT)")
        # `connect` is a newer Backend operation (both backends have it).
        connect = getattr(backend, "connect")  # noqa: B009
        result = connect(ns, Proto(proto), dst, port, timeout=timeout)
    except Unreachable:
        return "unreachable"
    if result.outcome is ConnectOutcome.CONNECTED:
        return "answered"
    return str(result.outcome.value)
