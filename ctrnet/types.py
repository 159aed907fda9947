"""Observation types both backends return: what a link, address, route, neighbour, FDB
entry or ping looks like from outside. Frozen dataclasses of plain values (strings, ints),
so a test, or a diff between the backends, compares like with like.
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
class PingResult:
    """ICMP echo probe: how many requests went out, how many replies came back, TTLs seen."""

    dst: str
    sent: int
    received: int
    ttls: tuple[int, ...] = field(default=())

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
class Qdisc:
    """The root qdisc of a device; rate in bits/s, burst in bytes, latency in seconds (tbf)."""

    ns: str
    dev: str
    kind: str  # "tbf", "noqueue", "pfifo_fast", …
    rate_bps: int | None = None
    burst: int | None = None
    latency: float | None = None


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
