"""The ebtables filter table: bridge frames through INPUT, FORWARD and OUTPUT.

Rules test -p (ethertype), -s/-d (MAC with optional mask), -i/-o (bridge ports, `+` wildcard),
the ip match's --ip-src/--ip-dst (address or prefix) and --ip-proto (with -p IPv4), each
invertible both as `! -s MAC` and `-s ! MAC`; targets ACCEPT, DROP, CONTINUE, RETURN. Options
of other match extensions (arp, ip6, vlan, mark, limit, log…) are refused as not modelled.
Verbs -A/-I/-D/-F/-P/-L with ebtables-nft 1.8.9's wording and listing format; `restore` takes
ebtables-restore text, all or nothing.
"""

from __future__ import annotations

import errno
import ipaddress
import shlex
from dataclasses import dataclass, field

from ctrnet.errors import CtrnetError, InvalidConfig, from_errno
from ctrnet.netfilter.model import Counters, Iface

CHAINS = ("INPUT", "FORWARD", "OUTPUT")
FULL_MAC_MASK = 0xFFFFFFFFFFFF
#: /etc/ethertypes names ebtables prints instead of numbers.
ETHERTYPES = {0x0800: "IPv4", 0x0806: "ARP", 0x8035: "RARP", 0x8100: "802_1Q",
              0x86DD: "IPv6"}
_ETHERTYPE_NUMBERS = {name.upper(): num for num, name in ETHERTYPES.items()}
#: Named MAC/mask pairs ebtables parses and prints.
MAC_NAMES = {"Unicast": (0, 0x010000000000), "Multicast": (0x010000000000, 0x010000000000),
             "Broadcast": (FULL_MAC_MASK, FULL_MAC_MASK), "BGA": (0x0180C2000000, FULL_MAC_MASK)}
TARGETS = ("ACCEPT", "DROP", "CONTINUE", "RETURN")
#: The ip match's options (ebt_ip.c) -> their canonical spelling.
_IP_OPTIONS = {"--ip-src": "--ip-src", "--ip-source": "--ip-src", "--ip-dst": "--ip-dst",
               "--ip-destination": "--ip-dst", "--ip-proto": "--ip-proto",
               "--ip-protocol": "--ip-proto"}
#: Prefixes of the options of extensions the model does not implement.
_UNMODELLED = ("--ip-", "--arp-", "--ip6-", "--vlan-", "--802_3-", "--mark", "--limit",
               "--log", "--nflog", "--among-", "--pkttype-", "--stp-", "--redirect-",
               "--to-", "--snat-", "--dnat-", "--mark-", "--set-")
_IP_PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "igmp": 2, "gre": 47, "sctp": 132}
_IP_PROTO_NAMES = {num: name for name, num in _IP_PROTOS.items()}


class NotModelled(InvalidConfig):
    """An option the real ebtables knows and this model does not implement."""


@dataclass(frozen=True, slots=True)
class IpMatch:
    """The ip match's tests: (network, prefix length) for src/dst, protocol number; each
    with its inversion."""

    src: tuple[int, int] | None = None
    src_invert: bool = False
    dst: tuple[int, int] | None = None
    dst_invert: bool = False
    proto: int | None = None
    proto_invert: bool = False

    def matches(self, f: Frame) -> bool:
        if f.ip_src is None or f.ip_dst is None:
            return False
        if self.src is not None and _in(f.ip_src, self.src) == self.src_invert:
            return False
        if self.dst is not None and _in(f.ip_dst, self.dst) == self.dst_invert:
            return False
        return self.proto is None or (f.ip_proto == self.proto) != self.proto_invert

    def spec(self) -> list[str]:
        words: list[str] = []
        for opt, value, inv in (("--ip-src", self.src, self.src_invert),
                                ("--ip-dst", self.dst, self.dst_invert)):
            if value is not None:
                words += [opt, *(["!"] if inv else []), _net_str(value)]
        if self.proto is not None:
            words += ["--ip-proto", *(["!"] if self.proto_invert else []),
                      _IP_PROTO_NAMES.get(self.proto, str(self.proto))]
        return words


def _in(ip: int, net: tuple[int, int]) -> bool:
    mask = (0xFFFFFFFF << (32 - net[1])) & 0xFFFFFFFF if net[1] else 0
    return ip & mask == net[0]


def _net_str(net: tuple[int, int]) -> str:
    text = ".".join(str(b) for b in net[0].to_bytes(4, "big"))
    return text if net[1] == 32 else f"{text}/{net[1]}"


def _parse_net(text: str, which: str) -> tuple[int, int]:
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidConfig(f"Problem with specified IP {which} '{text}'") from None
    return int(net.network_address), net.prefixlen


