"""Parsing and printing of the scalar values in iptables rules: addresses, ports, protocols.

Pure functions over ints, with iptables' own error texts. No name service is consulted
(the core does no I/O): host and service names are refused, protocol names come from a
static copy of the netbase protocol table that iptables consults on this machine.
"""

from __future__ import annotations

import ipaddress

from ctrnet.errors import InvalidConfig
from ctrnet.netfilter.model import Network, PortRange

#: Debian netbase /etc/protocols (number -> name), which iptables-save uses to name `-p`.
PROTO_NAMES: dict[int, str] = {
    1: "icmp", 2: "igmp", 3: "ggp", 4: "ipencap", 5: "st", 6: "tcp", 8: "egp", 9: "igp",
    12: "pup", 17: "udp", 20: "hmp", 22: "xns-idp", 27: "rdp", 29: "iso-tp4", 33: "dccp",
    36: "xtp", 37: "ddp", 38: "idpr-cmtp", 41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag",
    45: "idrp", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 57: "skip", 58: "ipv6-icmp",
    59: "ipv6-nonxt", 60: "ipv6-opts", 73: "rspf", 81: "vmtp", 88: "eigrp", 89: "ospf",
    93: "ax.25", 94: "ipip", 97: "etherip", 98: "encap", 103: "pim", 108: "ipcomp",
    112: "vrrp", 115: "l2tp", 124: "isis", 132: "sctp", 133: "fc", 135: "mobility-header",
    136: "udplite", 137: "mpls-in-ip", 138: "manet", 139: "hip", 140: "shim6", 141: "wesp",
    142: "rohc", 143: "ethernet",
}
PROTO_NUMBERS: dict[str, int] = {name: num for num, name in PROTO_NAMES.items()}
PROTO_NUMBERS.update({"all": 0, "icmpv6": 58, "mh": 135})

IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = 1, 6, 17
IPPROTO_DCCP, IPPROTO_SCTP, IPPROTO_UDPLITE = 33, 132, 136


def param_problem(message: str) -> InvalidConfig:
    """What iptables reports as a parameter problem (exit 2): nothing reaches the kernel."""
    return InvalidConfig(message)


def parse_ip(text: str) -> int:
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        raise param_problem(f"host/network `{text}' not found") from None


def ip_str(ip: int) -> str:
    return f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"


def parse_network(text: str) -> Network:
    """`-s`/`-d` argument: addr, addr/len or addr/dotted-mask; a bare address is a /32."""
    addr_text, slash, mask_text = text.partition("/")
    addr = parse_ip(addr_text)
    if not slash:
        mask = 0xFFFFFFFF
    elif mask_text.isdigit():
        plen = int(mask_text)
        if plen > 32:
            raise param_problem(f"invalid mask `{mask_text}' specified")
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    else:
        try:
            mask = int(ipaddress.IPv4Address(mask_text))
        except ValueError:
            raise param_problem(f"invalid mask `{mask_text}' specified") from None
    return Network(addr & mask, mask)


def network_str(net: Network) -> str:
    """As iptables-save prints it: always with a prefix length, dotted if non-contiguous."""
    plen = net.prefixlen
    return f"{ip_str(net.addr)}/{plen if plen is not None else ip_str(net.mask)}"


def network_list_str(net: Network) -> str:
    """As `iptables -L -n` prints it: a /32 host without its length."""
    if net.mask == 0xFFFFFFFF:
        return ip_str(net.addr)
    return network_str(net)


def parse_proto(text: str) -> int:
    if text.isdigit():
        num = int(text)
        if num > 255:
            raise param_problem(f"unknown protocol \"{text}\" specified")
        return num
    try:
        return PROTO_NUMBERS[text.lower()]
    except KeyError:
        raise param_problem(f"unknown protocol \"{text}\" specified") from None


def proto_str(proto: int) -> str:
    return PROTO_NAMES.get(proto, str(proto))


def parse_port(text: str) -> int:
    if text.isdigit() and int(text) <= 65535:
        return int(text)
    # Service names need the services database (I/O): refused rather than guessed.
    raise param_problem(f"invalid port/service `{text}' specified")


def parse_port_range(text: str) -> PortRange:
    """tcp/udp --sport/--dport: `p`, `a:b`, `:b` (from 0) or `a:` (to 65535)."""
    lo_text, colon, hi_text = text.partition(":")
    if not colon:
        port = parse_port(text)
        return PortRange(port, port)
    lo = parse_port(lo_text) if lo_text else 0
    hi = parse_port(hi_text) if hi_text else 65535
    if lo > hi:
        raise param_problem("invalid portrange (min > max)")
    return PortRange(lo, hi)


def port_range_str(ports: PortRange) -> str:
    return str(ports.lo) if ports.lo == ports.hi else f"{ports.lo}:{ports.hi}"


def parse_multiport(text: str) -> tuple[PortRange, ...]:
    """multiport list: at most 15 entries, a range counting two; ranges need min < max."""
    ranges: list[PortRange] = []
    slots = 0
    for item in text.split(","):
        lo_text, colon, hi_text = item.partition(":")
        if colon:
            lo, hi = parse_port(lo_text), parse_port(hi_text)
            if lo >= hi:
                raise param_problem("invalid portrange specified")
            slots += 2
        else:
            lo = hi = parse_port(item)
            slots += 1
        if slots > 15:
            raise param_problem("too many ports specified")
        ranges.append(PortRange(lo, hi))
    return tuple(ranges)


def parse_uint32(text: str, error: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise param_problem(error) from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise param_problem(error)
    return value


def parse_value_mask(text: str, error: str) -> tuple[int, int | None]:
    value_text, slash, mask_text = text.partition("/")
    value = parse_uint32(value_text, error)
    return value, (parse_uint32(mask_text, error) if slash else None)


_NO_QUOTE = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def save_string(value: str) -> str:
    """xtables_save_string(): bare if only [-_0-9A-Za-z], else double-quoted with `"\\'` escaped."""
    if value and all(ch in _NO_QUOTE for ch in value):
        return value
    escaped = "".join("\\" + ch if ch in "\"\\'" else ch for ch in value)
    return f'"{escaped}"'


def split_restore_line(line: str) -> list[str]:
    """Split one iptables-restore line into argv like its add_param_to_argv().

    Outside quotes whitespace separates and a backslash is literal; `"` opens a quote, inside
    which a backslash escapes the next character and the closing `"` ends the word. An unclosed
    quote runs to the end of the line, newline included — as the real tool does.
    """
    words: list[str] = []
    buf: list[str] = []
    started = quoted = escaped = False
    for ch in line:
        if quoted:
            if escaped:
                buf.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
                words.append("".join(buf))
                buf, started = [], False
            else:
                buf.append(ch)
            continue
        if ch == '"':
            quoted = started = True
        elif ch in " \t\n":
            if started:
                words.append("".join(buf))
                buf, started = [], False
        else:
            buf.append(ch)
            started = True
    if started:
        words.append("".join(buf))
    return words
