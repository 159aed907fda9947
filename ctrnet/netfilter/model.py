"""The iptables rule model: addresses, matches, targets and rules as frozen values.

A `Rule` holds exactly what iptables-save prints for it, already canonical (masked networks,
`--set-mark` folded into `--set-xmark`, merged port ranges…), so two spellings of one rule compare
equal — which is what `iptables -D/-C` with a rule spec rely on. Parsing lives in `parse.py`,
text output in `render.py`/`listing.py`, traversal in `evaluate.py`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# -- tables and chains ---------------------------------------------------------------------


class Hook(enum.Enum):
    """The netfilter IPv4 hooks; a built-in chain is attached to exactly one."""

    PREROUTING = "PREROUTING"
    INPUT = "INPUT"
    FORWARD = "FORWARD"
    OUTPUT = "OUTPUT"
    POSTROUTING = "POSTROUTING"


#: Built-in chains per table, in the order iptables-save prints them (hook order).
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
    "raw": ("PREROUTING", "OUTPUT"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}
#: iptables-nft 1.8.9 saves tables in this order (its builtin table array), not creation order.
TABLE_ORDER: tuple[str, ...] = ("mangle", "security", "raw", "filter", "nat")

#: Longest user chain name iptables accepts ("must be under 29 chars").
MAX_CHAIN_NAME = 28
#: IFNAMSIZ - 1.
MAX_IFNAME = 15


class Policy(enum.Enum):
    ACCEPT = "ACCEPT"
    DROP = "DROP"


class CtState(enum.IntFlag):
    """conntrack/state match bits, in the order iptables prints them (xt_conntrack.h)."""

    INVALID = 1
    NEW = 2
    RELATED = 4
    ESTABLISHED = 8
    UNTRACKED = 16
    SNAT = 32
    DNAT = 64


#: Print order of `-m state --state` (it has no SNAT/DNAT).
STATE_ORDER = (CtState.INVALID, CtState.NEW, CtState.RELATED, CtState.ESTABLISHED,
               CtState.UNTRACKED)
CTSTATE_ORDER = STATE_ORDER + (CtState.SNAT, CtState.DNAT)


class AddrType(enum.IntFlag):
    """Route types (RTN_*) as the addrtype match's bitmask: bit n is RTN value n."""

    UNSPEC = 1 << 0
    UNICAST = 1 << 1
    LOCAL = 1 << 2
    BROADCAST = 1 << 3
    ANYCAST = 1 << 4
    MULTICAST = 1 << 5
    BLACKHOLE = 1 << 6
    UNREACHABLE = 1 << 7
    PROHIBIT = 1 << 8
    THROW = 1 << 9
    NAT = 1 << 10
    XRESOLVE = 1 << 11


ADDRTYPE_ORDER: tuple[AddrType, ...] = tuple(AddrType)

# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Network:
    """An IPv4 network as ints; `addr` is already masked (iptables masks what you give it)."""

    addr: int
    mask: int

    def contains(self, ip: int) -> bool:
        return (ip & self.mask) == self.addr

    @property
    def prefixlen(self) -> int | None:
        """The prefix length, or None for a non-contiguous mask (printed dotted)."""
        inverted = ~self.mask & 0xFFFFFFFF
        if inverted & (inverted + 1):
            return None
        return 32 - inverted.bit_length()


ANY_NET = Network(0, 0)


@dataclass(frozen=True, slots=True)
class PortRange:
    lo: int
    hi: int

    def contains(self, port: int) -> bool:
        return self.lo <= port <= self.hi


@dataclass(frozen=True, slots=True)
class Iface:
    """An -i/-o/--physdev name; a trailing `+` matches every name with that prefix."""

    name: str

    @property
    def is_wildcard(self) -> bool:
        return self.name.endswith("+")

    def matches(self, ifname: str | None) -> bool:
        if ifname is None:
            return False
        if self.is_wildcard:
            return ifname.startswith(self.name[:-1])
        return ifname == self.name


# -- matches ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortMatch:
    """`-m tcp` / `-m udp`: --sport/--dport (a single port is the range p:p)."""

    proto: str
    sport: PortRange | None = None
    sport_invert: bool = False
    dport: PortRange | None = None
    dport_invert: bool = False


@dataclass(frozen=True, slots=True)
class IcmpMatch:
    """`-m icmp --icmp-type`: type 255 with codes 0..255 is `any`."""

    type: int
    code_min: int = 0
    code_max: int = 255
    invert: bool = False


class MultiportKind(enum.Enum):
    SPORTS = "sports"
    DPORTS = "dports"
    PORTS = "ports"


@dataclass(frozen=True, slots=True)
class MultiportMatch:
    kind: MultiportKind
    ports: tuple[PortRange, ...]
    invert: bool = False


@dataclass(frozen=True, slots=True)
class ConntrackMatch:
    """`-m conntrack --ctstate` or `-m state --state` (same bits, printed by different modules)."""

    states: CtState
    invert: bool = False
    module: str = "conntrack"


@dataclass(frozen=True, slots=True)
class AddrtypeMatch:
    src_types: AddrType | None = None
    src_invert: bool = False
    dst_types: AddrType | None = None
    dst_invert: bool = False
    limit_iface_in: bool = False
    limit_iface_out: bool = False


