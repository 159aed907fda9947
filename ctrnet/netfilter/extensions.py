"""Option parsers of the supported match modules and targets (libxt_*.c / libipt_*.c).

Each builder takes the options that belong to it one by one, as iptables hands them to an
extension, and `finish()` checks what the extension's final_check would and returns the frozen
model value. Error texts are iptables' own; anything unknown is refused, never ignored.
"""

from __future__ import annotations

from collections.abc import Callable

from ctrnet.netfilter.model import (
    AddrType,
    AddrtypeMatch,
    CommentMatch,
    ConntrackMatch,
    CtState,
    Dnat,
    IcmpMatch,
    Iface,
    Log,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Match,
    MultiportKind,
    MultiportMatch,
    NatRange,
    PhysdevMatch,
    PortMatch,
    PortRange,
    Reject,
    Snat,
    Target,
    Trace,
)
from ctrnet.netfilter.values import (
    param_problem,
    parse_ip,
    parse_multiport,
    parse_port,
    parse_port_range,
    parse_uint32,
    parse_value_mask,
)

#: option name (long, after aliasing) -> takes an argument?
Options = dict[str, bool]


class Extension:
    """A match or target instance being built from its options."""

    name: str = ""
    options: Options = {}
    aliases: dict[str, str] = {}

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str | None, bool]] = {}

    def canonical(self, opt: str) -> str | None:
        opt = self.aliases.get(opt, opt)
        return opt if opt in self.options else None

    def take(self, opt: str, value: str | None, invert: bool) -> None:
        if opt in self.seen:
            raise param_problem(self.once_error(opt))
        if value is not None:
            self.check(opt, value)
        self.seen[opt] = (value, invert)

    def check(self, opt: str, value: str) -> None:
        """Refuse a bad value at once, as the extension's parse callback does."""

    def once_error(self, opt: str) -> str:
        return f'{self.name}: option "{opt}" can only be used once.\n'

    def value(self, opt: str) -> str:
        got = self.seen[opt][0]
        assert got is not None
        return got

    def inv(self, opt: str) -> bool:
        return self.seen[opt][1]

    def exclusive(self, *opts: str) -> None:
        present = [o for o in opts if o in self.seen]
        if len(present) > 1:
            raise param_problem(f'{self.name}: option "{present[0]}" cannot be used together '
                                f'with "{present[1]}".\n')


class MatchExt(Extension):
    def finish(self, proto: int, proto_invert: bool) -> Match:
        raise NotImplementedError


class TargetExt(Extension):
    def finish(self, proto: int, proto_invert: bool) -> Target:
        raise NotImplementedError


# -- matches ---------------------------------------------------------------------------------


class PortExt(MatchExt):
    options = {"--sport": True, "--dport": True}
    aliases = {"--source-port": "--sport", "--destination-port": "--dport"}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def once_error(self, opt: str) -> str:
        long = {"--sport": "--source-port", "--dport": "--destination-port"}[opt]
        return f"Only one `{long}' allowed"

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if proto != {"tcp": 6, "udp": 17}[self.name]:
            raise param_problem(f"{self.name.upper()} match requires '-p {self.name}'")
        sport = parse_port_range(self.value("--sport")) if "--sport" in self.seen else None
        dport = parse_port_range(self.value("--dport")) if "--dport" in self.seen else None
        sinv = "--sport" in self.seen and self.inv("--sport")
        dinv = "--dport" in self.seen and self.inv("--dport")
        sport, sinv = _as_nft_stores(sport, sinv)
        dport, dinv = _as_nft_stores(dport, dinv)
        return PortMatch(self.name, sport, sinv, dport, dinv)


