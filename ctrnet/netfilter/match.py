"""Rules compiled to predicates over a packet view, and the candidate index of a chain.

Each rule becomes one closure `f(packet, mark) -> bool` (integer compares only). A chain also
gets a bitset index over the fields most rules pin (protocol, addresses, interfaces,
destination port): a packet's candidate rules are the AND of a few dict lookups, so a long
chain is not walked rule by rule. The index only ever over-approximates; every candidate is
still checked by its closure, so the index cannot change a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ctrnet.errors import InvalidConfig
from ctrnet.netfilter.model import (
    AddrType,
    AddrtypeMatch,
    CommentMatch,
    ConntrackMatch,
    CtState,
    IcmpMatch,
    Iface,
    MarkMatch,
    Match,
    MultiportKind,
    MultiportMatch,
    PhysdevMatch,
    PortMatch,
    Rule,
)


@dataclass(slots=True)
class Packet:
    """What the rules look at in one IPv4 packet, as the hook sees it.

    Addresses are ints. `iif`/`oif` are None where the hook has no such device (OUTPUT has no
    input device). `ctstate` carries the conntrack state bit plus SNAT/DNAT when the
    connection is NATed. `bridged` says br_netfilter is passing the packet (then `physdev_in`/
    `physdev_out` are the bridge ports). `addr_type(ip, dev)` answers the addrtype match the
    way the kernel's route lookup would (dev limits the lookup to that device's table).

    Treat as immutable. Not frozen only for speed: the simulator builds one per packet and
    hook, and a frozen dataclass's __init__ (object.__setattr__ per field) costs 5x more.
    """

    src: int
    dst: int
    proto: int = 0
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    iif: str | None = None
    oif: str | None = None
    ctstate: CtState = CtState.NEW
    mark: int = 0
    length: int = 0
    bridged: bool = False
    physdev_in: str | None = None
    physdev_out: str | None = None
    addr_type: Callable[[int, str | None], AddrType] | None = None
    traced: bool = False


Pred = Callable[[Packet, int], bool]


def _iface_pred(iface: Iface, invert: bool, attr: str) -> Pred:
    name = iface.name
    if iface.is_wildcard:
        prefix = name[:-1]

        def wild(p: Packet, mark: int) -> bool:
            return (getattr(p, attr) or "").startswith(prefix) != invert

        return wild

    def exact(p: Packet, mark: int) -> bool:
        return bool(getattr(p, attr) == name) != invert

    return exact


def _ports_pred(m: PortMatch) -> Pred:
    slo, shi = (m.sport.lo, m.sport.hi) if m.sport else (0, 65535)
    dlo, dhi = (m.dport.lo, m.dport.hi) if m.dport else (0, 65535)
    sinv, dinv = m.sport_invert, m.dport_invert

    def ports(p: Packet, mark: int) -> bool:
        sport, dport = p.sport, p.dport
        if sport is None or dport is None:
            return False  # no transport header: tcp_mt/udp_mt drop the packet from the match
        return ((slo <= sport <= shi) != sinv) and ((dlo <= dport <= dhi) != dinv)

    return ports


def _icmp_pred(m: IcmpMatch) -> Pred:
    itype, cmin, cmax, inv = m.type, m.code_min, m.code_max, m.invert

    def icmp(p: Packet, mark: int) -> bool:
        if p.icmp_type is None:
            return False
        # icmp_type_code_match(): type 0xFF is "any".
        hit = itype == 0xFF or (itype == p.icmp_type and cmin <= (p.icmp_code or 0) <= cmax)
        return hit != inv

    return icmp


def _multiport_pred(m: MultiportMatch) -> Pred:
    singles = frozenset(r.lo for r in m.ports if r.lo == r.hi)
    ranges = tuple((r.lo, r.hi) for r in m.ports if r.lo != r.hi)
    inv = m.invert

    def hit(port: int) -> bool:
        if port in singles:
            return True
        for lo, hi in ranges:
            if lo <= port <= hi:
                return True
        return False

    if m.kind is MultiportKind.DPORTS:
        def dports(p: Packet, mark: int) -> bool:
            return p.dport is not None and p.sport is not None and hit(p.dport) != inv

        return dports
    if m.kind is MultiportKind.SPORTS:
        def sports(p: Packet, mark: int) -> bool:
            return p.sport is not None and p.dport is not None and hit(p.sport) != inv

        return sports

    def either(p: Packet, mark: int) -> bool:
        if p.sport is None or p.dport is None:
            return False
        return (hit(p.sport) or hit(p.dport)) != inv

    return either


def _addrtype_pred(m: AddrtypeMatch) -> Pred:
    def addrtype(p: Packet, mark: int) -> bool:
        lookup = p.addr_type
        if lookup is None:
            raise InvalidConfig("addrtype match needs Packet.addr_type to classify addresses")
        dev = p.iif if m.limit_iface_in else p.oif if m.limit_iface_out else None
        if m.src_types is not None and bool(lookup(p.src, dev) & m.src_types) == m.src_invert:
            return False
        return m.dst_types is None or bool(lookup(p.dst, dev) & m.dst_types) != m.dst_invert

    return addrtype


def _physdev_pred(m: PhysdevMatch) -> Pred:
    def physdev(p: Packet, mark: int) -> bool:
        # physdev_mt(): without bridge info only the inverted tests pass.
        if not p.bridged:
            return not any(present and not inv for present, inv in (
                (m.is_bridged, m.is_bridged_invert), (m.is_in, m.is_in_invert),
                (m.is_out, m.is_out_invert), (m.physdev_in is not None, m.in_invert),
                (m.physdev_out is not None, m.out_invert)))
        pin, pout = p.physdev_in, p.physdev_out
        if m.is_bridged and (pout is not None) == m.is_bridged_invert:
            return False
        if m.is_in and (pin is not None) == m.is_in_invert:
            return False
        if m.is_out and (pout is not None) == m.is_out_invert:
            return False
        if m.physdev_in is not None and pin is not None:
            if m.physdev_in.matches(pin) == m.in_invert:
                return False
        if m.physdev_out is None or pout is None:
            return True
        return m.physdev_out.matches(pout) != m.out_invert

    return physdev


def match_pred(m: Match) -> Pred | None:
    """The predicate of one match; None for matches that always pass (comment)."""
    if isinstance(m, PortMatch):
        return _ports_pred(m)
    if isinstance(m, IcmpMatch):
        return _icmp_pred(m)
    if isinstance(m, MultiportMatch):
        return _multiport_pred(m)
    if isinstance(m, ConntrackMatch):
        states, inv = m.states, m.invert
        return lambda p, mark: bool(p.ctstate & states) != inv
    if isinstance(m, AddrtypeMatch):
        return _addrtype_pred(m)
    if isinstance(m, CommentMatch):
        return None
    if isinstance(m, MarkMatch):
        value, mask, inv = m.value, m.mask, m.invert
        return lambda p, mark: ((mark & mask) == value) != inv
    if isinstance(m, PhysdevMatch):
        return _physdev_pred(m)
    raise InvalidConfig(f"no evaluator for match {type(m).__name__}")


def rule_pred(rule: Rule) -> Pred | None:
    """The whole rule's test as one function; None when it matches every packet.

    The common tests are generated as one Python expression over ints (`(p.src & M) == A
    and p.proto == 6 and …`), compiled once per rule: one call per rule instead of one per
    test. Values enter the expression only as ints or as names bound in its namespace.
    """
    consts: dict[str, object] = {}
    expr = rule_expr(rule, consts)
    if expr is None:
        return None
    source = "lambda p, mark: " + expr
    fn: Pred = eval(compile(source, f"<rule {source[:40]}>", "eval"), consts)  # noqa: S307
    return fn


#: scan(p, mark, bits): the position of the first rule whose bit is set in `bits` and that
#: matches, or -1.
Scan = Callable[[Packet, int, int], int]


def block_scan(rules: list[Rule]) -> Scan:
    """One function testing `rules` (a few consecutive rules of a chain) in order, for a
    packet with several candidates among them: one call instead of one per candidate."""
    consts: dict[str, object] = {}
    lines = ["def scan(p, mark, bits):",
             "    src, dst, proto, sport, dport = p.src, p.dst, p.proto, p.sport, p.dport",
             "    iif, oif, ctstate = p.iif, p.oif, int(p.ctstate)"]
    for k, rule in enumerate(rules):
        expr = rule_expr(rule, consts, local=True)
        lines.append(f"    if bits & {1 << k}{' and ' + expr if expr else ''}:")
        lines.append(f"        return {k}")
    lines.append("    return -1")
    exec(compile("\n".join(lines), "<chain block>", "exec"), consts)  # noqa: S102
    scan: Scan = consts.pop("scan")  # type: ignore[assignment]
    return scan


def rule_expr(rule: Rule, consts: dict[str, object], local: bool = False) -> str | None:
    """`rule_pred`'s expression over `p` and `mark`; None when the rule matches every
    packet. The values it names are added to `consts`. `local`: the packet's fields are read
    from locals of their names (`ctstate` as an int), which `block_scan` loads once."""
    parts: list[str] = []
    at = "" if local else "p."
    ctstate = "ctstate" if local else "int(p.ctstate)"

    def const(value: object) -> str:
        name = f"c{len(consts)}"
        consts[name] = value
        return name

    def test(expr: str, invert: bool) -> str:
        return f"(not {expr})" if invert else expr

    for net, inv, attr in ((rule.src, rule.src_invert, "src"), (rule.dst, rule.dst_invert,
                                                                 "dst")):
        if net is not None:
            parts.append(f"(({at}{attr} & {net.mask}) {'!=' if inv else '=='} {net.addr})")
    for iface, inv, attr in ((rule.in_iface, rule.in_invert, "iif"),
                             (rule.out_iface, rule.out_invert, "oif")):
        if iface is None:
            continue
        if iface.is_wildcard:
            parts.append(test(f"({at}{attr} or '').startswith({const(iface.name[:-1])})", inv))
        else:
            parts.append(f"({at}{attr} {'!=' if inv else '=='} {const(iface.name)})")
    if rule.proto != 0:
        parts.append(f"({at}proto {'!=' if rule.proto_invert else '=='} {rule.proto})")
    for m in rule.matches:
        if isinstance(m, PortMatch):
            parts.append(f"{at}sport is not None and {at}dport is not None")
            for ports, inv, attr in ((m.sport, m.sport_invert, "sport"),
                                     (m.dport, m.dport_invert, "dport")):
                if ports is not None:
                    parts.append(test(f"({ports.lo} <= {at}{attr} <= {ports.hi})", inv))
        elif isinstance(m, MarkMatch):
            parts.append(f"((mark & {m.mask}) {'!=' if m.invert else '=='} {m.value})")
        elif isinstance(m, ConntrackMatch):
            parts.append(f"(({ctstate} & {int(m.states)}) {'==' if m.invert else '!='} 0)")
        elif isinstance(m, MultiportMatch):
            parts.append(f"{at}sport is not None and {at}dport is not None")
            if m.kind is MultiportKind.DPORTS:
                hit = _multiport_expr(m, f"{at}dport", const)
            elif m.kind is MultiportKind.SPORTS:
                hit = _multiport_expr(m, f"{at}sport", const)
            else:
                hit = (f"({_multiport_expr(m, f'{at}sport', const)}"
                       f" or {_multiport_expr(m, f'{at}dport', const)})")
            parts.append(test(hit, m.invert))
        else:
            pred = match_pred(m)
            if pred is not None:
                parts.append(f"{const(pred)}(p, mark)")
    if not parts:
        return None
    return " and ".join(f"({part})" for part in parts)


def _multiport_expr(m: MultiportMatch, port: str, const: Callable[[object], str]) -> str:
    """`port` is one of the match's ports or ranges (what `_multiport_pred` tests)."""
    singles = frozenset(r.lo for r in m.ports if r.lo == r.hi)
    tests = [f"{port} in {const(singles)}"] if singles else []
    tests += [f"{r.lo} <= {port} <= {r.hi}" for r in m.ports if r.lo != r.hi]
    return f"({' or '.join(tests) or 'False'})"


