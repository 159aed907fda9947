"""`ping` (iputils 20221126) on a Backend: -c, -W, -i, -w, -I, -q, -n, -4; its output (the
`PING …` header, one `64 bytes from …` line per reply, the statistics block) and exit status
(0 some reply, 1 none, 2 error such as `connect: Network is unreachable`). The Backend reports
counts and TTLs, not round-trip times, so times print as 0.000 ms.
"""

from __future__ import annotations

import errno
import ipaddress
import math
import os

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported
from ctrnet.cmdline.getopts import parse_short
from ctrnet.errors import CtrnetError, NotModelled
from ctrnet.types import PingError, PingResult

#: iputils' default wait for replies once the last request is out (MAXWAIT).
DEFAULT_WAIT = 10.0
_MAX_COUNT = 9223372036854775807
_UNSUPPORTED = set("aAbBCdDfhLOrRUvV6") | set("eFlmNpQStT")
#: IP header + ICMP header: what ping adds to -s SIZE (the "56(84)" of its first line).
_HEADERS = 28
#: Below this many data bytes there is no room for the timestamp: no times, no rtt line.
_TIMESTAMP = 16


def _invalid(text: str, detail: str = "") -> CommandFailed:
    return CommandFailed(f"ping: invalid argument: '{text}'{detail}\n", 1)


def _seconds(ctx: Context, text: str, default: float) -> float:
    """-i/-W values: iputils warns about garbage and carries on with the default."""
    try:
        value = float(text)
    except ValueError:
        ctx.err(f"ping: option argument contains garbage: {text}\n"
                "ping: this will become fatal error in the future\n")
        return default
    if not math.isfinite(value) or value < 0:
        raise _invalid(text)
    return value


def _parse(argv: list[str]) -> tuple[dict[str, str], set[str], list[str]]:
    return parse_short(argv, tool="ping", with_arg="cWiIwsM", flags="qn4",
                       unsupported="".join(sorted(_UNSUPPORTED)), status=2)


def _format_ms(ms: float) -> str:
    # iputils prints three decimals below 1 ms, two below 10, one below 100, none above.
    if ms < 1:
        return f"{ms:.3f}"
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:.0f}"


def _source(ctx: Context, dst: str, iface: str) -> str:
    """The `from …` part of the header for -I, checked against where the route goes (the
    Backend cannot bind a probe to an interface, so -I must agree with the route)."""
    try:
        ipaddress.IPv4Address(iface)
        is_address = True
    except ValueError:
        is_address = False
    if is_address:
        if iface not in {a.ip for a in ctx.backend.addr_list(ctx.ns)}:
            raise CommandFailed("ping: bind: Cannot assign requested address\n", 2)
    elif iface not in {link.name for link in ctx.backend.link_list(ctx.ns)}:
        raise CommandFailed(f"ping: SO_BINDTODEVICE {iface}: No such device\n", 2)
    try:
        decision = ctx.backend.route_get(ctx.ns, dst)
    except CtrnetError as err:
        raise CommandFailed(f"ping: connect: {os.strerror(err.errno or errno.EIO)}\n", 2) from err
    if is_address:
        if decision.prefsrc != iface:
            raise Unsupported("ping", "-I with a source address the route does not use")
        return f"from {iface} : "
    if decision.dev != iface and decision.type != "local":
        raise Unsupported("ping", "-I with an interface the route does not use")
    return f"from {decision.prefsrc or '0.0.0.0'} {iface}: "


def main(argv: list[str], ctx: Context) -> int:
    values, flags, operands = _parse(argv)
    if not operands:
        raise CommandFailed("ping: usage error: Destination address required\n", 1)
    if len(operands) > 1:
        raise Unsupported("ping", "several destinations (record route)")
    count: int | None = None
    if "c" in values:
        try:
            count = int(values["c"])
        except ValueError:
            raise _invalid(values["c"]) from None
        if not 1 <= count <= _MAX_COUNT:
            raise _invalid(values["c"], f": out of range: 1 <= value <= {_MAX_COUNT}")
    deadline: float | None = None
    if "w" in values:
        try:
            deadline = float(values["w"])
        except ValueError:
            raise _invalid(values["w"]) from None
    interval = _seconds(ctx, values["i"], 1.0) if "i" in values else 1.0
    wait = _seconds(ctx, values["W"], DEFAULT_WAIT) if "W" in values else None
    if count is None:
        raise Unsupported("ping", "pinging without -c (until interrupted)")
    if wait is None:
        wait = DEFAULT_WAIT if deadline is None else max(deadline - (count - 1) * interval, 0.0)
    dst = operands[0]
    try:
        ipaddress.IPv4Address(dst)
    except ValueError:
        if ":" in dst:
            raise Unsupported("ping", "IPv6 destinations") from None
        raise CommandFailed(f"ping: {dst}: Temporary failure in name resolution\n", 2) from None
    source = _source(ctx, dst, values["I"]) if "I" in values else ""
    size = _size(ctx, values.get("s"), values.get("M"))
    try:
        result = ctx.backend.ping(ctx.ns, dst, count=count, timeout=wait, interval=interval,
                                  size=size)
    except NotModelled:
        raise  # the backend met what it does not model: refused loudly by the caller
    except CtrnetError as err:
        raise CommandFailed(f"ping: connect: {os.strerror(err.errno or errno.EIO)}\n", 2) from err
    ctx.out(report(result, source, quiet="q" in flags, interval=interval, size=size))
    failed = result.received == 0 or (deadline is not None and result.received < count)
    return 1 if failed else 0