def _as_nft_stores(ports: PortRange | None, invert: bool) -> tuple[PortRange | None, bool]:
    """What iptables-nft reads back for a port range (seen in its iptables-save output):
    `0:65535` is no test, and `! 0:N` (0 < N < 65535) becomes the range N+1:65535."""
    if ports is None:
        return None, invert
    if (ports.lo, ports.hi) == (0, 65535) and not invert:
        return None, False
    if invert and ports.lo == 0 < ports.hi < 65535:
        return PortRange(ports.hi + 1, 65535), False
    return ports, invert


#: icmp type names of libipt_icmp.c: name -> (type, code_min, code_max)
ICMP_TYPES: dict[str, tuple[int, int, int]] = {
    "any": (255, 0, 255), "echo-reply": (0, 0, 255), "pong": (0, 0, 255),
    "destination-unreachable": (3, 0, 255), "network-unreachable": (3, 0, 0),
    "host-unreachable": (3, 1, 1), "protocol-unreachable": (3, 2, 2),
    "port-unreachable": (3, 3, 3), "fragmentation-needed": (3, 4, 4),
    "source-route-failed": (3, 5, 5), "network-unknown": (3, 6, 6), "host-unknown": (3, 7, 7),
    "network-prohibited": (3, 9, 9), "host-prohibited": (3, 10, 10),
    "TOS-network-unreachable": (3, 11, 11), "TOS-host-unreachable": (3, 12, 12),
    "communication-prohibited": (3, 13, 13), "host-precedence-violation": (3, 14, 14),
    "precedence-cutoff": (3, 15, 15), "source-quench": (4, 0, 255), "redirect": (5, 0, 255),
    "network-redirect": (5, 0, 0), "host-redirect": (5, 1, 1),
    "TOS-network-redirect": (5, 2, 2), "TOS-host-redirect": (5, 3, 3),
    "echo-request": (8, 0, 255), "ping": (8, 0, 255), "router-advertisement": (9, 0, 255),
    "router-solicitation": (10, 0, 255), "time-exceeded": (11, 0, 255),
    "ttl-exceeded": (11, 0, 255), "ttl-zero-during-transit": (11, 0, 0),
    "ttl-zero-during-reassembly": (11, 1, 1), "parameter-problem": (12, 0, 255),
    "ip-header-bad": (12, 0, 0), "required-option-missing": (12, 1, 1),
    "timestamp-request": (13, 0, 255), "timestamp-reply": (14, 0, 255),
    "address-mask-request": (17, 0, 255), "address-mask-reply": (18, 0, 255),
}


class IcmpExt(MatchExt):
    name = "icmp"
    options = {"--icmp-type": True}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if proto != 1:
            raise param_problem("ICMP match requires '-p icmp'")
        if "--icmp-type" not in self.seen:
            raise param_problem('icmp: option "--icmp-type" must be specified\n')
        text = self.value("--icmp-type")
        if text in ICMP_TYPES:
            itype, cmin, cmax = ICMP_TYPES[text]
        else:
            type_text, slash, code_text = text.partition("/")
            if not type_text.isdigit() or int(type_text) > 255 or (
                    slash and (not code_text.isdigit() or int(code_text) > 255)):
                raise param_problem(f"Invalid ICMP type `{text}'\n")
            itype = int(type_text)
            cmin, cmax = (int(code_text), int(code_text)) if slash else (0, 255)
        return IcmpMatch(itype, cmin, cmax, self.inv("--icmp-type"))


_MULTIPORT_PROTOS = {6, 17, 33, 132, 136}


class MultiportExt(MatchExt):
    name = "multiport"
    options = {"--sports": True, "--dports": True, "--ports": True}
    aliases = {"--source-ports": "--sports", "--destination-ports": "--dports"}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if proto not in _MULTIPORT_PROTOS or proto_invert:
            raise param_problem("multiport needs `-p tcp', `-p udp', `-p udplite', "
                                "`-p sctp' or `-p dccp'")
        if not self.seen:
            raise param_problem("multiport expection an option")
        self.exclusive("--sports", "--dports", "--ports")
        opt = next(iter(self.seen))
        kind = MultiportKind(opt[2:])
        return MultiportMatch(kind, parse_multiport(self.value(opt)), self.inv(opt))