class FieldIndex:
    """Bitset of rules per exact value of one field; rules not pinning it are wildcards."""

    __slots__ = ("wild", "exact")

    def __init__(self) -> None:
        self.wild = 0
        self.exact: dict[object, int] = {}

    def lookup(self, value: object) -> int:
        return self.wild | self.exact.get(value, 0)


class NetIndex:
    """Bitset of rules per (prefix mask, network) of one address; few distinct masks."""

    __slots__ = ("wild", "by_mask")

    def __init__(self) -> None:
        self.wild = 0
        self.by_mask: dict[int, dict[int, int]] = {}

    def lookup(self, ip: int) -> int:
        bits = self.wild
        for mask, nets in self.by_mask.items():
            bits |= nets.get(ip & mask, 0)
        return bits


Candidates = Callable[[Packet, int], int]


@dataclass(slots=True)
class ChainIndex:
    """The per-field indexes of a chain. `candidates(p, mark)` is the bitset of the rules
    that may match: the AND of the fields' lookups, compiled by `build_index` into one
    expression over the fields some rule pins (a field no rule pins narrows nothing)."""

    proto: FieldIndex
    src: NetIndex
    dst: NetIndex
    iif: FieldIndex
    oif: FieldIndex
    dport: FieldIndex
    #: -m mark --mark v/m, keyed like a network (mark & m == v). The mark can change during
    #: the walk (MARK target): the evaluator then asks for candidates again.
    mark: NetIndex
    candidates: Candidates = field(init=False)

    def compile(self, count: int) -> None:
        """Make `candidates` for a chain of `count` rules."""
        consts: dict[str, object] = {}
        terms: list[str] = []
        fields: tuple[tuple[str, FieldIndex | NetIndex], ...] = (
            ("p.proto", self.proto), ("p.dst", self.dst), ("p.src", self.src),
            ("p.dport", self.dport), ("p.iif", self.iif), ("p.oif", self.oif),
            ("mark", self.mark))
        for n, (expr, index) in enumerate(fields):
            consts[f"w{n}"] = index.wild
            if isinstance(index, FieldIndex):
                if not index.exact:
                    continue  # every rule is a wildcard here
                consts[f"e{n}"] = index.exact
                terms.append(f"(w{n} | e{n}.get({expr}, 0))")
            else:
                lookups = []
                for m, (mask, nets) in enumerate(index.by_mask.items()):
                    consts[f"e{n}_{m}"] = nets
                    lookups.append(f"e{n}_{m}.get({expr} & {mask}, 0)")
                if lookups:
                    terms.append(f"(w{n} | {' | '.join(lookups)})")
        source = "lambda p, mark: " + (" & ".join(terms) if terms else str((1 << count) - 1))
        self.candidates = eval(compile(source, "<chain index>", "eval"), consts)  # noqa: S307