#: iputils' words for ICMP_DEST_UNREACH codes (ping4_common.c, pr_icmph).
_UNREACH = {
    0: "Destination Net Unreachable", 1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable", 3: "Destination Port Unreachable",
    5: "Source Route Failed", 6: "Destination Net Unknown", 7: "Destination Host Unknown",
    8: "Source Host Isolated", 9: "Destination Net Prohibited",
    10: "Destination Host Prohibited", 11: "Destination Net Unreachable for Type of Service",
    12: "Destination Host Unreachable for Type of Service", 13: "Packet filtered",
    14: "Precedence Violation", 15: "Precedence Cutoff",
}
_ICMP_DEST_UNREACH = 3
_ICMP_TIME_EXCEEDED = 11


def _error_words(error: PingError) -> str:
    if error.type == _ICMP_DEST_UNREACH and error.code in _UNREACH:
        return _UNREACH[error.code]
    if error.type == _ICMP_TIME_EXCEEDED:
        return "Time to live exceeded" if error.code == 0 else "Frag reassembly time exceeded"
    raise Unsupported("ping", f"printing ICMP error type {error.type} code {error.code}")


def _size(ctx: Context, text: str | None, pmtudisc: str | None) -> int:
    """-s SIZE and -M HINT. The simulator neither fragments nor drops a packet for its size:
    a size that does not fit every link's MTU is refused, not answered as if it fitted."""
    if pmtudisc is not None and pmtudisc not in ("do", "dont", "want", "probe"):
        raise CommandFailed(f"ping: invalid -M argument: {pmtudisc}\n", 2)
    if pmtudisc == "probe":
        raise Unsupported("ping", "-M probe")
    if text is None:
        return 56
    if not text.isdigit():
        raise _invalid(text)
    size = int(text)
    smallest = min((link.mtu for ns in [ctx.backend.host_ns, *ctx.backend.netns_list()]
                    for link in ctx.backend.link_list(ns) if link.name != "lo"), default=1500)
    if size + _HEADERS > smallest:
        raise Unsupported("ping", f"-s {size} with a link MTU of {smallest} (fragmentation, "
                                  "path MTU and drops for size are not modelled)")
    return size


def report(result: PingResult, source: str = "", *, quiet: bool = False,
           interval: float = 1.0, size: int = 56) -> str:
    """Everything iputils prints on stdout for a finished run."""
    text = f"PING {result.dst} ({result.dst}) {source}{size}({size + _HEADERS}) bytes of data.\n"
    timing = size >= _TIMESTAMP
    ttls = list(result.ttls[: result.received])
    ttls += [64] * (result.received - len(ttls))
    # Without the answered sequence numbers, replies are numbered in order.
    replied = result.replied if result.replied is not None else range(1, len(ttls) + 1)
    times = " time=0.000 ms" if timing else ""
    lines = [(seq, f"{size + 8} bytes from {result.dst}: icmp_seq={seq} ttl={ttl}{times}\n")
             for seq, ttl in zip(replied, ttls, strict=False)]
    lines += [(error.seq, f"From {error.origin} icmp_seq={error.seq} {_error_words(error)}\n")
              for error in result.errors]
    if not quiet:
        text += "".join(line for _, line in sorted(lines, key=lambda item: item[0]))
    loss = (result.sent - result.received) * 100.0 / result.sent if result.sent else 0.0
    elapsed = round(max(result.sent - 1, 0) * interval * 1000)
    errors = f"+{len(result.errors)} errors, " if result.errors else ""
    text += (
        f"\n--- {result.dst} ping statistics ---\n"
        f"{result.sent} packets transmitted, {result.received} received, {errors}"
        f"{loss:g}% packet loss, time {elapsed}ms\n"
    )
    if result.received and timing:
        zero = _format_ms(0.0)
        text += f"rtt min/avg/max/mdev = {zero}/{zero}/{zero}/{zero} ms\n"
    else:
        text += "\n"
    return text


def run(argv: list[str], ctx: Context) -> int:
    """`ping ARGS…` (argv without the program name); returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