def parse_states(text: str, allowed: tuple[str, ...], error: str) -> CtState:
    states = CtState(0)
    for word in text.split(","):
        if word.upper() not in allowed:
            raise param_problem(f'{error} "{word}"')
        states |= CtState[word.upper()]
    return states


class ConntrackExt(MatchExt):
    name = "conntrack"
    options = {"--ctstate": True}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if not self.seen:
            raise param_problem("conntrack: At least one option is required")
        states = parse_states(self.value("--ctstate"), tuple(s.name or "" for s in CtState),
                              "Bad ctstate")
        return ConntrackMatch(states, self.inv("--ctstate"), "conntrack")


class StateExt(MatchExt):
    name = "state"
    options = {"--state": True}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if not self.seen:
            raise param_problem('state: option "--state" must be specified\n')
        names = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED")
        states = parse_states(self.value("--state"), names, "Bad state")
        return ConntrackMatch(states, self.inv("--state"), "state")


def parse_addrtypes(text: str) -> AddrType:
    types = AddrType(0)
    for word in text.split(","):
        try:
            types |= AddrType[word.upper()]
        except KeyError:
            raise param_problem(f'addrtype: bad type "{word}"') from None
    return types


class AddrtypeExt(MatchExt):
    name = "addrtype"
    options = {"--src-type": True, "--dst-type": True, "--limit-iface-in": False,
               "--limit-iface-out": False}

    def check(self, opt: str, value: str) -> None:
        parse_addrtypes(value)

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if "--src-type" not in self.seen and "--dst-type" not in self.seen:
            raise param_problem("addrtype: you must specify --src-type or --dst-type")
        self.exclusive("--limit-iface-in", "--limit-iface-out")
        src = parse_addrtypes(self.value("--src-type")) if "--src-type" in self.seen else None
        dst = parse_addrtypes(self.value("--dst-type")) if "--dst-type" in self.seen else None
        return AddrtypeMatch(src, src is not None and self.inv("--src-type"),
                             dst, dst is not None and self.inv("--dst-type"),
                             "--limit-iface-in" in self.seen, "--limit-iface-out" in self.seen)


class CommentExt(MatchExt):
    name = "comment"
    options = {"--comment": True}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if "--comment" not in self.seen:
            raise param_problem('comment: option "--comment" must be specified\n')
        text = self.value("--comment")
        if len(text) > 255:  # XT_MAX_COMMENT_LEN - 1; iptables cuts, the kernel stores 256
            text = text[:255]
        return CommentMatch(text)


class MarkExt(MatchExt):
    name = "mark"
    options = {"--mark": True}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if "--mark" not in self.seen:
            raise param_problem('mark: option "--mark" must be specified\n')
        value, mask = parse_value_mask(self.value("--mark"),
                                       'mark: bad integer value for option "--mark", '
                                       "or out of range.")
        mask = 0xFFFFFFFF if mask is None else mask
        return MarkMatch(value & mask, mask, self.inv("--mark"))


class PhysdevExt(MatchExt):
    name = "physdev"
    options = {"--physdev-in": True, "--physdev-out": True, "--physdev-is-in": False,
               "--physdev-is-out": False, "--physdev-is-bridged": False}

    def finish(self, proto: int, proto_invert: bool) -> Match:
        if not self.seen:
            raise param_problem("PHYSDEV: no physdev option specified")
        s = self.seen
        pin = Iface(self.value("--physdev-in")) if "--physdev-in" in s else None
        pout = Iface(self.value("--physdev-out")) if "--physdev-out" in s else None

        def flag(opt: str) -> tuple[bool, bool]:
            return (opt in s, opt in s and self.inv(opt))

        return PhysdevMatch(pin, pin is not None and self.inv("--physdev-in"),
                            pout, pout is not None and self.inv("--physdev-out"),
                            *flag("--physdev-is-in"), *flag("--physdev-is-out"),
                            *flag("--physdev-is-bridged"))