def _parse_ip_proto(text: str) -> int:
    if text.lower() in _IP_PROTOS:
        return _IP_PROTOS[text.lower()]
    if text.isdigit() and int(text) < 256:
        return int(text)
    raise InvalidConfig(f"Problem with the specified protocol '{text}'")


@dataclass(frozen=True, slots=True)
class MacMatch:
    addr: int
    mask: int = FULL_MAC_MASK

    def matches(self, mac: int) -> bool:
        return (mac & self.mask) == self.addr


def parse_mac(text: str, which: str) -> MacMatch:
    for name, (addr, mask) in MAC_NAMES.items():
        if text.lower() == name.lower():
            return MacMatch(addr, mask)
    addr_text, slash, mask_text = text.partition("/")
    try:
        addr = _mac_int(addr_text)
        mask = _mac_int(mask_text) if slash else FULL_MAC_MASK
    except ValueError:
        raise InvalidConfig(f"Problem with specified {which} mac '{text}'") from None
    return MacMatch(addr & mask, mask)


def _mac_int(text: str) -> int:
    parts = text.split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(text)
    return int("".join(p.zfill(2) for p in parts), 16)


def mac_str(m: MacMatch) -> str:
    for name, pair in MAC_NAMES.items():
        if (m.addr, m.mask) == pair:
            return name
    text = ":".join(f"{b:02x}" for b in m.addr.to_bytes(6, "big"))
    if m.mask != FULL_MAC_MASK:
        text += "/" + ":".join(f"{b:02x}" for b in m.mask.to_bytes(6, "big"))
    return text


@dataclass(frozen=True, slots=True)
class EbRule:
    proto: int | None = None
    proto_invert: bool = False
    src: MacMatch | None = None
    src_invert: bool = False
    dst: MacMatch | None = None
    dst_invert: bool = False
    in_iface: Iface | None = None
    in_invert: bool = False
    out_iface: Iface | None = None
    out_invert: bool = False
    target: str = "CONTINUE"
    ip: IpMatch | None = None

    def spec(self) -> str:
        """The rule as `ebtables -L` prints it."""
        words: list[str] = []

        def add(opt: str, inv: bool, value: str) -> None:
            words.extend([opt, "!", value] if inv else [opt, value])

        if self.proto is not None:
            add("-p", self.proto_invert, ETHERTYPES.get(self.proto, f"0x{self.proto:04x}"))
        if self.src is not None:
            add("-s", self.src_invert, mac_str(self.src))
        if self.dst is not None:
            add("-d", self.dst_invert, mac_str(self.dst))
        if self.in_iface is not None:
            add("-i", self.in_invert, self.in_iface.name)
        if self.out_iface is not None:
            add("-o", self.out_invert, self.out_iface.name)
        if self.ip is not None:
            words += self.ip.spec()
        return " ".join([*words, "-j", self.target])


@dataclass(frozen=True, slots=True)
class Frame:
    """What an ebtables filter rule looks at in one frame."""

    src: int
    dst: int
    ethertype: int
    in_port: str | None = None
    out_port: str | None = None
    length: int = 0
    #: The IPv4 header's addresses and protocol, for an IPv4 frame.
    ip_src: int | None = None
    ip_dst: int | None = None
    ip_proto: int | None = None


def _parse_proto(text: str) -> int:
    if text.upper() in _ETHERTYPE_NUMBERS:
        return _ETHERTYPE_NUMBERS[text.upper()]
    try:
        value = int(text, 16)
    except ValueError:
        raise InvalidConfig(f"Problem with the specified protocol '{text}'") from None
    if value < 0x0600 or value > 0xFFFF:
        raise InvalidConfig("Sorry, protocols have values above or equal to 0x0600")
    return value


