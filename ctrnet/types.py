"""Observation types both backends return: what a link, address, route, neighbour, FDB
entry, ping or packet trace looks like from outside. Frozen dataclasses of plain values
(strings, ints), so a test, or a diff between the backends, compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class OperState(StrEnum):
    """RFC 2863 operational state, as the kernel reports it in IFLA_OPERSTATE."""

    UNKNOWN = "UNKNOWN"  # loopback when up: the kernel never sets it to UP
    DOWN = "DOWN"
    LOWERLAYERDOWN = "LOWERLAYERDOWN"  # veth up while its peer is down
    UP = "UP"


class LinkKind(StrEnum):
    LOOPBACK = "loopback"
    VETH = "veth"
    BRIDGE = "bridge"
    OTHER = "other"


class PortState(IntEnum):
    """Bridge port STP state (IFLA_BRPORT_STATE, include/uapi/linux/if_bridge.h)."""

    DISABLED = 0
    LISTENING = 1
    LEARNING = 2
    FORWARDING = 3
    BLOCKING = 4


class NeighState(StrEnum):
    """Neighbour (ARP) entry states, include/uapi/linux/neighbour.h."""

    INCOMPLETE = "INCOMPLETE"
    REACHABLE = "REACHABLE"
    STALE = "STALE"
    DELAY = "DELAY"
    PROBE = "PROBE"
    FAILED = "FAILED"
    NOARP = "NOARP"
    PERMANENT = "PERMANENT"


@dataclass(frozen=True)
class BridgeInfo:
    """Bridge attributes; times in seconds (the kernel keeps centiseconds)."""

    stp_state: int
    forward_delay: float
    ageing_time: float


@dataclass(frozen=True)
class PortInfo:
    """Attributes of a device enslaved to a bridge."""

    state: PortState
    hairpin: bool
    learning: bool


@dataclass(frozen=True)
class Link:
    ns: str
    name: str
    index: int
    kind: LinkKind
    mac: str  # lower-case, colon separated
    mtu: int
    up: bool  # administrative state (IFF_UP)
    operstate: OperState
    carrier: bool
    master: str | None = None  # bridge name, same namespace
    peer: str | None = None  # veth peer's name
    peer_ns: str | None = None  # veth peer's namespace
    bridge: BridgeInfo | None = None  # set when kind is BRIDGE
    port: PortInfo | None = None  # set when the link is a bridge port


@dataclass(frozen=True)
class Address:
    ns: str
    ifname: str
    ip: str
    prefixlen: int

    @property
    def cidr(self) -> str:
        return f"{self.ip}/{self.prefixlen}"


@dataclass(frozen=True)
class Route:
    """A route of the main table. `dst` is "default" or "a.b.c.d/len"."""

    ns: str
    dst: str
    dev: str
    gateway: str | None = None
    prefsrc: str | None = None
    scope: str = "universe"  # "link" for connected routes
    proto: str = "static"  # "kernel" for connected routes, "boot" for `ip route add`
    metric: int = 0
    type: str = "unicast"  # "local", "broadcast" in the local table


@dataclass(frozen=True)
class RouteDecision:
    """What `ip route get DST` answers: where a packet to `dst` would go."""

    dst: str
    type: str  # "unicast" or "local"
    dev: str
    gateway: str | None = None
    prefsrc: str | None = None


@dataclass(frozen=True)
class Neighbour:
    ns: str
    ifname: str
    ip: str
    mac: str | None
    state: NeighState


@dataclass(frozen=True)
class FdbEntry:
    """A bridge forwarding-database entry: `mac` is reached through `port`.

    local: the port's own address (permanent); static: added by hand; otherwise learned.
    """

    ns: str
    bridge: str
    port: str
    mac: str
    local: bool = False
    static: bool = False

    @property
    def learned(self) -> bool:
        return not (self.local or self.static)


@dataclass(frozen=True)
class PingError:
    """An ICMP error about one echo request (destination unreachable, time exceeded…)."""

    seq: int
    origin: str  # the address that sent the error
    type: int
    code: int


@dataclass(frozen=True)
class PingResult:
    """ICMP echo probe: how many requests went out, how many replies came back, TTLs seen,
    which sequence numbers were answered and the ICMP errors received (when known)."""

    dst: str
    sent: int
    received: int
    ttls: tuple[int, ...] = field(default=())
    replied: tuple[int, ...] | None = None  # None: the backend reports counts only
    errors: tuple[PingError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.received > 0


class Proto(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class ConnectOutcome(StrEnum):
    """How a connect attempt ended, as connect(2)/recv(2) report it."""

    CONNECTED = "connected"  # TCP handshake done; UDP: the listener's reply came back
    REFUSED = "refused"  # TCP RST or ICMP port-unreachable (ECONNREFUSED), e.g. REJECT
    TIMEOUT = "timeout"  # nothing came back in time, e.g. DROP
    UNREACHABLE = "unreachable"  # ICMP host/net unreachable or no route (EHOSTUNREACH/ENETUNREACH)


@dataclass(frozen=True)
class Endpoint:
    """An IPv4 address and port."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ConnectResult:
    outcome: ConnectOutcome
    local: Endpoint | None = None  # the source address and port the connecting side used
    reply: bytes = b""  # what the listener sent back (UDP echo)

    @property
    def ok(self) -> bool:
        return self.outcome is ConnectOutcome.CONNECTED


@dataclass(frozen=True)
class TransferResult:
    """A bulk TCP transfer: bytes delivered and the rate the sender achieved."""

    nbytes: int
    seconds: float

    @property
    def rate_bps(self) -> float:
        """Achieved rate in bits per second."""
        return self.nbytes * 8 / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class QdiscStats:
    """What `tc -s` shows of a qdisc: bytes and packets sent, drops, overlimits."""

    bytes: int
    packets: int
    drops: int
    overlimits: int


@dataclass(frozen=True)
class Qdisc:
    """The root qdisc of a device; rate in bits/s, burst in bytes, latency in seconds (tbf).
    `stats`: None where the backend cannot tell them exactly."""

    ns: str
    dev: str
    kind: str  # "tbf", "noqueue", "pfifo_fast", …
    rate_bps: int | None = None
    burst: int | None = None
    latency: float | None = None
    stats: QdiscStats | None = None


@dataclass(frozen=True)
class ConntrackEntry:
    """One tracked connection: the original direction and the expected reply (after NAT)."""

    ns: str
    proto: str  # "tcp", "udp", "icmp"
    orig_src: str
    orig_dst: str
    reply_src: str
    reply_dst: str
    orig_sport: int | None = None
    orig_dport: int | None = None
    reply_sport: int | None = None
    reply_dport: int | None = None
    state: str | None = None  # TCP state: SYN_SENT, ESTABLISHED, TIME_WAIT, …
    assured: bool = False



@dataclass(frozen=True)
class CaptureRecord:
    """One captured frame (`Capture.records`): when (seconds, any epoch), its bytes and its
    length on the wire."""

    time: float
    data: bytes
    orig_len: int = 0

    @property
    def wire_length(self) -> int:
        return self.orig_len or len(self.data)

# -- packet traces (`Backend.trace`) ------------------------------------------------------------
# The hops of one packet and of its reply, each in a namespace (device in or out, routing
# decision, neighbour lookup, bridge decision, a netfilter chain's verdict with the rule that
# decided, conntrack state, NAT rewrite, delivery or drop). Both backends fill these types;
# `PacketTrace.chains()` is what they must agree on. Rendering and the probe: troubleshoot/trace.


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