MATCHES: dict[str, Callable[[], MatchExt]] = {
    "tcp": lambda: PortExt("tcp"), "udp": lambda: PortExt("udp"), "icmp": IcmpExt,
    "multiport": MultiportExt, "conntrack": ConntrackExt, "state": StateExt,
    "addrtype": AddrtypeExt, "comment": CommentExt, "mark": MarkExt, "physdev": PhysdevExt,
}

# -- targets ---------------------------------------------------------------------------------

_REJECT_ALIASES = {
    "icmp-net-unreachable": "icmp-net-unreachable", "net-unreach": "icmp-net-unreachable",
    "icmp-host-unreachable": "icmp-host-unreachable", "host-unreach": "icmp-host-unreachable",
    "icmp-port-unreachable": "icmp-port-unreachable", "port-unreach": "icmp-port-unreachable",
    "icmp-proto-unreachable": "icmp-proto-unreachable",
    "proto-unreach": "icmp-proto-unreachable",
    "icmp-net-prohibited": "icmp-net-prohibited", "net-prohib": "icmp-net-prohibited",
    "icmp-host-prohibited": "icmp-host-prohibited", "host-prohib": "icmp-host-prohibited",
    "tcp-reset": "tcp-reset", "tcp-rst": "tcp-reset",
    "icmp-admin-prohibited": "icmp-admin-prohibited", "admin-prohib": "icmp-admin-prohibited",
}


class RejectExt(TargetExt):
    name = "REJECT"
    options = {"--reject-with": True}

    def finish(self, proto: int, proto_invert: bool) -> Target:
        if "--reject-with" not in self.seen:
            return Reject()
        text = self.value("--reject-with")
        if text not in _REJECT_ALIASES:
            raise param_problem(f'unknown reject type "{text}"')
        return Reject(_REJECT_ALIASES[text])


LOG_LEVELS = {"emerg": 0, "panic": 0, "alert": 1, "crit": 2, "error": 3, "err": 3,
              "warning": 4, "warn": 4, "notice": 5, "info": 6, "debug": 7}
#: The kernel's nf_log prefix buffer is 30 bytes with the NUL: iptables cuts to 29 silently.
MAX_LOG_PREFIX = 29


class LogExt(TargetExt):
    name = "LOG"
    options = {"--log-prefix": True, "--log-level": True}

    def finish(self, proto: int, proto_invert: bool) -> Target:
        level = 4
        if "--log-level" in self.seen:
            text = self.value("--log-level")
            if text.isdigit() and int(text) <= 7:
                level = int(text)
            elif text.lower() in LOG_LEVELS:
                level = LOG_LEVELS[text.lower()]
            else:
                raise param_problem(f'log level "{text}" unknown\n')
        prefix = self.value("--log-prefix") if "--log-prefix" in self.seen else ""
        return Log(prefix[:MAX_LOG_PREFIX], level)


class MarkTargetExt(TargetExt):
    name = "MARK"
    options = {"--set-mark": True, "--set-xmark": True, "--and-mark": True,
               "--or-mark": True, "--xor-mark": True}

    def finish(self, proto: int, proto_invert: bool) -> Target:
        self.exclusive(*self.options)
        if not self.seen:
            raise param_problem("MARK: One of the --set-xmark, --{and,or,xor,set}-mark "
                                "options is required")
        opt = next(iter(self.seen))
        value, mask = parse_value_mask(self.value(opt), f'MARK: bad integer value for option '
                                       f'"{opt}", or out of range.')
        full = 0xFFFFFFFF
        # libxt_MARK mark_tg_parse: every form becomes (mark, mask) for xt_MARK v2.
        if opt == "--set-xmark":
            return MarkTarget(value, full if mask is None else mask)
        if opt == "--set-mark":
            return MarkTarget(value, full if mask is None else (value | mask))
        if opt == "--and-mark":
            return MarkTarget(0, ~value & full)
        if opt == "--or-mark":
            return MarkTarget(value, value)
        return MarkTarget(value, 0)