def parse_rule(args: list[str], chain: str) -> EbRule:
    """The rule options of an ebtables command line (after `-A CHAIN`)."""
    seen: dict[str, tuple[str, bool]] = {}
    i = 0
    invert = False
    while i < len(args):
        word = args[i]
        i += 1
        if word == "!":
            invert = True
            continue
        opt = {"--protocol": "-p", "--source": "-s", "--src": "-s", "--destination": "-d",
               "--dst": "-d", "--in-interface": "-i", "--in-if": "-i",
               "--out-interface": "-o", "--out-if": "-o", "--jump": "-j",
               **_IP_OPTIONS}.get(word, word)
        if opt not in ("-p", "-s", "-d", "-i", "-o", "-j", *_IP_OPTIONS.values()):
            if word.startswith(_UNMODELLED) or word in ("--logical-in", "--logical-out"):
                raise NotModelled(f"option {word}")
            raise InvalidConfig(f"Unknown argument: '{word}'")
        if opt in seen:
            raise InvalidConfig("Multiple use of same option not allowed")
        if i < len(args) and args[i] == "!" and opt != "-j":
            invert, i = True, i + 1  # the old `-s ! MAC` spelling
        if i >= len(args):
            raise InvalidConfig(f"Option '{word}' requires an argument")
        seen[opt] = (args[i], invert)
        i += 1
        invert = False
    if "-i" in seen and chain == "OUTPUT":
        raise InvalidConfig("Use -i only in INPUT, FORWARD, PREROUTING and BROUTING chains")
    if "-o" in seen and chain == "INPUT":
        raise InvalidConfig("Use -o only in OUTPUT, FORWARD and POSTROUTING chains")
    target = seen.get("-j", ("CONTINUE", False))[0]
    if target not in TARGETS:
        raise InvalidConfig(f"Chain '{target}' does not exist")

    def get(opt: str) -> tuple[str | None, bool]:
        return seen.get(opt, (None, False))

    p, s, d, i_, o = get("-p"), get("-s"), get("-d"), get("-i"), get("-o")
    ip: IpMatch | None = None
    if any(opt in seen for opt in ("--ip-src", "--ip-dst", "--ip-proto")):
        ipsrc, ipdst, ipproto = get("--ip-src"), get("--ip-dst"), get("--ip-proto")
        ip = IpMatch(_parse_net(ipsrc[0], "source") if ipsrc[0] is not None else None,
                     ipsrc[1],
                     _parse_net(ipdst[0], "destination") if ipdst[0] is not None else None,
                     ipdst[1],
                     _parse_ip_proto(ipproto[0]) if ipproto[0] is not None else None,
                     ipproto[1])
        if p[0] is None or _parse_proto(p[0]) != 0x0800 or p[1]:
            # ebt_ip's checkentry: the match needs `-p IPv4` (the kernel refuses the rule).
            raise from_errno(errno.EINVAL, " RULE_APPEND failed (Invalid argument): rule in "
                                           f"chain {chain}")
    return EbRule(
        _parse_proto(p[0]) if p[0] is not None else None, p[1],
        parse_mac(s[0], "source") if s[0] is not None else None, s[1],
        parse_mac(d[0], "destination") if d[0] is not None else None, d[1],
        Iface(i_[0]) if i_[0] is not None else None, i_[1],
        Iface(o[0]) if o[0] is not None else None, o[1], target, ip)


@dataclass
class EbChain:
    name: str
    policy: str = "ACCEPT"
    rules: list[EbRule] = field(default_factory=list)
    counters: list[Counters] = field(default_factory=list)