@dataclass(frozen=True, slots=True)
class CommentMatch:
    text: str


@dataclass(frozen=True, slots=True)
class MarkMatch:
    value: int
    mask: int = 0xFFFFFFFF
    invert: bool = False


@dataclass(frozen=True, slots=True)
class PhysdevMatch:
    """`-m physdev`: each test is (present, inverted); br_netfilter fills the packet's fields."""

    physdev_in: Iface | None = None
    in_invert: bool = False
    physdev_out: Iface | None = None
    out_invert: bool = False
    is_in: bool = False
    is_in_invert: bool = False
    is_out: bool = False
    is_out_invert: bool = False
    is_bridged: bool = False
    is_bridged_invert: bool = False


Match = (PortMatch | IcmpMatch | MultiportMatch | ConntrackMatch | AddrtypeMatch | CommentMatch
         | MarkMatch | PhysdevMatch)

# -- targets ---------------------------------------------------------------------------------


class Verdict(enum.Enum):
    """Standard targets (and the outcome of a traversal)."""

    ACCEPT = "ACCEPT"
    DROP = "DROP"
    RETURN = "RETURN"


@dataclass(frozen=True, slots=True)
class Standard:
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Jump:
    """`-j CHAIN` (goto=False) or `-g CHAIN` (goto=True) to a user chain."""

    chain: str
    goto: bool = False


REJECT_TYPES: tuple[str, ...] = (
    "icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable",
    "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited", "tcp-reset",
    "icmp-admin-prohibited",
)


@dataclass(frozen=True, slots=True)
class Reject:
    with_: str = "icmp-port-unreachable"


@dataclass(frozen=True, slots=True)
class Log:
    prefix: str = ""
    level: int = 4


@dataclass(frozen=True, slots=True)
class MarkTarget:
    """MARK in its kernel form: mark = (mark & ~mask) ^ value (xt_MARK v2 `--set-xmark`).

    --set-mark/--and-mark/--or-mark/--xor-mark are folded into this at parse time, exactly as
    iptables does before the rule reaches the kernel (so iptables-save prints --set-xmark).
    """

    value: int
    mask: int

    def apply(self, mark: int) -> int:
        return (mark & ~self.mask & 0xFFFFFFFF) ^ self.value


@dataclass(frozen=True, slots=True)
class NatRange:
    """SNAT/DNAT --to-*: ip[-ip][:port[-port]]; an absent part is None."""

    ip_min: int | None = None
    ip_max: int | None = None
    port_min: int | None = None
    port_max: int | None = None


@dataclass(frozen=True, slots=True)
class Snat:
    to: NatRange
    random: bool = False
    persistent: bool = False


@dataclass(frozen=True, slots=True)
class Dnat:
    to: NatRange
    random: bool = False
    persistent: bool = False


@dataclass(frozen=True, slots=True)
class Masquerade:
    port_min: int | None = None
    port_max: int | None = None
    random: bool = False


@dataclass(frozen=True, slots=True)
class Trace:
    pass


Target = Standard | Jump | Reject | Log | MarkTarget | Snat | Dnat | Masquerade | Trace

#: Targets that only the nat table accepts, with the hooks the kernel allows them in
#: (xt_nat.c: SNAT in POST_ROUTING/LOCAL_IN, DNAT in PRE_ROUTING/LOCAL_OUT;
#: xt_MASQUERADE: POST_ROUTING only).
NAT_HOOKS: dict[type, frozenset[str]] = {
    Snat: frozenset({"POSTROUTING", "INPUT"}),
    Dnat: frozenset({"PREROUTING", "OUTPUT"}),
    Masquerade: frozenset({"POSTROUTING"}),
}
#: ipt_REJECT only registers for LOCAL_IN, FORWARD and LOCAL_OUT.
REJECT_HOOKS = frozenset({"INPUT", "FORWARD", "OUTPUT"})


def target_name(target: Target | None) -> str:
    """The name `-j` prints for `target` ("" for a rule without target)."""
    if target is None:
        return ""
    if isinstance(target, Standard):
        return target.verdict.value
    if isinstance(target, Jump):
        return target.chain
    return {Reject: "REJECT", Log: "LOG", MarkTarget: "MARK", Snat: "SNAT", Dnat: "DNAT",
            Masquerade: "MASQUERADE", Trace: "TRACE"}[type(target)]


# -- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, without its counters (those live with the chain that holds it)."""

    src: Network | None = None
    src_invert: bool = False
    dst: Network | None = None
    dst_invert: bool = False
    in_iface: Iface | None = None
    in_invert: bool = False
    out_iface: Iface | None = None
    out_invert: bool = False
    proto: int = 0
    proto_invert: bool = False
    matches: tuple[Match, ...] = ()
    target: Target | None = None


@dataclass(slots=True)
class Counters:
    """Packet and byte counters of one rule or one built-in chain policy (mutable state)."""

    packets: int = 0
    bytes: int = 0

    def add(self, length: int) -> None:
        self.packets += 1
        self.bytes += length