def build_index(rules: list[Rule]) -> ChainIndex:
    idx = ChainIndex(FieldIndex(), NetIndex(), NetIndex(), FieldIndex(), FieldIndex(),
                     FieldIndex(), NetIndex())
    for n, rule in enumerate(rules):
        bit = 1 << n
        marks = [m for m in rule.matches if isinstance(m, MarkMatch) and not m.invert]
        if marks:
            nets = idx.mark.by_mask.setdefault(marks[0].mask, {})
            nets[marks[0].value] = nets.get(marks[0].value, 0) | bit
        else:
            idx.mark.wild |= bit
        if rule.proto and not rule.proto_invert:
            idx.proto.exact[rule.proto] = idx.proto.exact.get(rule.proto, 0) | bit
        else:
            idx.proto.wild |= bit
        for net, inv, index in ((rule.src, rule.src_invert, idx.src),
                                (rule.dst, rule.dst_invert, idx.dst)):
            if net is None or inv:
                index.wild |= bit
            else:
                nets = index.by_mask.setdefault(net.mask, {})
                nets[net.addr] = nets.get(net.addr, 0) | bit
        for iface, inv, findex in ((rule.in_iface, rule.in_invert, idx.iif),
                                   (rule.out_iface, rule.out_invert, idx.oif)):
            if iface is None or inv or iface.is_wildcard:
                findex.wild |= bit
            else:
                findex.exact[iface.name] = findex.exact.get(iface.name, 0) | bit
        dports = _exact_dports(rule)
        if dports is None:
            idx.dport.wild |= bit
        for port in dports or ():
            idx.dport.exact[port] = idx.dport.exact.get(port, 0) | bit
    idx.compile(len(rules))
    return idx


def _exact_dports(rule: Rule) -> tuple[int, ...] | None:
    """The only destination ports the rule can match, when it pins a few single ports."""
    for m in rule.matches:
        if (isinstance(m, PortMatch) and m.dport is not None and not m.dport_invert
                and m.dport.lo == m.dport.hi):
            return (m.dport.lo,)
        if (isinstance(m, MultiportMatch) and m.kind is MultiportKind.DPORTS and not m.invert
                and all(r.lo == r.hi for r in m.ports)):
            return tuple(r.lo for r in m.ports)
    return None