class EbtablesFilter:
    """The bridge filter table of one namespace."""

    def __init__(self) -> None:
        self.chains = {name: EbChain(name) for name in CHAINS}

    def _chain(self, name: str) -> EbChain:
        if name not in self.chains:
            raise from_errno(errno.ENOENT, "No chain/target/match by that name")
        return self.chains[name]

    def run(self, argv: list[str] | str) -> str:
        """Run `ebtables ARGV` on the filter table; returns what it prints."""
        args = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if args[:2] in (["-t", "filter"], ["--table", "filter"]):
            args = args[2:]
        if not args:
            raise InvalidConfig("no command specified")
        verb, rest = args[0], args[1:]
        if verb in ("-L", "--list"):
            name = rest[0] if rest and not rest[0].startswith("-") else None
            flags = set(rest[1:] if name else rest)
            unknown = flags - {"--Ln", "--Lc"}
            if unknown:
                raise InvalidConfig(f"Unknown argument: '{sorted(unknown)[0]}'")
            return self.list(name, line_numbers="--Ln" in flags, counters="--Lc" in flags)
        if verb in ("-F", "--flush"):
            for c in [self._chain(rest[0])] if rest else list(self.chains.values()):
                c.rules.clear()
                c.counters.clear()
            return ""
        if not rest:
            raise InvalidConfig(f"Option '{verb}' requires an argument")
        chain = self._chain(rest[0])
        rest = rest[1:]
        if verb in ("-P", "--policy"):
            policy = rest[0] if rest else ""
            if policy == "RETURN":
                raise InvalidConfig("Policy RETURN only allowed for user defined chains")
            if policy not in ("ACCEPT", "DROP"):
                raise InvalidConfig(f"Wrong policy '{policy}'")
            chain.policy = policy
            return ""
        num: int | None = None
        if verb in ("-I", "-D", "--insert", "--delete") and rest and rest[0].lstrip("-").isdigit():
            num = int(rest[0])
            rest = rest[1:]
            if num < 1:
                raise InvalidConfig(f"Invalid rule number `{num}'" if verb in ("-I", "--insert")
                                    else f"Problem with the specified rule number(s) '{num}'")
        if verb in ("-D", "--delete"):
            if num is not None:
                if num > len(chain.rules):
                    raise from_errno(errno.E2BIG, "Index of deletion too big")
                index = num - 1
            else:
                rule = parse_rule(rest, chain.name)
                if rule not in chain.rules:
                    raise from_errno(errno.ENOENT, "Bad rule (does a matching rule exist in "
                                                   "that chain?)")
                index = chain.rules.index(rule)
            del chain.rules[index]
            del chain.counters[index]
            return ""
        rule = parse_rule(rest, chain.name)
        if verb in ("-A", "--append"):
            chain.rules.append(rule)
            chain.counters.append(Counters())
        elif verb in ("-I", "--insert"):
            index = (num or 1) - 1
            if index > len(chain.rules):
                raise from_errno(errno.E2BIG, "Index of insertion too big")
            chain.rules.insert(index, rule)
            chain.counters.insert(index, Counters())
        else:
            raise InvalidConfig(f"Unknown argument: '{verb}'")
        return ""

    def copy(self) -> EbtablesFilter:
        """A twin whose rules, policies and counters change independently of this table."""
        twin = EbtablesFilter()
        twin.chains = {name: EbChain(c.name, c.policy, list(c.rules),
                                     [Counters(n.packets, n.bytes) for n in c.counters])
                       for name, c in self.chains.items()}
        return twin

    def restore(self, text: str, *, noflush: bool = True) -> None:
        """Apply `ebtables-restore` text as ebtables-nft-restore does: every line, or (one bad
        line) none. A `*filter` block without COMMIT is committed at the end of the input, as
        ebtables-nft-restore does; without `noflush` the table starts empty. Errors keep the
        errno `run` gives and name the line ("line 3 ('-A …'): why")."""
        work = self.copy()
        table: str | None = None
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                if line.startswith("*"):
                    table = line[1:].strip()
                    if table != "filter":  # nat and broute: not in the model
                        raise from_errno(errno.EOPNOTSUPP,
                                         f"table '{table}' is not modelled (filter only)")
                    if not noflush:
                        work = EbtablesFilter()
                elif table is None:
                    raise InvalidConfig("no table specified")
                elif line == "COMMIT":
                    table = None
                elif line.startswith(":"):
                    name, _, policy = line[1:].partition(" ")
                    work.run(["-P", name, policy.strip()])
                else:
                    work.run(shlex.split(line))
            except CtrnetError as err:
                why = err.args[0] if err.args else str(err)
                raise from_errno(err.errno, f"line {lineno} ({line!r}): {why}") from err
        self.chains = work.chains

    def list(self, chain: str | None = None, *, line_numbers: bool = False,
             counters: bool = False) -> str:
        chains = [self._chain(chain)] if chain else list(self.chains.values())
        out = ["Bridge table: filter"]
        for c in chains:
            out.append("")
            out.append(f"Bridge chain: {c.name}, entries: {len(c.rules)}, policy: {c.policy}")
            for n, (rule, cnt) in enumerate(zip(c.rules, c.counters, strict=True), start=1):
                line = (f"{n} " if line_numbers else "") + rule.spec()
                if counters:
                    line += f" , pcnt = {cnt.packets} -- bcnt = {cnt.bytes}"
                out.append(line)
        return "\n".join(out) + "\n"

    def evaluate(self, chain: str, frame: Frame, *, count: bool = True) -> tuple[str, int | None]:
        """(verdict ACCEPT/DROP, 1-based number of the deciding rule or None for the policy)."""
        c = self._chain(chain)
        for n, rule in enumerate(c.rules):
            if not _rule_matches(rule, frame):
                continue
            if count:
                c.counters[n].add(frame.length)
            if rule.target in ("ACCEPT", "DROP"):
                return rule.target, n + 1
            if rule.target == "RETURN":
                break  # RETURN in a base chain applies the policy
        return c.policy, None


def _rule_matches(r: EbRule, f: Frame) -> bool:
    if r.proto is not None and (f.ethertype == r.proto) == r.proto_invert:
        return False
    if r.src is not None and r.src.matches(f.src) == r.src_invert:
        return False
    if r.dst is not None and r.dst.matches(f.dst) == r.dst_invert:
        return False
    if r.in_iface is not None and r.in_iface.matches(f.in_port) == r.in_invert:
        return False
    if r.out_iface is not None and r.out_iface.matches(f.out_port) == r.out_invert:
        return False
    return r.ip is None or r.ip.matches(f)