def _nat_port(text: str, shown: str) -> int:
    """libxt_NAT's parse_ports(): a number 0-65535, else "Port `…' not valid" (a service
    name, which the real tool looks up, keeps parse_port's refusal: no services database)."""
    if text.isalpha():
        return parse_port(text)
    if text.isdigit() and int(text) <= 65535:
        return int(text)
    raise param_problem(f"Port `{shown}' not valid")


def _port_pair(text: str) -> tuple[int, int]:
    lo_text, dash, hi_text = text.partition("-")
    # strtoui() reads the first port up to a '-': when there is none to read, the message
    # names the whole text ("-5"), else the part it could not read ("70000" of "80-70000").
    lo = _nat_port(lo_text, lo_text if lo_text else text)
    hi = _nat_port(hi_text, hi_text) if dash else lo
    if hi < lo:
        raise param_problem(f"Port range `{hi_text}' funky")
    return lo, hi


def parse_nat_range(text: str) -> NatRange:
    ip_text, colon, port_text = text.partition(":")
    ip_min = ip_max = None
    if ip_text:
        lo_text, dash, hi_text = ip_text.partition("-")
        ip_min = parse_ip(lo_text)
        ip_max = parse_ip(hi_text) if dash else ip_min
    port_min = port_max = None
    if colon:
        port_min, port_max = _port_pair(port_text)
    return NatRange(ip_min, ip_max, port_min, port_max)


_PORT_PROTOS = {6, 17, 33, 132}


class NatExt(TargetExt):
    options = {"--to-source": True, "--random": False, "--persistent": False}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.to_opt = "--to-source" if name == "SNAT" else "--to-destination"
        self.options = {self.to_opt: True, "--random": False, "--persistent": False}

    def finish(self, proto: int, proto_invert: bool) -> Target:
        if self.to_opt not in self.seen:
            raise param_problem(f'{self.name}: option "{self.to_opt}" must be specified\n')
        to = parse_nat_range(self.value(self.to_opt))
        # libxt_NAT: ports only with a protocol that has them (icmp's id counts).
        if to.port_min is not None and (proto not in _PORT_PROTOS | {1} or proto_invert):
            raise param_problem("Need TCP, UDP, SCTP or DCCP with port specification")
        cls = Snat if self.name == "SNAT" else Dnat
        return cls(to, "--random" in self.seen, "--persistent" in self.seen)


class MasqueradeExt(TargetExt):
    name = "MASQUERADE"
    options = {"--to-ports": True, "--random": False}

    def finish(self, proto: int, proto_invert: bool) -> Target:
        lo = hi = None
        if "--to-ports" in self.seen:
            if proto not in _PORT_PROTOS or proto_invert:
                raise param_problem("Need TCP, UDP, SCTP or DCCP with port specification")
            lo, hi = _port_pair(self.value("--to-ports"))
        return Masquerade(lo, hi, "--random" in self.seen)


class TraceExt(TargetExt):
    name = "TRACE"
    options = {}

    def finish(self, proto: int, proto_invert: bool) -> Target:
        return Trace()


TARGETS: dict[str, Callable[[], TargetExt]] = {
    "REJECT": RejectExt, "LOG": LogExt, "MARK": MarkTargetExt, "SNAT": lambda: NatExt("SNAT"),
    "DNAT": lambda: NatExt("DNAT"), "MASQUERADE": MasqueradeExt, "TRACE": TraceExt,
}

__all__ = ["MATCHES", "TARGETS", "MatchExt", "TargetExt", "ICMP_TYPES", "parse_uint32"]
